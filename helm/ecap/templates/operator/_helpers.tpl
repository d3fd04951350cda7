{{/* Operator component: names and labels adding app.kubernetes.io/component=operator. */}}

{{- define "ecap.operator.name" -}}
{{- printf "%s-operator" (include "ecap.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ecap.operator.labels" -}}
{{ include "ecap.labels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "ecap.operator.selectorLabels" -}}
{{ include "ecap.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "ecap.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "ecap.operator.name" .) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ecap.operator.metricsServiceName" -}}
{{- printf "%s-metrics" (include "ecap.operator.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Rules the operator needs in each namespace it watches: its own kinds and their status, and the children
it creates for them (kopf watches the workload children to refresh their owners' status). Exactly operator/ecap_operator/rbac.py (scope "namespace"); a test compares them.
*/}}
{{- define "ecap.operator.namespacedRules" -}}
- apiGroups: ["ecap.io"]
  resources: [kafkatopics, dataproducers, streamingpipelines, deltatables, segmentationruns]
  verbs: [get, list, watch, patch]
- apiGroups: ["ecap.io"]
  resources: [kafkatopics/status, dataproducers/status, streamingpipelines/status, deltatables/status, segmentationruns/status]
  verbs: [patch]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
- apiGroups: [""]
  resources: [configmaps, services]
  verbs: [get, create, patch]
- apiGroups: ["apps"]
  resources: [deployments]
  verbs: [get, create, patch, list, watch]
- apiGroups: ["batch"]
  resources: [jobs]
  verbs: [get, create, list, watch, delete]
- apiGroups: ["batch"]
  resources: [cronjobs]
  verbs: [get, create, patch, delete, list, watch]
- apiGroups: ["sparkoperator.k8s.io"]
  resources: [sparkapplications, scheduledsparkapplications]
  verbs: [get, create, patch, delete, list, watch]
{{- if .peering }}
- apiGroups: ["kopf.dev"]
  resources: [kopfpeerings]
  verbs: [get, list, watch, patch]
{{- end }}
{{- end }}

{{/* Rules where the Strimzi cluster lives: the Strimzi KafkaTopics the operator manages and follows (scope
"strimzi"). */}}
{{- define "ecap.operator.strimziRules" -}}
- apiGroups: ["kafka.strimzi.io"]
  resources: [kafkatopics]
  verbs: [get, create, patch, delete, list, watch]
{{- end }}

{{/* Cluster-scoped rules (scope "cluster"): kopf finds and follows the ecap.io CRDs. */}}
{{- define "ecap.operator.clusterRules" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: [customresourcedefinitions]
  verbs: [list, watch]
{{- if .peering }}
- apiGroups: ["kopf.dev"]
  resources: [clusterkopfpeerings]
  verbs: [get, list, watch, patch]
{{- end }}
{{- end }}

{{/* Whether kopfArgs turn on kopf peering (`--peering NAME`), which needs the peering rules. */}}
{{- define "ecap.operator.peering" -}}
{{- range .Values.operator.kopfArgs }}{{ if hasPrefix "--peering" . }}true{{ end }}{{ end }}
{{- end }}
