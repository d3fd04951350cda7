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
it creates for them. Keep in step with operator/ecap_operator/rbac.py (a test compares them).
*/}}
{{- define "ecap.operator.namespacedRules" -}}
- apiGroups: ["ecap.io"]
  resources: [kafkatopics, dataproducers, streamingpipelines, deltatables, segmentationruns]
  verbs: [get, list, watch, patch]
- apiGroups: ["ecap.io"]
  resources: [kafkatopics/status, dataproducers/status, streamingpipelines/status, deltatables/status, segmentationruns/status]
  verbs: [get, patch]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
- apiGroups: ["apps"]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: ["batch"]
  resources: [jobs, cronjobs]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: ["sparkoperator.k8s.io"]
  resources: [sparkapplications, scheduledsparkapplications]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}

{{/* Rules in the Strimzi cluster's namespace: the Strimzi KafkaTopics the operator manages. */}}
{{- define "ecap.operator.strimziRules" -}}
- apiGroups: ["kafka.strimzi.io"]
  resources: [kafkatopics]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}

{{/* Cluster-scoped rules: kopf's resource discovery of the ecap.io CRDs. */}}
{{- define "ecap.operator.clusterRules" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: [customresourcedefinitions]
  verbs: [get, list, watch]
{{- end }}
