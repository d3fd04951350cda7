{{/* Spark component: the service account Spark drivers and ECAP jobs run as. */}}

{{- define "ecap.spark.labels" -}}
{{ include "ecap.labels" . }}
app.kubernetes.io/component: spark
{{- end }}

{{- define "ecap.spark.roleName" -}}
{{- printf "%s-spark" (include "ecap.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
