{{/*
What each stage is, from the code (not configurable):
  topics  the topics its handlers consume (contracts/src/topics.ts, through each stage's
          @EventPattern handlers); "*" means every topic of the registry but the delayed
          retry topics (the auditor). A stage's retry topics (orchestration.retry.<stage>.r*)
          get no trigger: their records wait for a due time, and scaling out would not make
          them due sooner.
          test/deploy/helm-chart.test.ts fails when this drifts from the code.
  http    serves an API on httpPort (router, auditor); the others serve /healthz and /metrics
          on metrics.port.
  models  needs the chat and/or embedding models (the router for workflows' classify: steps,
          the validator for verify.model).
  secrets the Secret keys (secret.keys.*) it reads; "optional" ones may be absent.
*/}}
{{- define "llmbus.stageSpecs" -}}
router:
  topics: [orchestration.request.v1]
  http: true
  models: true
  secrets: [apiKeys, openaiApiKey, piiKey]
retriever:
  topics: [orchestration.routed.v1, documents.ingest.v1]
  http: false
  models: true
  secrets: [apiKeys, openaiApiKey, qdrantApiKey, redisUrl]
generator:
  topics: [orchestration.retrieved.v1, orchestration.regenerate.v1, orchestration.tool-calls.v1, orchestration.review-decision.v1]
  http: false
  models: true
  secrets: [apiKeys, openaiApiKey, piiKey, redisUrl]
validator:
  topics: [orchestration.generated.v1, orchestration.review-decision.v1]
  http: false
  models: true
  secrets: [apiKeys, openaiApiKey, piiKey]
auditor:
  topics: ["*"]
  http: true
  models: false
  secrets: [apiKeys, databaseUrl, piiKey]
{{- end -}}

{{/* The stages, in pipeline order. */}}
{{- define "llmbus.stages" -}}
[router, retriever, generator, validator, auditor]
{{- end -}}

{{/* Environment variable of each secret.keys entry. */}}
{{- define "llmbus.secretVariables" -}}
apiKeys: API_KEYS
databaseUrl: DATABASE_URL
openaiApiKey: OPENAI_API_KEY
qdrantApiKey: QDRANT_API_KEY
piiKey: LLMBUS_PII_KEY
redisUrl: REDIS_URL
{{- end -}}

{{/* Chart name, at most 63 characters. */}}
{{- define "llmbus.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* "<release>-<name>", or fullnameOverride; room is left for a "-<stage>" suffix. */}}
{{- define "llmbus.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "llmbus.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "llmbus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: llmbus
{{- end }}

{{/* Selector labels of one stage; call with (dict "root" $ "stage" "router"). */}}
{{- define "llmbus.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llmbus.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .stage }}
{{- end }}

{{/* All labels of one stage's objects; call with (dict "root" $ "stage" "router"). */}}
{{- define "llmbus.stageLabels" -}}
{{ include "llmbus.labels" .root }}
app.kubernetes.io/component: {{ .stage }}
{{- end }}

{{/* The image of one stage; call with (dict "root" $ "stage" "router"). */}}
{{- define "llmbus.image" -}}
{{- $values := index .root.Values .stage }}
{{- $image := .root.Values.image }}
{{- $repository := $values.image.repository | default (printf "%s-%s" $image.repository .stage) }}
{{- $tag := $values.image.tag | default $image.tag | default .root.Chart.AppVersion }}
{{- if $image.registry }}
{{- printf "%s/%s:%s" (trimSuffix "/" $image.registry) $repository $tag }}
{{- else }}
{{- printf "%s:%s" $repository $tag }}
{{- end }}
{{- end }}

{{/* ServiceAccount name. */}}
{{- define "llmbus.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "llmbus.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The consumer group of one stage, as the bus names it: <prefix>llmbus.<stage>. */}}
{{- define "llmbus.consumerGroup" -}}
{{- printf "%sllmbus.%s" .root.Values.kafka.topicPrefix .stage }}
{{- end }}

{{/* The port serving /healthz and /metrics: "http" for router and auditor, else "metrics". */}}
{{- define "llmbus.opsPortName" -}}
{{- if .spec.http }}http{{ else }}metrics{{ end }}
{{- end }}

{{/* Port number of the ops port; call with (dict "root" $ "stage" s "spec" spec). */}}
{{- define "llmbus.opsPort" -}}
{{- if .spec.http }}{{ (index .root.Values .stage).httpPort }}{{ else }}{{ .root.Values.metrics.port }}{{ end }}
{{- end }}

{{/*
The plain environment of one stage (its ConfigMap): shared settings, then the stage's own, then
.Values.env and <stage>.env. Fails on a secret variable given as a plain value.
*/}}
{{- define "llmbus.stageEnv" -}}
{{- $root := .root }}
{{- $values := index $root.Values .stage }}
{{- $env := dict
  "LLMBUS_MODE" "distributed"
  "KAFKA_BROKERS" $root.Values.kafka.brokers
  "KAFKA_SESSION_TIMEOUT_MS" (toString $root.Values.kafka.sessionTimeoutMs)
  "LLMBUS_TOPIC_PREFIX" $root.Values.kafka.topicPrefix
  "HTTP_HOST" "0.0.0.0"
}}
{{- /* In-flight work gets what is left of the pod's grace period after the preStop sleep, less 10 s
  for aborting it and closing (the process exits 5 s after the abort at the latest). */}}
{{- $shutdownGraceSeconds := max 1 (sub (sub $values.terminationGracePeriodSeconds ($values.preStopSleepSeconds | default 0)) 10) }}
{{- $_ := set $env "LLMBUS_SHUTDOWN_GRACE_MS" (toString (mul $shutdownGraceSeconds 1000)) }}
{{- if .spec.http }}
{{- $_ := set $env "HTTP_PORT" (toString $values.httpPort) }}
{{- else }}
{{- $_ := set $env "METRICS_PORT" (toString $root.Values.metrics.port) }}
{{- end }}
{{- if .spec.models }}
{{- $_ := set $env "LLMBUS_MODEL_PROVIDER" $root.Values.models.provider }}
{{- if eq $root.Values.models.provider "local" }}
{{- $_ := set $env "LLMBUS_MODELS_DIR" "/models" }}
{{- else if $root.Values.models.openaiBaseUrl }}
{{- $_ := set $env "OPENAI_BASE_URL" $root.Values.models.openaiBaseUrl }}
{{- end }}
{{- end }}
{{- if eq .stage "retriever" }}
{{- $_ := set $env "QDRANT_URL" (required "qdrant.url is required: the retriever's embedded vector store lives in one pod's memory, so replicas cannot share it" $root.Values.qdrant.url) }}
{{- end }}
{{- $secretVariables := include "llmbus.secretVariables" . | fromYaml | values }}
{{- range $source := list $root.Values.env $values.env }}
{{- range $name, $value := $source }}
{{- if has $name $secretVariables }}
{{- fail (printf "%s is a secret: put it in the Secret named by secret.name, not in env" $name) }}
{{- end }}
{{- $_ := set $env $name (toString $value) }}
{{- end }}
{{- end }}
{{- toYaml $env }}
{{- end }}
