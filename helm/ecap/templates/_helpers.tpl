{{/*
Chart-wide helpers: names, labels and images. Component helpers live in <component>/_helpers.tpl.
*/}}

{{/* The chart name, overridable. */}}
{{- define "ecap.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; not repeated when the release name already contains the chart name. */}}
{{- define "ecap.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ecap.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object; part-of=ecap is what the PodMonitors and dashboards select on. */}}
{{- define "ecap.labels" -}}
helm.sh/chart: {{ include "ecap.chart" . }}
{{ include "ecap.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ecap
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "ecap.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ecap.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
An image reference from {repository, tag}: the global registry is prepended, the tag defaults to the
chart's appVersion. Call with (dict "image" .Values.images.operator "root" $).
*/}}
{{- define "ecap.image" -}}
{{- $registry := .root.Values.images.registry }}
{{- $tag := default .root.Chart.AppVersion .image.tag }}
{{- if $registry }}
{{- printf "%s/%s:%s" $registry .image.repository $tag }}
{{- else }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{/* The producer image: its own repository when set, else the operator image (producers need no Spark). */}}
{{- define "ecap.producerImage" -}}
{{- if .Values.images.producer.repository }}
{{- include "ecap.image" (dict "image" .Values.images.producer "root" .) }}
{{- else }}
{{- include "ecap.image" (dict "image" .Values.images.operator "root" .) }}
{{- end }}
{{- end }}

{{/*
Namespaces where ECAP workloads run: the watched namespaces, or the release namespace when the operator
watches the whole cluster, plus any extra namespaces listed for Spark. Sorted and without duplicates.
*/}}
{{- define "ecap.workloadNamespaces" -}}
{{- $namespaces := list }}
{{- if .Values.operator.watchNamespaces }}
{{- $namespaces = concat $namespaces .Values.operator.watchNamespaces }}
{{- else }}
{{- $namespaces = append $namespaces .Release.Namespace }}
{{- end }}
{{- $namespaces = concat $namespaces .Values.spark.extraNamespaces }}
{{- toJson ($namespaces | uniq | sortAlpha) }}
{{- end }}

{{/* Labels kube-prometheus-stack selects monitoring objects by, plus the chart's labels. */}}
{{- define "ecap.monitoringLabels" -}}
{{ include "ecap.labels" . }}
{{- with .Values.monitoring.labels }}
{{ toYaml . }}
{{- end }}
{{- end }}
