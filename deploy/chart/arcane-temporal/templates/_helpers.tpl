{{- define "arcane-temporal.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release-qualified name; the release name alone when it already contains the chart name. */}}
{{- define "arcane-temporal.fullname" -}}
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

{{- define "arcane-temporal.selectorLabels" -}}
app.kubernetes.io/name: {{ include "arcane-temporal.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "arcane-temporal.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "arcane-temporal.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "arcane-temporal.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "arcane-temporal.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Lease the watcher replicas elect a leader on; its Role grants get/update on this name only. */}}
{{- define "arcane-temporal.leaseName" -}}
{{- printf "%s-watcher" (include "arcane-temporal.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Deployments, each with its replicas and the processes its pods run side by side. */}}
{{- define "arcane-temporal.deployments" -}}
{{- if .Values.combined.enabled }}
- { component: combined, replicas: {{ .Values.combined.replicas }}, containers: [watcher, worker] }
{{- else }}
- { component: watcher, replicas: {{ .Values.watcher.replicas }}, containers: [watcher] }
- { component: worker, replicas: {{ .Values.worker.replicas }}, containers: [worker] }
{{- end }}
{{- end }}

{{- define "arcane-temporal.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "arcane-temporal.tlsMountPath" -}}/etc/arcane/temporal-tls{{- end }}

{{/*
The ClusterRoles, in one table. The viewer and editor roles are upstream's, for people: aggregated into the built-in
view and edit roles and bound to nobody. The operator's ServiceAccount is bound to the operator role alone, which holds
exactly the calls the watcher and the worker make (tests/e2e/chart-install.test.ts runs them under it and fails on a
call refused or a permission never used). Plugin charts grant the stream CRDs themselves.
*/}}
{{- define "arcane-temporal.clusterRoles" -}}
job-viewer:
  aggregateTo: view
  rules:
    - apiGroups: [batch]
      resources: [jobs, cronjobs]
      verbs: [get, list, watch]
job-editor:
  aggregateTo: edit
  rules:
    - apiGroups: [batch]
      resources: [jobs, cronjobs]
      verbs: [create, update, patch, delete]
job-template-viewer:
  aggregateTo: view
  rules:
    - apiGroups: [streaming.sneaksanddata.com]
      resources: [streamingjobtemplates]
      verbs: [get, list, watch]
job-template-editor:
  aggregateTo: edit
  rules:
    - apiGroups: [streaming.sneaksanddata.com]
      resources: [streamingjobtemplates]
      verbs: [create, update, patch, delete]
stream-class-viewer:
  aggregateTo: view
  rules:
    - apiGroups: [streaming.sneaksanddata.com]
      resources: [streamclasses]
      verbs: [get, list, watch]
stream-class-editor:
  aggregateTo: edit
  rules:
    - apiGroups: [streaming.sneaksanddata.com]
      resources: [streamclasses]
      verbs: [create, update, patch, delete]
backfill-request-viewer:
  aggregateTo: view
  rules:
    - apiGroups: [streaming.sneaksanddata.com]
      resources: [backfillrequests, backfillrequests/status]
      verbs: [get, list, watch]
backfill-request-editor:
  aggregateTo: edit
  rules:
    - apiGroups: [streaming.sneaksanddata.com]
      resources: [backfillrequests, backfillrequests/status]
      verbs: [create, update, patch, delete]
operator:
  bind: true
  rules:
    - apiGroups: [streaming.sneaksanddata.com]
      resources: [streamclasses, streamingjobtemplates]
      verbs: [get, list, watch]
    - apiGroups: [streaming.sneaksanddata.com]
      resources: [streamclasses/status, backfillrequests/status]
      verbs: [patch]
    - apiGroups: [streaming.sneaksanddata.com]
      resources: [backfillrequests]
      verbs: [get, list, watch, create, patch]
    - apiGroups: [batch]
      resources: [jobs, cronjobs]
      verbs: [get, list, watch, create, patch, delete]
    - apiGroups: [""]
      resources: [events]
      verbs: [get, create, patch]
{{- end }}

{{/* Stops a release whose values would start a broken operator. */}}
{{- define "arcane-temporal.validate" -}}
{{- $watchers := ternary .Values.combined.replicas .Values.watcher.replicas .Values.combined.enabled }}
{{- if and (gt (int $watchers) 1) (not .Values.watcher.leaderElection.enabled) }}
{{- fail "watcher.leaderElection.enabled must be true with more than one watcher replica (replicas would forward every event twice)" }}
{{- end }}
{{- $tls := .Values.temporal.tls }}
{{- if and $tls.secretName (ne (empty $tls.certFile) (empty $tls.keyFile)) }}
{{- fail "temporal.tls.certFile and temporal.tls.keyFile go together (a client certificate needs its key)" }}
{{- end }}
{{- $health := int .Values.settings.probes.port }}
{{- $metrics := int .Values.settings.telemetry.metricsPort }}
{{- $ports := list $health $metrics }}
{{- if .Values.combined.enabled }}
{{- $ports = concat $ports (list (int (add1 $health)) (int (add1 $metrics))) }}
{{- end }}
{{- if ne (len $ports) (len (uniq $ports)) }}
{{- fail (printf "settings.probes.port (%d) and settings.telemetry.metricsPort (%d) collide; combined mode also uses each port + 1" $health $metrics) }}
{{- end }}
{{- end }}

{{/* One process container. Arguments: root, component (watcher|worker), offset (added to both ports in a shared pod). */}}
{{- define "arcane-temporal.container" -}}
{{- $root := .root }}
{{- $values := $root.Values }}
{{- $healthPort := add $values.settings.probes.port .offset }}
{{- $metricsPort := add $values.settings.telemetry.metricsPort .offset }}
{{- $portPrefix := ternary "" (printf "%s-" .component) (eq (int .offset) 0) }}
{{- $tls := $values.temporal.tls -}}
- name: {{ .component }}
  image: {{ include "arcane-temporal.image" $root | quote }}
  imagePullPolicy: {{ $values.image.pullPolicy }}
  args: [{{ .component }}]
  env:
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: POD_NAMESPACE
      valueFrom:
        fieldRef:
          fieldPath: metadata.namespace
    - name: ARCANE_IN_CLUSTER
      value: "true"
    - name: ARCANE_TEMPORAL_ADDRESS
      value: {{ $values.temporal.address | quote }}
    - name: ARCANE_TEMPORAL_NAMESPACE
      value: {{ $values.temporal.namespace | quote }}
    - name: ARCANE_TASK_QUEUE
      value: {{ $values.temporal.taskQueue | quote }}
    {{- with $values.temporal.apiKey.secretName }}
    - name: ARCANE_TEMPORAL_API_KEY
      valueFrom:
        secretKeyRef:
          name: {{ . }}
          key: {{ $values.temporal.apiKey.secretKey }}
    {{- end }}
    {{- with $tls.serverName }}
    - name: ARCANE_TEMPORAL_TLS_SERVER_NAME
      value: {{ . | quote }}
    {{- end }}
    {{- if $tls.secretName }}
    {{- range $variable, $key := dict "ARCANE_TEMPORAL_TLS_CA_FILE" $tls.caFile "ARCANE_TEMPORAL_TLS_CERT_FILE" $tls.certFile "ARCANE_TEMPORAL_TLS_KEY_FILE" $tls.keyFile }}
    {{- if $key }}
    - name: {{ $variable }}
      value: {{ printf "%s/%s" (include "arcane-temporal.tlsMountPath" $root) $key | quote }}
    {{- end }}
    {{- end }}
    {{- end }}
    - name: ARCANE_HEALTH_PORT
      value: {{ $healthPort | quote }}
    - name: ARCANE_METRICS_PORT
      value: {{ $metricsPort | quote }}
    - name: ARCANE_LOG_LEVEL
      value: {{ lower $values.settings.telemetry.logLevel | quote }}
    {{- if eq .component "watcher" }}
    - name: ARCANE_LEADER_ELECTION_ENABLED
      value: {{ $values.watcher.leaderElection.enabled | quote }}
    - name: ARCANE_LEADER_ELECTION_NAME
      value: {{ include "arcane-temporal.leaseName" $root | quote }}
    {{- end }}
    {{- with $values.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    - name: {{ $portPrefix }}health
      containerPort: {{ $healthPort }}
    - name: {{ $portPrefix }}metrics
      containerPort: {{ $metricsPort }}
  # Startup allows for the worker bundling its workflow code; liveness and readiness take over after it.
  startupProbe:
    httpGet:
      path: /startup
      port: {{ $healthPort }}
    periodSeconds: 2
    failureThreshold: 90
  livenessProbe:
    httpGet:
      path: /health
      port: {{ $healthPort }}
    periodSeconds: 10
    timeoutSeconds: 5
    failureThreshold: 3
  readinessProbe:
    httpGet:
      path: /health/ready
      port: {{ $healthPort }}
    periodSeconds: 5
    timeoutSeconds: 5
    failureThreshold: 3
  {{- with (index $values .component).resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $values.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    # The root filesystem is read-only; Node and its libraries may still need a scratch folder.
    - name: tmp
      mountPath: /tmp
    {{- if $tls.secretName }}
    - name: temporal-tls
      mountPath: {{ include "arcane-temporal.tlsMountPath" $root }}
      readOnly: true
    {{- end }}
{{- end }}
