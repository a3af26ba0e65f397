{{/* Names, labels and the pieces the runtime, gateway and Control Center pods share. */}}

{{- define "orkestra.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "orkestra.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- include "orkestra.name" . -}}
{{- end -}}
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "component" "runtime"). */}}
{{- define "orkestra.selectorLabels" -}}
app.kubernetes.io/name: {{ include "orkestra.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every object's labels (deletion protection included when deletionProtectionLabel). */}}
{{- define "orkestra.labels" -}}
{{ include "orkestra.selectorLabels" . }}
app.kubernetes.io/part-of: orkestra
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- if .root.Values.deletionProtectionLabel }}
orkestra.io/deletion-protection: "true"
{{- end }}
{{- end -}}

{{- define "orkestra.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The ConfigMap that holds a component's Katalog (default: orkestra-config, which `ork generate bundle` creates): call with (dict "root" $ "values" .Values.runtime "component" "runtime"). */}}
{{- define "orkestra.katalogConfigMap" -}}
{{- if .values.katalog.existingConfigMap -}}
{{- .values.katalog.existingConfigMap -}}
{{- else if .values.katalog.inline -}}
{{- if eq .component "runtime" -}}
{{ include "orkestra.fullname" .root }}-katalog
{{- else -}}
{{ include "orkestra.fullname" .root }}-{{ .component }}-katalog
{{- end -}}
{{- else -}}
orkestra-config
{{- end -}}
{{- end -}}

{{/* The webhook TLS Secret a component mounts, or "" when it generates its own certificate. */}}
{{- define "orkestra.tlsSecret" -}}
{{- if .webhooks.existingSecret -}}
{{- .webhooks.existingSecret -}}
{{- else if .root.Values.certManager.enabled -}}
{{ include "orkestra.fullname" .root }}-webhook-tls
{{- end -}}
{{- end -}}

{{/* Probes of a container whose HTTP port is named "http". */}}
{{- define "orkestra.probes" -}}
startupProbe:
  httpGet: {path: {{ .startup.path }}, port: http}
  periodSeconds: {{ .startup.periodSeconds }}
  failureThreshold: {{ .startup.failureThreshold }}
livenessProbe:
  httpGet: {path: {{ .liveness.path }}, port: http}
  periodSeconds: {{ .liveness.periodSeconds }}
  failureThreshold: {{ .liveness.failureThreshold }}
readinessProbe:
  httpGet: {path: {{ .readiness.path }}, port: http}
  periodSeconds: {{ .readiness.periodSeconds }}
  failureThreshold: {{ .readiness.failureThreshold }}
{{- end -}}

{{/* Pod-level settings shared by every component: call with (dict "root" $ "values" .Values.runtime "component" "runtime"). */}}
{{- define "orkestra.podSettings" -}}
serviceAccountName: {{ .values.serviceAccountName }}
automountServiceAccountToken: true
securityContext:
  {{- toYaml .values.podSecurityContext | nindent 2 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
affinity:
{{- if .values.affinity }}
  {{- toYaml .values.affinity | nindent 2 }}
{{- else }}
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "orkestra.selectorLabels" . | nindent 14 }}
{{- end }}
{{- end -}}

{{/* Annotation that restarts pods when an inline Katalog changes. */}}
{{- define "orkestra.katalogChecksum" -}}
{{- if and (not .existingConfigMap) .inline }}
checksum/katalog: {{ .inline | sha256sum }}
{{- end }}
{{- end -}}

{{- /* "kubernetes" when an enabled runtime or gateway checks bearer tokens (ORK_API_AUTH), else
       "none": the --api-auth the bundle must be generated with, and whether scrapers need a token. */}}
{{- define "orkestra.apiAuth" -}}
{{- $runtime := and .Values.runtime.enabled (eq .Values.runtime.config.apiAuth "kubernetes") }}
{{- $gateway := and .Values.gateway.enabled (eq .Values.gateway.config.apiAuth "kubernetes") }}
{{- ternary "kubernetes" "none" (or $runtime $gateway) }}
{{- end }}
