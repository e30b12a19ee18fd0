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

{{/*
Refuses values that cannot work, before anything is rendered: several supervisor replicas or
task workers on SQLite (one file on one pod's volume cannot be shared), a password inside
store.url (the supervisor refuses it there: URLs are logged), workers settings out of range.
*/}}
{{- define "ps.validate" -}}
{{- $postgres := include "ps.postgres" . -}}
{{- if and (gt (int .Values.replicaCount) 1) (not $postgres) -}}
{{- fail (printf "replicaCount: %v replicas need a PostgreSQL store (set store.url or store.existingSecret): the SQLite store is one file on one pod's volume and cannot be shared" .Values.replicaCount) -}}
{{- end -}}
{{- if and .Values.workers.enabled (not $postgres) -}}
{{- fail "workers.enabled: task workers need a PostgreSQL store (set store.url or store.existingSecret): they claim tries from the store's queue in pods of their own, and a SQLite file on the supervisor's volume cannot be shared" -}}
{{- end -}}
{{- if and .Values.store.url (regexMatch "^[A-Za-z][A-Za-z0-9+.-]*://[^/@]*:[^/@]*@" .Values.store.url) -}}
{{- fail "store.url: holds a password; the supervisor refuses one in the URL (URLs are logged). Give it as store.password (kept in the chart's Secret) or store.existingPasswordSecret" -}}
{{- end -}}
{{- if and .Values.store.password .Values.store.existingPasswordSecret -}}
{{- fail "store.password and store.existingPasswordSecret are both set: choose one" -}}
{{- end -}}
{{- if and (or .Values.store.password .Values.store.existingPasswordSecret) (not $postgres) -}}
{{- fail "store.password / store.existingPasswordSecret are PostgreSQL settings: set store.url or store.existingSecret too" -}}
{{- end -}}
{{- if .Values.workers.enabled -}}
{{- $c := int .Values.workers.concurrency -}}
{{- if or (lt $c 1) (gt $c 1024) -}}
{{- fail (printf "workers.concurrency: %v is not an integer from 1 to 1024" .Values.workers.concurrency) -}}
{{- end -}}
{{- if lt (int .Values.workers.replicas) 0 -}}
{{- fail (printf "workers.replicas: %v is negative" .Values.workers.replicas) -}}
{{- end -}}
{{- $p := int .Values.workers.port -}}
{{- if or (lt $p 1) (gt $p 65535) -}}
{{- fail (printf "workers.port: %v is not a port from 1 to 65535" .Values.workers.port) -}}
{{- end -}}
{{- if not (regexMatch "^[0-9]+(ms|s|m|h)?$" (toString .Values.workers.grace)) -}}
{{- fail (printf "workers.grace: %q is not a duration such as 30s" (toString .Values.workers.grace)) -}}
{{- end -}}
{{- if gt (include "ps.workerGraceSeconds" . | int) 3600 -}}
{{- fail (printf "workers.grace: %q is longer than 1h (what supervisor worker --grace takes)" (toString .Values.workers.grace)) -}}
{{- end -}}
{{- $need := add (include "ps.workerGraceSeconds" . | int) 20 -}}
{{- with .Values.workers.terminationGracePeriodSeconds -}}
{{- if lt (int .) $need -}}
{{- fail (printf "workers.terminationGracePeriodSeconds: %v is shorter than workers.grace plus the tries' kill grace (%v s): Kubernetes would SIGKILL a draining worker" . $need) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* workers.grace in whole seconds (rounded up) */}}
{{- define "ps.workerGraceSeconds" -}}
{{- $g := toString .Values.workers.grace -}}
{{- $n := regexFind "^[0-9]+" $g | int -}}
{{- $unit := trimPrefix (regexFind "^[0-9]+" $g) $g -}}
{{- if eq $unit "ms" -}}{{ div (add $n 999) 1000 }}
{{- else if eq $unit "m" -}}{{ mul $n 60 }}
{{- else if eq $unit "h" -}}{{ mul $n 3600 }}
{{- else -}}{{ $n }}
{{- end -}}
{{- end -}}

{{/* The workers' pod termination grace: workers.terminationGracePeriodSeconds, else the grace, the tries' kill grace and a margin */}}
{{- define "ps.workerTerminationGrace" -}}
{{- .Values.workers.terminationGracePeriodSeconds | default (add (include "ps.workerGraceSeconds" . | int) 30) -}}
{{- end -}}

{{/* The workers' names and labels: their own app.kubernetes.io/name, so the supervisor's Service and selectors never match a worker pod */}}
{{- define "ps.workerName" -}}
{{- printf "%s-worker" (include "ps.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ps.workerSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-worker" (include "ps.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: worker
{{- end -}}

{{- define "ps.workerLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "ps.workerSelectorLabels" . }}
app.kubernetes.io/part-of: {{ include "ps.name" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The store's environment (PostgreSQL): the URL and the password, each from a Secret; the same for the supervisor and the workers */}}
{{- define "ps.storeEnv" -}}
{{- if include "ps.postgres" . -}}
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
{{- if or .Values.store.password .Values.store.existingPasswordSecret }}
# read by the supervisor when the config gives no store.password(_file)
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      {{- if .Values.store.existingPasswordSecret }}
      name: {{ .Values.store.existingPasswordSecret }}
      key: {{ .Values.store.existingPasswordSecretKey }}
      {{- else }}
      name: {{ include "ps.secretName" . }}
      key: store-password
      {{- end }}
{{- end }}
{{- end }}
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
{{- if .Values.workers.enabled -}}
{{- $_ := set $base "executor" (dict "mode" "workers") -}}
{{- end -}}
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
        {{- with include "ps.storeEnv" . }}
        {{- . | nindent 8 }}
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
