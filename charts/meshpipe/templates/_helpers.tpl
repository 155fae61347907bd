{{/* Labels of every object. */}}
{{- define "meshpipe.labels" -}}
app.kubernetes.io/part-of: meshpipe
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "meshpipe.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end }}

{{/* meshpipe.json: the chart's settings, with `config` merged over them. */}}
{{- define "meshpipe.config" -}}
{{- $kafka := dict "topicPrefix" .Values.kafka.topicPrefix "replicationFactor" .Values.kafka.replicationFactor "partitions" .Values.kafka.partitions -}}
{{- if .Values.kafka.tls.enabled -}}
{{- $tls := dict "ca" "/etc/meshpipe/kafka-tls/ca.crt" -}}
{{- if .Values.kafka.tls.clientCertificate -}}
{{- $_ := set $tls "cert" "/etc/meshpipe/kafka-tls/tls.crt" -}}
{{- $_ := set $tls "key" "/etc/meshpipe/kafka-tls/tls.key" -}}
{{- end -}}
{{- $_ := set $kafka "ssl" true -}}
{{- $_ := set $kafka "tls" $tls -}}
{{- end -}}
{{- $collector := dict "metricsHost" "0.0.0.0" "metricsPort" .Values.collector.metricsPort "kubernetes" (dict "enabled" .Values.collector.kubernetes.enabled "peerPods" .Values.collector.kubernetes.peerPods) "conntrack" (dict "enabled" .Values.collector.conntrack) -}}
{{- $sinks := dict "prometheus" (dict "listen" (printf "0.0.0.0:%v" .Values.sinks.prometheus.port)) -}}
{{- if .Values.sinks.otlp.endpoint -}}
{{- $_ := set $sinks "otlp" (dict "endpoint" .Values.sinks.otlp.endpoint) -}}
{{- end -}}
{{- $base := dict "kafka" $kafka "redis" (dict "url" .Values.redis.url) "collector" $collector "sinks" $sinks -}}
{{- mustMergeOverwrite $base (deepCopy .Values.config) | toPrettyJson -}}
{{- end }}

{{/* Environment shared by every component: the config file and the SASL mechanism. */}}
{{- define "meshpipe.envItems" -}}
- name: MESHPIPE_CONFIG
  value: /etc/meshpipe/meshpipe.json
{{- if ne .Values.kafka.sasl.mechanism "none" }}
- name: MESHPIPE_KAFKA_SASL_MECHANISM
  value: {{ .Values.kafka.sasl.mechanism | quote }}
{{- end }}
{{- end }}

{{/*
The static member id of a processor's or sink's consumer group (docs/processor-runtime.md): the pod's
name, stable across its container's restarts. From the downward API, since the read-only root
filesystem leaves no /tmp for the slot file the id is otherwise derived from.
*/}}
{{- define "meshpipe.instanceId" -}}
- name: MESHPIPE_INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end }}

{{/* The brokers (one place) and the SASL credentials. */}}
{{- define "meshpipe.envFrom" -}}
- configMapRef:
    name: meshpipe-kafka
{{- if ne .Values.kafka.sasl.mechanism "none" }}
- secretRef:
    name: {{ .Values.kafka.sasl.secretName }}
{{- end }}
{{- end }}

{{- define "meshpipe.volumeMounts" -}}
- name: config
  mountPath: /etc/meshpipe/meshpipe.json
  subPath: meshpipe.json
  readOnly: true
{{- if .Values.kafka.tls.enabled }}
- name: kafka-tls
  mountPath: /etc/meshpipe/kafka-tls
  readOnly: true
{{- end }}
{{- end }}

{{- define "meshpipe.volumes" -}}
- name: config
  configMap:
    name: meshpipe-config
{{- if .Values.kafka.tls.enabled }}
- name: kafka-tls
  secret:
    secretName: {{ .Values.kafka.tls.secretName }}
{{- end }}
{{- end }}

{{/* Unprivileged container security for everything but the collector. */}}
{{- define "meshpipe.restricted" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 1000
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}
