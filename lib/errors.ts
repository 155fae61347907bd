/**
 * The one registry of meshpipe errors.
 *
 * Every error a user can meet has a stable code (`MESHPIPE_ERR_<AREA>_<WHAT>`), a message template and,
 * where there is one, the fix. Codes never change meaning once released; docs/errors.md documents each
 * one and test/lib/errors.test.ts checks that it does. Tests assert codes, not messages.
 *
 * On hot paths (per event, per record) errors are counted in metrics and returned as values; these
 * classes are for the edges: configuration, start-up, CLI, and records sent to the dead-letter topic.
 */

export interface ErrorSpec {
  /** Stable code, e.g. MESHPIPE_ERR_CONFIG_UNKNOWN_KEY. */
  readonly code: string;
  /** Message template: `%s` placeholders are replaced by the arguments in order. */
  readonly message: string;
  /** What the user can do about it, when there is something. */
  readonly hint?: string;
  /** Process exit code when the error ends a CLI command. */
  readonly exitCode: number;
}

/** Exit codes, following sysexits(3) where one fits. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 64,
  dataError: 65,
  unavailable: 69,
  software: 70,
  cannotCreate: 73,
  permission: 77,
  config: 78,
} as const;

function spec(code: string, message: string, exitCode: number, hint?: string): ErrorSpec {
  return hint === undefined ? { code, message, exitCode } : { code, message, exitCode, hint };
}

export const ERRORS = {
  // Configuration
  CONFIG_UNKNOWN_KEY: spec(
    'MESHPIPE_ERR_CONFIG_UNKNOWN_KEY',
    'unknown configuration key "%s"%s',
    EXIT.config,
    'remove the key or fix its spelling; `meshpipe config` lists every key (docs/configuration.md)',
  ),
  CONFIG_SECTION_MISSPELLED: spec(
    'MESHPIPE_ERR_CONFIG_SECTION_MISSPELLED',
    'configuration section "%s" is no built-in %s, but one typo away from one: did you mean "%s"?',
    EXIT.config,
    "fix the spelling; a section of your own sink or processor must not be a typo away from a built-in's name (one letter off, two neighbours swapped), so give yours a name further from every built-in's (docs/configuration.md)",
  ),
  CONFIG_INVALID_VALUE: spec('MESHPIPE_ERR_CONFIG_INVALID_VALUE', 'invalid value for "%s": %s', EXIT.config),
  CONFIG_FILE_UNREADABLE: spec(
    'MESHPIPE_ERR_CONFIG_FILE_UNREADABLE',
    'cannot read configuration file %s: %s',
    EXIT.config,
  ),
  CONFIG_FILE_INVALID_JSON: spec(
    'MESHPIPE_ERR_CONFIG_FILE_INVALID_JSON',
    'configuration file %s is not valid JSON: %s',
    EXIT.config,
    'the file must hold one JSON object; see docs/configuration.md',
  ),

  // CLI usage
  CLI_UNKNOWN_COMMAND: spec(
    'MESHPIPE_ERR_CLI_UNKNOWN_COMMAND',
    'unknown command "%s"',
    EXIT.usage,
    '`meshpipe --help` lists the commands',
  ),
  CLI_BAD_ARGUMENTS: spec('MESHPIPE_ERR_CLI_BAD_ARGUMENTS', '%s', EXIT.usage),

  // Set-up and the local stack
  SETUP_JAVA_MISSING: spec(
    'MESHPIPE_ERR_SETUP_JAVA_MISSING',
    'Java was not found (%s); the local Kafka broker needs Java 17 or newer',
    EXIT.unavailable,
    'run scripts/setup (installs openjdk-17-jre-headless), or point meshpipe at a Kafka cluster with --brokers',
  ),
  SETUP_KAFKA_JARS_MISSING: spec(
    'MESHPIPE_ERR_SETUP_KAFKA_JARS_MISSING',
    'the Kafka %s broker jars are not installed under %s',
    EXIT.unavailable,
    'run scripts/setup in a meshpipe checkout (downloads them from Maven Central), or point meshpipe at a Kafka cluster with --brokers / MESHPIPE_KAFKA_BROKERS (the npm package brings no broker of its own)',
  ),
  SETUP_REDIS_MISSING: spec(
    'MESHPIPE_ERR_SETUP_REDIS_MISSING',
    'redis-server was not found',
    EXIT.unavailable,
    'run scripts/setup (installs Debian redis-server), or set MESHPIPE_REDIS_URL',
  ),
  SETUP_KUBE_APISERVER_MISSING: spec(
    'MESHPIPE_ERR_SETUP_KUBE_APISERVER_MISSING',
    'kube-apiserver and etcd are not built (looked in %s)',
    EXIT.unavailable,
    'run scripts/setup (it builds them from Go modules with scripts/build-kubernetes-tools; needs Go)',
  ),
  SETUP_SCHEMA_REGISTRY_MISSING: spec(
    'MESHPIPE_ERR_SETUP_SCHEMA_REGISTRY_MISSING',
    'the local Schema Registry (Apicurio Registry %s) is not built: %s is missing',
    EXIT.unavailable,
    'run scripts/setup (builds it from Maven Central), or point kafka.schemaRegistry.url at your own registry',
  ),
  SETUP_KAFKA_CLIENT_MISSING: spec(
    'MESHPIPE_ERR_SETUP_KAFKA_CLIENT_MISSING',
    'the Kafka client (@confluentinc/kafka-javascript, librdkafka) is not usable: %s',
    EXIT.unavailable,
    'run scripts/setup: it builds the client from its bundled librdkafka sources (a few minutes once; needs the Debian packages it installs, libzstd-dev among them)',
  ),
  STACK_START_FAILED: spec(
    'MESHPIPE_ERR_STACK_START_FAILED',
    '%s did not start: %s',
    EXIT.unavailable,
    'see the log file named above; `meshpipe doctor` checks the set-up',
  ),

  // Kafka
  KAFKA_UNREACHABLE: spec(
    'MESHPIPE_ERR_KAFKA_UNREACHABLE',
    'cannot reach Kafka at %s: %s',
    EXIT.unavailable,
    'check kafka.brokers / MESHPIPE_KAFKA_BROKERS, or unset it to use the local broker',
  ),
  KAFKA_GROUP_INSTANCE_FENCED: spec(
    'MESHPIPE_ERR_KAFKA_GROUP_INSTANCE_FENCED',
    "another consumer joined group %s with this instance's id %s, so this one was fenced out of the group (twice within two minutes, with no broker lost in between: it had joined again once)",
    EXIT.unavailable,
    'two processes used one static member id: give each its own (MESHPIPE_INSTANCE_ID, or one host per instance) — docs/processor-runtime.md "Scaling, rebalances and isolation", docs/sinks.md "Instances and restarts"',
  ),
  KAFKA_TOPIC_MISSING: spec(
    'MESHPIPE_ERR_KAFKA_TOPIC_MISSING',
    'topic %s does not exist',
    EXIT.unavailable,
    'run `meshpipe topics` to create the meshpipe topics',
  ),
  KAFKA_LAG_PAST_RETENTION: spec(
    'MESHPIPE_ERR_KAFKA_LAG_PAST_RETENTION',
    '%s lost %s records of %s: it fell behind by more than the topic keeps (retention.ms), and they were deleted before it read them',
    EXIT.failure,
    "counted in the reader's records.lost metric; raise the topic's retention.ms or give the reader more instances (partitions)",
  ),
  KAFKA_TOPIC_MISMATCH: spec(
    'MESHPIPE_ERR_KAFKA_TOPIC_MISMATCH',
    'topic %s differs from its definition: %s',
    EXIT.config,
    'raise partitions with `meshpipe topics --fix`, or recreate the topic',
  ),

  // Schemas and records
  SCHEMA_UNKNOWN_ID: spec(
    'MESHPIPE_ERR_SCHEMA_UNKNOWN_ID',
    'no schema with id %s is known',
    EXIT.dataError,
    'the record was written with a schema this build does not have: upgrade meshpipe',
  ),
  SCHEMA_NOT_WIRE_FORMAT: spec(
    'MESHPIPE_ERR_SCHEMA_NOT_WIRE_FORMAT',
    'not a Confluent wire-format record: %s',
    EXIT.dataError,
  ),
  SCHEMA_DECODE_FAILED: spec(
    'MESHPIPE_ERR_SCHEMA_DECODE_FAILED',
    'record does not decode with schema %s: %s',
    EXIT.dataError,
  ),
  SCHEMA_ENCODE_FAILED: spec(
    'MESHPIPE_ERR_SCHEMA_ENCODE_FAILED',
    'value does not match schema %s: %s',
    EXIT.software,
  ),
  SCHEMA_INCOMPATIBLE: spec(
    'MESHPIPE_ERR_SCHEMA_INCOMPATIBLE',
    'schema %s cannot read records written with schema %s: %s',
    EXIT.dataError,
  ),

  // The Schema Registry (kafka.schemaRegistry, schemas/schema-registry-*.ts)
  SCHEMA_REGISTRY_UNAVAILABLE: spec(
    'MESHPIPE_ERR_SCHEMA_REGISTRY_UNAVAILABLE',
    'the Schema Registry at %s cannot be reached: %s',
    EXIT.unavailable,
    'check kafka.schemaRegistry.url (the Confluent-compatible API, e.g. http://host:8081 or http://apicurio:8080/apis/ccompat/v7) and its TLS settings; records are not dead-lettered meanwhile, they wait in Kafka',
  ),
  SCHEMA_REGISTRY_REFUSED: spec(
    'MESHPIPE_ERR_SCHEMA_REGISTRY_REFUSED',
    'the Schema Registry at %s refused %s: HTTP %s %s',
    EXIT.config,
    'check that kafka.schemaRegistry.url is the Confluent-compatible API of the registry',
  ),
  SCHEMA_REGISTRY_INCOMPATIBLE: spec(
    'MESHPIPE_ERR_SCHEMA_REGISTRY_INCOMPATIBLE',
    'the Schema Registry refused %s as incompatible: %s',
    EXIT.config,
    "the subject holds a schema that this build's cannot evolve from under its compatibility level (BACKWARD): an incompatible change needs a new topic version (.v2); or another application writes a different schema to the same topic",
  ),
  SCHEMA_REGISTRY_NOT_REGISTERED: spec(
    'MESHPIPE_ERR_SCHEMA_REGISTRY_NOT_REGISTERED',
    'schema %s is not registered under subject %s, and kafka.schemaRegistry.autoRegister is off',
    EXIT.config,
    "register the schemas once with `meshpipe topics` run by a registry user allowed to (it registers every topic's schema), or turn kafka.schemaRegistry.autoRegister on",
  ),

  // The demo topology (demo/)
  DEMO_NOT_ROOT: spec(
    'MESHPIPE_ERR_DEMO_NOT_ROOT',
    'the demo creates network namespaces and needs root (this process runs as uid %s)',
    EXIT.permission,
    'run it as root: sudo ./meshpipe demo',
  ),
  DEMO_NETNS_FAILED: spec(
    'MESHPIPE_ERR_DEMO_NETNS_FAILED',
    '`ip %s` failed: %s',
    EXIT.cannotCreate,
    'the demo needs iproute2 (`apt-get install iproute2`) and network namespaces; if a name already exists, another tool uses it: pick another --prefix',
  ),
  DEMO_IN_USE: spec(
    'MESHPIPE_ERR_DEMO_IN_USE',
    'a demo with prefix "%s" is already running (pid %s)',
    EXIT.unavailable,
    'stop it (Ctrl-C where it runs), or run another one with a different --prefix',
  ),
  DEMO_SUBNET_IN_USE: spec(
    'MESHPIPE_ERR_DEMO_SUBNET_IN_USE',
    'subnet %s is in use: %s',
    EXIT.unavailable,
    'pass a free /24 with --subnet, or leave --subnet out and the demo picks a free 10.240.N.0/24',
  ),
  DEMO_PROCESS_FAILED: spec(
    'MESHPIPE_ERR_DEMO_PROCESS_FAILED',
    'demo process %s failed: %s',
    EXIT.software,
    'its last stderr lines are in the message; MESHPIPE_LOG_LEVEL=debug shows more',
  ),
  DEMO_NOT_RUNNING: spec(
    'MESHPIPE_ERR_DEMO_NOT_RUNNING',
    'no demo with prefix "%s" is running',
    EXIT.unavailable,
    'start one with `meshpipe demo`, or name the running one with --prefix',
  ),
  DEMO_BAD_FAULT: spec(
    'MESHPIPE_ERR_DEMO_BAD_FAULT',
    'invalid fault "%s": %s',
    EXIT.usage,
    'use [<service>:]latency=<ms>[~<jitter ms>] or errors=<ratio 0..1>, e.g. orders:latency=200 or gateway:errors=0.1',
  ),
  DEMO_BAD_OPTION: spec('MESHPIPE_ERR_DEMO_BAD_OPTION', 'invalid demo option %s: %s', EXIT.usage),

  // Sinks (sinks/runtime: the host every sink runs in)
  SINK_RECORD_FAILED: spec(
    'MESHPIPE_ERR_SINK_RECORD_FAILED',
    'sink %s could not prepare a record for export: %s',
    EXIT.software,
    'the record is in the dead-letter topic; this is a bug in the sink, please report it',
  ),
  SINK_EXPORT_FAILED: spec(
    'MESHPIPE_ERR_SINK_EXPORT_FAILED',
    'sink %s: the receiver rejected the batch: %s',
    EXIT.dataError,
    'the records are in the dead-letter topic with this message; fix the receiver or the data and replay them',
  ),
  SINK_RETRIES_EXHAUSTED: spec(
    'MESHPIPE_ERR_SINK_RETRIES_EXHAUSTED',
    'gave up after %s attempts over %ss: %s',
    EXIT.unavailable,
    'the batch was dead-lettered because retry.maxElapsedMs ran out; 0 retries until the receiver answers',
  ),
  SINK_DEAD_LETTER_FAILED: spec(
    'MESHPIPE_ERR_SINK_DEAD_LETTER_FAILED',
    'could not write dead letters to %s: %s',
    EXIT.unavailable,
    'Kafka refused or is unreachable; nothing was committed, so the records are redelivered after the restart',
  ),

  // The OTLP traces sink (sinks/otlp)
  OTLP_ENDPOINT_MISSING: spec(
    'MESHPIPE_ERR_OTLP_ENDPOINT_MISSING',
    'no OTLP endpoint is configured',
    EXIT.config,
    'pass --endpoint http://collector:4317, or set sinks.otlp.endpoint / MESHPIPE_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT',
  ),
  OTLP_INVALID_SPAN: spec(
    'MESHPIPE_ERR_OTLP_INVALID_SPAN',
    'span %s cannot be exported over OTLP: %s',
    EXIT.dataError,
    'the span is in the dead-letter topic; the component that produced it has a bug, please report it',
  ),
  OTLP_UNAVAILABLE: spec(
    'MESHPIPE_ERR_OTLP_UNAVAILABLE',
    'the OTLP receiver answered %s: %s',
    EXIT.unavailable,
    'transient: the sink retries with backoff and pauses consumption meanwhile; check the receiver if it lasts',
  ),
  OTLP_REJECTED: spec(
    'MESHPIPE_ERR_OTLP_REJECTED',
    'the OTLP receiver rejected the batch with %s: %s',
    EXIT.dataError,
    'the spans are in the dead-letter topic; UNAUTHENTICATED/PERMISSION_DENIED: check sinks.otlp.headers, UNIMPLEMENTED or HTTP 404: the endpoint is not an OTLP receiver of sinks.otlp.protocol',
  ),
  OTLP_BATCH_TOO_LARGE: spec(
    'MESHPIPE_ERR_OTLP_BATCH_TOO_LARGE',
    'the export request is larger than the receiver accepts: %s',
    EXIT.dataError,
    "lower sinks.otlp.batchSize, or raise the receiver's limit (max_recv_msg_size_mib on an OpenTelemetry Collector); the spans are in the dead-letter topic",
  ),
  OTLP_EXPORT_FAILED: spec(
    'MESHPIPE_ERR_OTLP_EXPORT_FAILED',
    'the OTLP exporter failed without an answer from the receiver: %s',
    EXIT.software,
    'the spans are in the dead-letter topic; please report this with the message',
  ),

  // The Prometheus sink (sinks/prometheus)
  PROMETHEUS_INVALID_SAMPLE: spec(
    'MESHPIPE_ERR_PROMETHEUS_INVALID_SAMPLE',
    'metric sample %s cannot be exposed: %s',
    EXIT.dataError,
    'the sample is in the dead-letter topic; the component that produced it has a bug, please report it',
  ),
  SINK_LISTEN_FAILED: spec(
    'MESHPIPE_ERR_SINK_LISTEN_FAILED',
    'the sink cannot serve /metrics, /healthz and /readyz on %s: %s',
    EXIT.unavailable,
    'another process uses the address: set sinks.<name>.listen (`--listen host:port`) to a free one, port 0 for any, or empty to serve nothing',
  ),
  SINK_NOT_FOUND: spec(
    'MESHPIPE_ERR_SINK_NOT_FOUND',
    'no sink "%s": %s',
    EXIT.usage,
    '`meshpipe sink --help` lists the built-in sinks; give your own by its path, e.g. ./sinks/my-sink/sink.ts',
  ),
  SINK_LOAD_FAILED: spec(
    'MESHPIPE_ERR_SINK_LOAD_FAILED',
    'cannot load sink module %s: %s',
    EXIT.software,
    'import the module in a test (node --test) to see the error in context',
  ),
  SINK_INVALID_DEFINITION: spec(
    'MESHPIPE_ERR_SINK_INVALID_DEFINITION',
    'invalid sink definition in %s: %s',
    EXIT.software,
    "the module's default export must be defineSink({...}); see docs/adding-a-sink.md",
  ),
  SINK_SCAFFOLD_EXISTS: spec(
    'MESHPIPE_ERR_SINK_SCAFFOLD_EXISTS',
    '%s already exists; `meshpipe sink new` does not overwrite files',
    EXIT.cannotCreate,
    'pick another name, or --dir',
  ),
  PROMETHEUS_LISTEN_FAILED: spec(
    'MESHPIPE_ERR_PROMETHEUS_LISTEN_FAILED',
    'cannot serve /metrics on %s: %s',
    EXIT.unavailable,
    'another process has the port: choose another with --listen, sinks.prometheus.listen or MESHPIPE_PROMETHEUS_LISTEN',
  ),

  // Processors and the processor runtime (processors/runtime/)
  PROCESSOR_NOT_FOUND: spec(
    'MESHPIPE_ERR_PROCESSOR_NOT_FOUND',
    'no processor "%s": %s',
    EXIT.usage,
    '`meshpipe processor list` shows the built-in processors; give your own by its path, e.g. ./processors/my-proc/index.ts',
  ),
  PROCESSOR_LOAD_FAILED: spec(
    'MESHPIPE_ERR_PROCESSOR_LOAD_FAILED',
    'cannot load processor module %s: %s',
    EXIT.software,
    "run the module's unit test (node --test) to see the error in context",
  ),
  PROCESSOR_INVALID_DEFINITION: spec(
    'MESHPIPE_ERR_PROCESSOR_INVALID_DEFINITION',
    'invalid processor definition in %s: %s',
    EXIT.software,
    "the module's default export must be defineProcessor({...}); see docs/adding-a-processor.md",
  ),
  PROCESSOR_HANDLER_FAILED: spec(
    'MESHPIPE_ERR_PROCESSOR_HANDLER_FAILED',
    'processor %s threw on this record: %s',
    EXIT.software,
  ),
  PROCESSOR_UNDECLARED_OUTPUT: spec(
    'MESHPIPE_ERR_PROCESSOR_UNDECLARED_OUTPUT',
    'processor %s emitted to %s, which is not one of its outputs (%s)',
    EXIT.software,
    "add the topic to the definition's `outputs`",
  ),
  PROCESSOR_BATCHED_EMIT: spec(
    'MESHPIPE_ERR_PROCESSOR_BATCHED_EMIT',
    'processor %s emitted to %s, which carries values in batch records, something a batch cannot carry: %s',
    EXIT.software,
    "emit with the value's own key (the topic's key field) and without headers",
  ),
  PROCESSOR_PUNCTUATE_FAILED: spec(
    'MESHPIPE_ERR_PROCESSOR_PUNCTUATE_FAILED',
    'punctuate of processor %s on partition %s threw: %s',
    EXIT.software,
  ),
  PROCESSOR_INPUTS_NOT_COPARTITIONED: spec(
    'MESHPIPE_ERR_PROCESSOR_INPUTS_NOT_COPARTITIONED',
    'the inputs of processor %s have different partition counts (%s); one task owns partition N of every input, so they must match',
    EXIT.config,
    'give the inputs the same partition count (kafka.partitions, then `meshpipe topics --fix`)',
  ),
  PROCESSOR_RESTORE_FAILED: spec(
    'MESHPIPE_ERR_PROCESSOR_RESTORE_FAILED',
    'restoring the state of processor %s (partitions %s) from %s failed: %s',
    EXIT.unavailable,
  ),
  PROCESSOR_STATE_UNREADABLE: spec(
    'MESHPIPE_ERR_PROCESSOR_STATE_UNREADABLE',
    'processor %s could not restore the changelog record %s: %s',
    EXIT.software,
    'the record is in the dead-letter topic and was deleted from the changelog; declare the store, or read the older layout in legacyState (docs/adding-a-processor.md)',
  ),
  PROCESSOR_TRANSACTION_FAILED: spec(
    'MESHPIPE_ERR_PROCESSOR_TRANSACTION_FAILED',
    'transaction of processor %s on partition %s failed and was aborted: %s',
    EXIT.unavailable,
  ),
  PROCESSOR_RECORD_TOO_LARGE: spec(
    'MESHPIPE_ERR_PROCESSOR_RECORD_TOO_LARGE',
    'processor %s made a record of %s bytes for %s (%s); the topic takes at most %s bytes (max.message.bytes)',
    EXIT.software,
    'keep state values and outputs small (split a growing value over several keys), or raise max.message.bytes of the topic',
  ),
  PROCESSOR_OUTPUT_REJECTED: spec(
    'MESHPIPE_ERR_PROCESSOR_OUTPUT_REJECTED',
    'the broker refused what processor %s wrote for this record: %s',
    EXIT.software,
  ),
  PROCESSOR_FENCED: spec(
    'MESHPIPE_ERR_PROCESSOR_FENCED',
    'processor %s lost partition %s to another instance (its transactional producer was fenced)',
    EXIT.unavailable,
  ),
  PROCESSOR_CRASHED: spec(
    'MESHPIPE_ERR_PROCESSOR_CRASHED',
    'the Kafka consumer of processor %s stopped and will not restart: %s',
    EXIT.unavailable,
  ),
  PROCESSOR_SCAFFOLD_EXISTS: spec(
    'MESHPIPE_ERR_PROCESSOR_SCAFFOLD_EXISTS',
    '%s already exists; `meshpipe processor new` does not overwrite files',
    EXIT.cannotCreate,
    'pick another name, or --dir',
  ),
  REPLAY_RECORDING_UNREADABLE: spec(
    'MESHPIPE_ERR_REPLAY_RECORDING_UNREADABLE',
    'cannot read recording %s: %s',
    EXIT.dataError,
    'a recording is the Avro container file `meshpipe record` writes',
  ),
  REPLAY_NO_RAW_INPUT: spec(
    'MESHPIPE_ERR_REPLAY_NO_RAW_INPUT',
    'no processor in the replay chain reads the raw topic (%s), so the recording cannot feed it',
    EXIT.usage,
    'start the chain with a processor whose inputs include "raw" (e.g. --processor span-assembler --processor ./my-proc/index.ts)',
  ),

  // The eBPF loader (collectors/capture/loader/, bpf/loader/): why capture could not start or stopped
  LOADER_BINARY_MISSING: spec(
    'MESHPIPE_ERR_LOADER_BINARY_MISSING',
    'cannot start the eBPF loader %s: %s',
    EXIT.unavailable,
    "build it: `make -C bpf` in a meshpipe checkout, `make -C node_modules/meshpipe/bpf` in a project that installed the npm package (it needs clang, bpftool, libbpf-dev and the kernel's BTF)",
  ),
  LOADER_USAGE: spec(
    'MESHPIPE_ERR_LOADER_USAGE',
    'the eBPF loader rejected its options: %s',
    EXIT.software,
    'the agent passed options this loader build does not accept: rebuild with `make -C bpf`',
  ),
  LOADER_NO_BTF: spec(
    'MESHPIPE_ERR_LOADER_NO_BTF',
    'the kernel exposes no BTF: %s',
    EXIT.unavailable,
    'use a kernel built with CONFIG_DEBUG_INFO_BTF=y, or give the loader a BTF file for this kernel',
  ),
  LOADER_PERMISSION: spec(
    'MESHPIPE_ERR_LOADER_PERMISSION',
    'not permitted to load eBPF programs: %s',
    EXIT.permission,
    'run as root, or grant CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE',
  ),
  LOADER_TRACEFS: spec(
    'MESHPIPE_ERR_LOADER_TRACEFS',
    'tracefs is not available: %s',
    EXIT.unavailable,
    'mount it: `mount -t tracefs tracefs /sys/kernel/tracing` (in a container, mount the host one)',
  ),
  LOADER_KERNEL: spec(
    'MESHPIPE_ERR_LOADER_KERNEL',
    'the kernel refused the eBPF capture: %s',
    EXIT.unavailable,
    'meshpipe needs Linux >= 5.12 with BTF, BPF ring buffers and syscall tracepoints',
  ),
  LOADER_FAILED: spec(
    'MESHPIPE_ERR_LOADER_FAILED',
    'the eBPF loader failed: %s',
    EXIT.software,
    'see the loader output in the message; restarting the agent restarts the loader',
  ),
  LOADER_ABI_MISMATCH: spec(
    'MESHPIPE_ERR_LOADER_ABI_MISMATCH',
    'the eBPF loader speaks record ABI %s, this agent ABI %s',
    EXIT.software,
    'rebuild the loader from the same checkout as the agent: `make -C bpf`',
  ),
  LOADER_STREAM_CORRUPT: spec(
    'MESHPIPE_ERR_LOADER_STREAM_CORRUPT',
    'the eBPF loader output cannot be decoded: %s',
    EXIT.software,
    'the agent restarts the loader by itself; if it repeats, rebuild both from one checkout (`make -C bpf`)',
  ),

  // The node collector (collectors/, meshpipe collect / observe / record)
  COLLECTOR_METRICS_PORT: spec(
    'MESHPIPE_ERR_COLLECTOR_METRICS_PORT',
    'cannot serve collector metrics on %s: %s',
    EXIT.unavailable,
    'another process uses the port: set collector.metricsPort (MESHPIPE_COLLECTOR_METRICS_PORT) to a free one, or 0 for any',
  ),
  COLLECTOR_BAD_FILTER: spec(
    'MESHPIPE_ERR_COLLECTOR_BAD_FILTER',
    'invalid filter "%s": %s',
    EXIT.usage,
    'use key=value with key pod, process, port, method or status, e.g. --filter pod=orders --filter status=5xx',
  ),
  COLLECTOR_RECORDING_FAILED: spec(
    'MESHPIPE_ERR_COLLECTOR_RECORDING_FAILED',
    'cannot write the recording %s: %s',
    EXIT.cannotCreate,
    'check that the directory exists and is writable, and that the disk is not full',
  ),

  // Anomaly alerts (sinks/alerts, meshpipe sink alerts / alerts test / alerts status)
  ALERTS_NO_RECEIVERS: spec(
    'MESHPIPE_ERR_ALERTS_NO_RECEIVERS',
    'no alert receivers are configured (sinks.alerts.receivers is empty)',
    EXIT.config,
    'add one, e.g. {"sinks": {"alerts": {"receivers": [{"name": "ops", "type": "generic", "url": "https://example.com/hook", "secretEnv": "MESHPIPE_ALERTS_OPS_SECRET"}]}}}',
  ),
  ALERTS_RECEIVER_UNKNOWN: spec(
    'MESHPIPE_ERR_ALERTS_RECEIVER_UNKNOWN',
    'no alert receiver named "%s" (configured: %s)',
    EXIT.usage,
    '`meshpipe config --effective` shows sinks.alerts.receivers',
  ),
  ALERTS_SECRET_MISSING: spec(
    'MESHPIPE_ERR_ALERTS_SECRET_MISSING',
    'alert receiver "%s" has no signing key: %s',
    EXIT.config,
    'every request is signed: set sinks.alerts.receivers[].secretEnv to the name of an environment variable that holds the key (or `secret`, inline)',
  ),
  ALERTS_SECRET_INVALID: spec(
    'MESHPIPE_ERR_ALERTS_SECRET_INVALID',
    'the signing key of alert receiver "%s" does not fit its signature scheme: %s',
    EXIT.config,
    'with "signatures": ["standard-webhooks"] the key is whsec_ followed by the base64 of 24-64 random bytes: `echo whsec_$(openssl rand -base64 32)`',
  ),
  ALERTS_REDIS_UNAVAILABLE: spec(
    'MESHPIPE_ERR_ALERTS_REDIS_UNAVAILABLE',
    'cannot reach Redis for the alert queues at %s: %s',
    EXIT.unavailable,
    'set redis.url (MESHPIPE_REDIS_URL), or start the local one with `meshpipe stack start`',
  ),
  ALERTS_RECORD_INVALID: spec(
    'MESHPIPE_ERR_ALERTS_RECORD_INVALID',
    'anomaly transition %s cannot be delivered: %s',
    EXIT.dataError,
    'the record is in the dead-letter topic; whatever produced it to the anomalies topic wrote an incomplete transition',
  ),
  ALERTS_RECEIVER_REJECTED: spec(
    'MESHPIPE_ERR_ALERTS_RECEIVER_REJECTED',
    'receiver %s rejected the alert for good: %s',
    EXIT.dataError,
    'a 4xx answer (other than 408 and 429) is not retried: the alert is a dead letter (`meshpipe alerts status`); check the receiver URL, its signing key and what it logged',
  ),
  ALERTS_RETRIES_EXHAUSTED: spec(
    'MESHPIPE_ERR_ALERTS_RETRIES_EXHAUSTED',
    'delivery to %s failed %s times, the last: %s',
    EXIT.unavailable,
    'the alert is a dead letter (`meshpipe alerts status`); raise sinks.alerts.attempts or maxBackoffMs to ride out longer outages',
  ),
  ALERTS_TEST_UNDELIVERED: spec(
    'MESHPIPE_ERR_ALERTS_TEST_UNDELIVERED',
    'the test alert to %s was not delivered: %s',
    EXIT.unavailable,
    "`meshpipe alerts status` shows the receiver's queue and recent failures",
  ),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorName = keyof typeof ERRORS;

function format(template: string, args: readonly unknown[]): string {
  let i = 0;
  return template.replace(/%s/g, () => (i < args.length ? String(args[i++]) : '%s'));
}

export class MeshpipeError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(
    errorSpec: ErrorSpec,
    args: readonly unknown[] = [],
    options: { cause?: unknown; hint?: string } = {},
  ) {
    super(
      format(errorSpec.message, args),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'MeshpipeError';
    this.code = errorSpec.code;
    this.hint = options.hint ?? errorSpec.hint;
    this.exitCode = errorSpec.exitCode;
  }
}

/** `throw meshpipeError('CONFIG_UNKNOWN_KEY', key, suggestion)` */
export function meshpipeError(name: ErrorName, ...args: unknown[]): MeshpipeError {
  return new MeshpipeError(ERRORS[name], args);
}

export function isMeshpipeError(err: unknown, name?: ErrorName): err is MeshpipeError {
  return err instanceof MeshpipeError && (name === undefined || err.code === ERRORS[name].code);
}

/** A short message for any thrown value, without the stack. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
