{{/*
Helpers shared by the templates. Keep to the functions the test renderer
(crates/chart) implements: see its documentation.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "regionstack.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's objects: fullnameOverride, else <release>-<chart>
(or the release name alone when it already contains the chart name), 63 characters
at most because some names end up in DNS labels.
*/}}
{{- define "regionstack.fullname" -}}
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

{{/* chart label: name-version. */}}
{{- define "regionstack.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The labels a Deployment selects its Pods by (never change them: selectors are immutable). */}}
{{- define "regionstack.selectorLabels" -}}
app.kubernetes.io/name: {{ include "regionstack.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "regionstack.labels" -}}
helm.sh/chart: {{ include "regionstack.chart" . }}
{{ include "regionstack.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: regionstack
app.kubernetes.io/managed-by: {{ .Release.Service }}
regionstack.io/region: {{ .Values.region | quote }}
{{- end }}

{{/* The ServiceAccount the operator runs as. */}}
{{- define "regionstack.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "regionstack.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The region, or a rendering error saying how to set it (values.schema.json already
requires it; this catches --skip-schema-validation).
*/}}
{{- define "regionstack.region" -}}
{{- required "region is required: the region this operator acts for, e.g. --set region=eu-west-1" .Values.region }}
{{- end }}

{{/* The leader-election Lease's name, as `regionstack run` derives it. */}}
{{- define "regionstack.leaseName" -}}
{{- printf "regionstack-%s" (include "regionstack.region" .) }}
{{- end }}

{{/* The image reference: repository:tag, the tag defaulting to appVersion. */}}
{{- define "regionstack.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
