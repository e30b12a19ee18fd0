{{/* Chart name and fullname (63 chars, DNS-1123) */}}
{{- define "ps.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ps.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "ps.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ps.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ps.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "ps.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* PostgreSQL store (a URL given or kept in an existing Secret) → Deployment; else SQLite → StatefulSet */}}
{{- define "ps.postgres" -}}
{{- if or .Values.store.url .Values.store.existingSecret -}}true{{- end -}}
{{- end -}}

{{/* The Secret holding the chart-made secrets (store URL, `secrets`) */}}
{{- define "ps.secretName" -}}
{{- printf "%s-secrets" (include "ps.fullname" .) -}}
{{- end -}}

{{- define "ps.filesSecretName" -}}
{{- if .Values.existingSecret -}}{{ .Values.existingSecret }}{{- else -}}{{ include "ps.secretName" . }}{{- end -}}
{{- end -}}

{{- define "ps.hasFilesSecret" -}}
{{- if or .Values.existingSecret .Values.secrets -}}true{{- end -}}
{{- end -}}

{{/* The rendered supervisor.yaml: the chart's server/store settings under the user's config */}}
{{- define "ps.config" -}}
{{- $base := dict "server" (dict "host" "0.0.0.0" "port" (int .Values.service.port)) -}}
{{- if include "ps.postgres" . -}}
{{- $_ := set $base "store" (dict "url" "${SUPERVISOR_STORE_URL}") -}}
{{- else -}}
{{- $_ := set $base "store" (dict "path" "/var/lib/supervisor/supervisor.db") -}}
{{- end -}}
{{- toYaml (mustMergeOverwrite $base (deepCopy .Values.config)) -}}
{{- end -}}

{{/* The pod template shared by the StatefulSet and the Deployment */}}
{{- define "ps.podTemplate" -}}
metadata:
  labels:
    {{- include "ps.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "ps.config" . | sha256sum }}
    {{- if and .Values.secrets (not .Values.existingSecret) }}
    checksum/secrets: {{ toJson .Values.secrets | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  automountServiceAccountToken: false
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  containers:
    - name: supervisor
      image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args: ["start"]
      ports:
        - name: http
          containerPort: {{ .Values.service.port }}
          protocol: TCP
      env:
        - name: SUPERVISOR_CONFIG
          value: /etc/supervisor/supervisor.yaml
        - name: SUPERVISOR_HOST
          value: 0.0.0.0
        - name: SUPERVISOR_PORT
          value: {{ .Values.service.port | quote }}
        {{- if include "ps.postgres" . }}
        - name: SUPERVISOR_STORE_URL
          valueFrom:
            secretKeyRef:
              {{- if .Values.store.existingSecret }}
              name: {{ .Values.store.existingSecret }}
              key: {{ .Values.store.existingSecretKey }}
              {{- else }}
              name: {{ include "ps.secretName" . }}
              key: store-url
              {{- end }}
        {{- end }}
        {{- with .Values.env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .Values.envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      livenessProbe:
        {{- toYaml .Values.livenessProbe | nindent 8 }}
      readinessProbe:
        {{- toYaml .Values.readinessProbe | nindent 8 }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/supervisor/supervisor.yaml
          subPath: supervisor.yaml
          readOnly: true
        {{- if include "ps.hasFilesSecret" . }}
        - name: secrets
          mountPath: /etc/supervisor/secrets
          readOnly: true
        {{- end }}
        - name: data
          mountPath: /var/lib/supervisor
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: config
      configMap:
        name: {{ include "ps.fullname" . }}
    {{- if include "ps.hasFilesSecret" . }}
    - name: secrets
      secret:
        secretName: {{ include "ps.filesSecretName" . }}
        defaultMode: 0440
    {{- end }}
    - name: tmp
      emptyDir:
        sizeLimit: 256Mi
    {{- if include "ps.postgres" . }}
    # PostgreSQL holds the state; this only keeps the task status files of one pod's life
    - name: data
      emptyDir:
        sizeLimit: 256Mi
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
