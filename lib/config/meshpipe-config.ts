/**
 * meshpipe's configuration: one JSON file (meshpipe.json in the working directory, or --config /
 * MESHPIPE_CONFIG), environment variables for the keys that name one, and command-line flags on top.
 *
 * Sections for the collector, processors and sinks are declared next to the code that uses them and
 * composed here, so `meshpipe config` documents everything in one table.
 */
import { hostname } from 'node:os';
import { LOG_LEVELS } from '../logger.ts';
import { type InferFields, invalid, type ObjectSpec, type SpecBase, s } from './spec.ts';

const BROKER = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/;

/** `host:port` with a port in range; IPv6 hosts in brackets. */
export function checkBroker(value: string): string | undefined {
  const m = BROKER.exec(value);
  if (m === null) return `"${value}" is not host:port (for example 127.0.0.1:9092 or [::1]:9092)`;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return `port ${port} in "${value}" is out of range 1-65535`;
  return undefined;
}

/** An http(s) URL without credentials in it (they would end up in logs and process listings). */
export function checkRegistryUrl(value: string): string | undefined {
  if (value === '') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `"${value}" is not a URL: use http://host:8081 or https://host/apis/ccompat/v7`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `use an http:// or https:// URL, got ${url.protocol}`;
  if (url.username !== '' || url.password !== '')
    return 'credentials in the URL would be logged: set kafka.schemaRegistry.username and password (MESHPIPE_SCHEMA_REGISTRY_PASSWORD) instead';
  if (url.search !== '' || url.hash !== '') return 'the URL takes no query or fragment';
  return undefined;
}

export const schemaRegistrySpec = s.object(
  {
    url: s.string({
      doc: "A Confluent-compatible Schema Registry API (Confluent, Apicurio's /apis/ccompat/v7, Redpanda, Karapace): every topic's schema is registered under `<topic>-value` and records carry the registry's schema ids. Empty: ids are schema fingerprints, no registry needed (README, Schema Registry).",
      default: '',
      env: 'MESHPIPE_SCHEMA_REGISTRY_URL',
      check: checkRegistryUrl,
    }),
    username: s.string({
      doc: 'HTTP basic authentication user (a Confluent Cloud API key...).',
      default: '',
      env: 'MESHPIPE_SCHEMA_REGISTRY_USERNAME',
    }),
    password: s.string({
      doc: 'HTTP basic authentication password (prefer the environment variable).',
      default: '',
      env: 'MESHPIPE_SCHEMA_REGISTRY_PASSWORD',
    }),
    bearerToken: s.string({
      doc: 'A bearer token sent as `Authorization: Bearer <token>` instead of basic authentication (prefer the environment variable).',
      default: '',
      env: 'MESHPIPE_SCHEMA_REGISTRY_BEARER_TOKEN',
    }),
    tls: s.object(
      {
        ca: s.optionalString({
          doc: "PEM file of the CA certificates that sign the registry's certificate (default: the system roots).",
          env: 'MESHPIPE_SCHEMA_REGISTRY_CA',
        }),
        cert: s.optionalString({
          doc: 'PEM client certificate for mutual TLS (with `key`).',
          env: 'MESHPIPE_SCHEMA_REGISTRY_CERT',
        }),
        key: s.optionalString({
          doc: 'PEM private key of the client certificate (with `cert`).',
          env: 'MESHPIPE_SCHEMA_REGISTRY_KEY',
        }),
      },
      { doc: 'TLS to the registry (https:// URLs).' },
    ),
    autoRegister: s.boolean({
      doc: 'Register the schemas at start (subjects new to the registry get compatibility BACKWARD). Off: only look them up, and refuse to start when one is missing (register them with `meshpipe topics` as a user allowed to).',
      default: true,
      env: 'MESHPIPE_SCHEMA_REGISTRY_AUTO_REGISTER',
    }),
    timeoutMs: s.int({
      doc: 'Deadline of one request to the registry, ms.',
      default: 10_000,
      min: 100,
      max: 120_000,
    }),
  },
  { doc: 'A Schema Registry for the schema ids of every topic (optional).' },
);

export const kafkaSpec = s.object(
  {
    brokers: s.list(s.string({ doc: 'host:port', default: '', check: checkBroker }), {
      doc: 'Bootstrap servers of your Kafka cluster. Empty: `meshpipe up` starts a local single-node KRaft broker.',
      default: [],
      env: 'MESHPIPE_KAFKA_BROKERS',
    }),
    clientId: s.string({
      doc: 'Kafka client id prefix.',
      default: 'meshpipe',
      env: 'MESHPIPE_KAFKA_CLIENT_ID',
    }),
    topicPrefix: s.string({
      doc: 'Prefix of every meshpipe topic name (`<prefix>.l7.raw.v2`...). Change it to run several meshpipes on one cluster.',
      default: 'meshpipe',
      env: 'MESHPIPE_TOPIC_PREFIX',
      check: (v) =>
        /^[A-Za-z0-9._-]+$/.test(v) ? undefined : 'only letters, digits, ".", "_" and "-" are allowed',
    }),
    ssl: s.boolean({
      doc: 'Connect with TLS (brokers verified against the system CAs unless kafka.tls.ca is set). Setting any kafka.tls file turns it on.',
      default: false,
      env: 'MESHPIPE_KAFKA_SSL',
    }),
    tls: s.object(
      {
        ca: s.string({
          doc: "PEM file of the CA certificates that sign the brokers' certificates (default: the system CAs).",
          default: '',
          env: 'MESHPIPE_KAFKA_TLS_CA',
        }),
        cert: s.string({
          doc: "PEM file of this client's certificate (chain), for brokers that authenticate clients by certificate (mTLS); with kafka.tls.key.",
          default: '',
          env: 'MESHPIPE_KAFKA_TLS_CERT',
        }),
        key: s.string({
          doc: 'PEM file of the private key of kafka.tls.cert (a path, not the key; keep the file readable by meshpipe only).',
          default: '',
          env: 'MESHPIPE_KAFKA_TLS_KEY',
        }),
      },
      { doc: 'TLS files for the Kafka connection (docs/security.md).' },
    ),
    saslMechanism: s.enumOf(['none', 'plain', 'scram-sha-256', 'scram-sha-512'] as const, {
      doc: 'SASL mechanism.',
      default: 'none',
      env: 'MESHPIPE_KAFKA_SASL_MECHANISM',
    }),
    saslUsername: s.string({ doc: 'SASL user name.', default: '', env: 'MESHPIPE_KAFKA_SASL_USERNAME' }),
    saslPassword: s.string({
      doc: 'SASL password (prefer the environment variable).',
      default: '',
      env: 'MESHPIPE_KAFKA_SASL_PASSWORD',
    }),
    replicationFactor: s.int({
      doc: 'Replication factor for topics meshpipe creates (-1: the broker default).',
      default: -1,
      min: -1,
      max: 32,
    }),
    partitions: s.record(s.int({ doc: 'partitions', default: 1, min: 1, max: 10000 }), {
      doc: 'Partition count per topic name suffix, overriding the definitions (e.g. {"l7.raw.v2": 24}).',
      default: {},
    }),
    schemaRegistry: schemaRegistrySpec,
  },
  { doc: 'Kafka connection and topics.' },
);

export const redisSpec = s.object(
  {
    url: s.string({
      doc: 'Redis URL for alert delivery queues. Empty: `meshpipe up` starts a local redis-server.',
      default: '',
      env: 'MESHPIPE_REDIS_URL',
      check: (v) =>
        v === '' || /^rediss?:\/\//.test(v) ? undefined : 'expected redis://host:port or rediss://...',
    }),
  },
  { doc: 'Redis.' },
);

export const stackSpec = s.object(
  {
    kafkaPort: s.int({
      doc: 'Preferred port of the local Kafka broker (another is used if taken).',
      default: 9092,
      min: 1,
      max: 65535,
    }),
    redisPort: s.int({
      doc: 'Preferred port of the local Redis (another is used if taken).',
      default: 6379,
      min: 1,
      max: 65535,
    }),
    kafkaHeapMb: s.int({ doc: 'Java heap of the local broker, MiB.', default: 768, min: 256, max: 16384 }),
  },
  { doc: 'The local stack started when no Kafka/Redis is configured.' },
);

export const logSpec = s.object(
  {
    level: s.enumOf(LOG_LEVELS, { doc: 'Log level.', default: 'info', env: 'MESHPIPE_LOG_LEVEL' }),
  },
  { doc: 'Logging (pino JSON on stderr).' },
);

export const nodeSpec = s.object(
  {
    name: s.string({
      doc: 'Node name attached to everything captured here.',
      default: hostname(),
      defaultDoc: '(the host name)',
      env: 'MESHPIPE_NODE_NAME',
    }),
  },
  { doc: 'This node.' },
);

/**
 * The section of one processor or sink, `processors.<name>` / `sinks.<name>`: any JSON object here. Its
 * keys are validated by that component's own spec when it runs, or when `meshpipe up` starts it
 * (processors/runtime/config.ts, sinks/registry.ts), with errors naming the full key: components loaded
 * from a path are only known then, and lib/ depends on neither processors/ nor sinks/.
 */
function componentSection(doc: string): SpecBase<Record<string, unknown>> {
  return {
    kind: 'object',
    doc,
    default: {},
    parse(value, key) {
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw invalid(
          key,
          `expected an object, got ${Array.isArray(value) ? 'a list' : JSON.stringify(value)}`,
        );
      return value as Record<string, unknown>;
    },
  };
}

export const processorsSpec = s.record(
  componentSection(
    'Configuration of one processor: `enabled`, `startFrom`, `runtime.*` and its own keys (`meshpipe processor list --json` shows them).',
  ),
  {
    doc: 'Per-processor configuration by processor name, e.g. {"span-assembler": {"exchangeTimeoutMs": 60000}}.',
    default: {},
  },
);

export const sinksSpec = s.record(
  componentSection(
    "Configuration of one sink: the host's keys (`listen`, `batchSize`, `retry.*`, `runtime.*`...) and its own.",
  ),
  {
    doc: 'Sinks: where meshpipe delivers what leaves Kafka. Per-sink configuration by sink name, e.g. {"otlp": {"endpoint": "http://localhost:4317"}}; the built-in sinks\' keys follow.',
    default: {},
  },
);

/** A glob on names: `*` any run of characters, `?` one character; everything else literal. */
export function checkGlob(value: string): string | undefined {
  return value.trim() === '' ? 'an empty pattern matches nothing; leave the key out instead' : undefined;
}

/** A redaction glob (`*` any run, `?` one character) as a regular expression, for configuration checks. */
function globRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${body}$`, 'i');
}

/** Fields spans and message framing are built from: a pattern that would redact one is refused. */
const NEEDED_HEADERS = [
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'content-type',
  'user-agent',
  'traceparent',
  'tracestate',
];

/** `^…`, `…$`, `.*`, `\\d`, classes, groups: a regular expression given where a glob is expected. */
const REGEXP_LIKE = /^\^|\$$|\.[*+]|\\[dwsb.]|\[.*\]|\(.*\)/;
const REGEXP_HINT = 'patterns are globs, not regular expressions';

const TCHAR_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z?]+$/;

/**
 * A header name or pattern: tchar (RFC 9110 §5.6.2) plus `*` and `?`. Anything else (a regular
 * expression, a space) would never match as meant, so it is refused rather than taken literally.
 */
export function checkHeaderPattern(value: string): string | undefined {
  const v = value.trim();
  if (v === '') return 'an empty name matches nothing; leave it out';
  if (REGEXP_LIKE.test(v))
    return `"${value}" looks like a regular expression: ${REGEXP_HINT} (* any run of characters, ? one: x-*-token)`;
  if (!TCHAR_PATTERN.test(v))
    return `"${value}" is not a header name or pattern: use the name's letters, digits and -, with * for any run of characters and ? for one (e.g. x-*-token)`;
  const needed = NEEDED_HEADERS.filter((h) => globRegExp(v).test(h));
  if (needed.length > 0)
    return `"${value}" would redact ${needed.join(', ')}, which framing and spans are built from`;
  return undefined;
}

/** A query parameter name or pattern: what a parameter name can hold, plus `*` and `?`. */
export function checkParamPattern(value: string): string | undefined {
  const v = value.trim();
  if (v === '') return 'an empty name matches nothing; leave it out';
  if (REGEXP_LIKE.test(v))
    return `"${value}" looks like a regular expression: ${REGEXP_HINT} (* any run of characters, ? one: x-amz-*)`;
  if (/[\s&=#]/.test(v))
    return `"${value}" is not a parameter name or pattern: use the name, with * for any run of characters and ? for one (e.g. x-amz-*)`;
  return undefined;
}

/** A path segment pattern: no `/` (a pattern is matched against one segment), `*` and `?` allowed. */
export function checkSegmentPattern(value: string): string | undefined {
  const v = value.trim();
  if (v === '') return 'an empty pattern matches nothing; leave it out';
  if (REGEXP_LIKE.test(v))
    return `"${value}" looks like a regular expression: ${REGEXP_HINT} (* any run of characters, ? one: sk_live_*)`;
  if (/[\s/#]/.test(v))
    return `"${value}" is not a path segment pattern: one segment, with * for any run of characters and ? for one (e.g. sk_live_*)`;
  if (/^\**$/.test(v)) return `"${value}" would redact every path segment`;
  return undefined;
}

/**
 * One entry of `collector.workloads`: which processes it matches (every given criterion must hold) and
 * the names it gives them. This is how users name services without touching code.
 */
export const workloadRuleSpec = s.object(
  {
    pod: s.optionalString({
      doc: 'Glob on the pod name (locally: the `ip netns` name of the network namespace).',
      check: (v) => (v === null ? undefined : checkGlob(v)),
    }),
    comm: s.optionalString({
      doc: 'Glob on the process command name (/proc/<pid>/comm, at most 15 characters).',
      check: (v) => (v === null ? undefined : checkGlob(v)),
    }),
    port: s.int({
      doc: 'A TCP port the process serves (listens on, or accepted the connection on); 0: any.',
      default: 0,
      min: 0,
      max: 65535,
    }),
    workload: s.optionalString({ doc: 'Workload name given to matching processes.' }),
    service: s.optionalString({
      doc: 'Service name given to matching processes (default: the workload, else the pod, else the command).',
    }),
    namespace: s.optionalString({ doc: 'Namespace given to matching processes.' }),
  },
  { doc: 'A workload mapping rule.' },
);

export type WorkloadRule = InferFields<(typeof workloadRuleSpec)['fields']>;

export const collectorSpec = s.object(
  {
    ports: s.list(s.int({ doc: 'port', default: 0, min: 1, max: 65535 }), {
      doc: 'Only capture connections with one of these local or peer ports (filtered in the kernel). Empty: all.',
      default: [],
      env: 'MESHPIPE_COLLECTOR_PORTS',
    }),
    capBytes: s.int({
      doc: 'Bytes the kernel copies per HTTP message and direction (the head budget; bodies are lengths).',
      default: 4096,
      min: 64,
      max: 8192,
    }),
    h2DataBytes: s.int({
      doc: 'HTTP/2 (h2c, gRPC): bytes of each DATA frame payload the kernel copies from buffers larger than capBytes (header blocks and frame headers are always copied whole). 5 is the gRPC message prefix, enough to count messages; bodies are never shipped.',
      default: 5,
      min: 0,
      max: 4096,
    }),
    shipBodies: s.boolean({
      doc: 'Ship the copied body bytes (within capBytes) in raw events. Off: bodies leave the node as lengths only. Bodies are not redacted.',
      default: false,
      env: 'MESHPIPE_COLLECTOR_SHIP_BODIES',
    }),
    redact: s.object(
      {
        headers: s.list(s.string({ doc: 'header name or pattern', default: '', check: checkHeaderPattern }), {
          doc: 'Header fields whose values are redacted, by name or pattern (`*` any run, `?` one character: `x-*-token`), case-insensitive; in addition to the defaults, always redacted (docs/collector.md: Authorization, Cookie, Set-Cookie, `*token*`, `*secret*`, `*password*`, `*api-key*`, `*signature*`...).',
          default: [],
        }),
        queryParams: s.list(
          s.string({ doc: 'parameter name or pattern', default: '', check: checkParamPattern }),
          {
            doc: 'Query and fragment parameters whose values are redacted, by name or pattern, case-insensitive; in addition to the defaults, always redacted (token, access_token, code, key, client_secret, `*token*`, `*secret*`...).',
            default: [],
          },
        ),
        pathSegments: s.list(
          s.string({ doc: 'path segment pattern', default: '', check: checkSegmentPattern }),
          {
            doc: 'Patterns of URL path segments to redact (`sk_live_*`), case-insensitive; in addition to segments that look like e-mail addresses, JWTs, long hex or random tokens (always redacted).',
            default: [],
          },
        ),
        binaryMetadata: s.boolean({
          doc: 'HTTP/2: redact the values of gRPC binary metadata (`*-bin` keys: base64 of arbitrary bytes, often tokens or serialized credentials). HTTP/2 values the sender marked never-indexed are always redacted, as are the headers above.',
          default: true,
        }),
      },
      { doc: 'What the collector redacts before anything leaves the node.' },
    ),
    workloads: s.list(workloadRuleSpec, {
      doc: 'Workload mapping, first match wins: [{"pod": "orders-*", "port": 8080, "workload": "orders", "service": "orders-api", "namespace": "shop"}]. Criteria: pod, comm, port; names: workload, service, namespace.',
      default: [],
      check: (rules) => {
        for (const [i, r] of rules.entries()) {
          if (r.pod === null && r.comm === null && r.port === 0)
            return `rule ${i} matches everything: give it a pod, comm or port`;
          if (r.workload === null && r.service === null && r.namespace === null)
            return `rule ${i} names nothing: give it a workload, service or namespace`;
        }
        return undefined;
      },
    }),
    namespace: s.optionalString({
      doc: 'Namespace reported for pods that no workload rule gives one (the local stand-in for a Kubernetes namespace).',
    }),
    conntrack: s.object(
      {
        enabled: s.boolean({
          doc: 'Key a client connection NATed on its way (a Kubernetes ClusterIP) by where it really went, from conntrack at connect time, so both ends share one key. Needs CAP_NET_ADMIN in the namespace where the NAT happens.',
          default: true,
          env: 'MESHPIPE_COLLECTOR_CONNTRACK',
        }),
        netns: s.optionalString({
          doc: "The network namespace where the NAT happens, as a file (/run/netns/<name>, /proc/<pid>/ns/net); default the collector's own (a DaemonSet on the host network sees kube-proxy's).",
        }),
      },
      { doc: 'Service NAT resolution (docs/collector.md, "The connection key").' },
    ),
    kubernetes: s.object(
      {
        enabled: s.enumOf(['auto', 'on', 'off'] as const, {
          doc: 'Names from the Kubernetes API server (pods, workloads, services; docs/collector.md). auto: on when a service-account token is mounted (in a cluster) or a kubeconfig is given.',
          default: 'auto',
          env: 'MESHPIPE_COLLECTOR_KUBERNETES',
        }),
        kubeconfig: s.optionalString({
          doc: 'A kubeconfig file to reach the API server with, instead of the in-cluster service account.',
          env: 'MESHPIPE_COLLECTOR_KUBECONFIG',
        }),
        peerPods: s.boolean({
          doc: "Watch every pod of the cluster, so peers on other nodes are named by their IP. false: only this node's pods (for very large clusters; peers are then named through Services).",
          default: true,
        }),
      },
      { doc: 'The Kubernetes decorator of the collector.' },
    ),
    maxConnections: s.int({
      doc: 'Connections the agent tracks at once; beyond, the least recently used is evicted (counted).',
      default: 16384,
      min: 64,
      max: 1_048_576,
    }),
    buffer: s.object(
      {
        maxEvents: s.int({
          doc: 'Encoded events held for Kafka at most; when full, new events are dropped and counted.',
          default: 20_000,
          min: 10,
          max: 10_000_000,
        }),
        maxBytes: s.int({
          doc: 'Bytes of encoded events held for Kafka at most (with maxEvents, whichever is reached first).',
          default: 8 * 1_048_576,
          min: 65_536,
          max: 4096 * 1_048_576,
        }),
      },
      { doc: 'The bounded buffer between capture and Kafka.' },
    ),
    producer: s.object(
      {
        lingerMs: s.int({
          doc: 'How long events wait to be batched before a produce request.',
          default: 20,
          min: 0,
          max: 10_000,
        }),
        maxBatchEvents: s.int({
          doc: 'Events per batch record at most (a produce request carries one batch record per partition).',
          default: 2000,
          min: 1,
          max: 100_000,
        }),
        maxBatchBytes: s.int({
          doc: 'Bytes per batch record at most (stay below the topic max.message.bytes).',
          default: 900_000,
          min: 1024,
          max: 64 * 1_048_576,
        }),
        compression: s.enumOf(['none', 'gzip', 'zstd'] as const, {
          doc: 'Compression of produce requests (docs/collector.md has the measurement behind the default).',
          default: 'zstd',
          env: 'MESHPIPE_COLLECTOR_COMPRESSION',
        }),
        retries: s.int({
          doc: 'Retries of a failed produce request before its events are dropped (counted).',
          default: 5,
          min: 1,
          max: 100,
        }),
      },
      { doc: 'The idempotent Kafka producer of raw events.' },
    ),
    metricsPort: s.int({
      doc: "Port of the collector's /metrics, /healthz (liveness) and /readyz (readiness); 0: any free port.",
      default: 9470,
      min: 0,
      max: 65535,
      env: 'MESHPIPE_COLLECTOR_METRICS_PORT',
    }),
    metricsHost: s.string({
      doc: 'Address /metrics, /healthz and /readyz bind to; 0.0.0.0 to let a Prometheus and the kubelet elsewhere reach them.',
      default: '127.0.0.1',
      env: 'MESHPIPE_COLLECTOR_METRICS_HOST',
    }),
    metricsIntervalMs: s.int({
      doc: 'How often the collector publishes its pipeline-health samples to the metrics topic.',
      default: 10_000,
      min: 200,
      max: 600_000,
    }),
    ringMb: s.int({
      doc: 'Kernel ring buffer size in MiB (a power of two): how much capture can wait for the loader.',
      default: 8,
      min: 1,
      max: 1024,
      check: (v) => ((v & (v - 1)) === 0 ? undefined : 'must be a power of two'),
    }),
    tls: s.object(
      {
        enabled: s.boolean({
          doc: "Read the plaintext of TLS connections through uprobes on OpenSSL (every libssl, and node's built-in OpenSSL); it is framed and redacted exactly like clear-text HTTP. Off: TLS traffic stays opaque (docs/collector.md, TLS).",
          default: true,
          env: 'MESHPIPE_COLLECTOR_TLS',
        }),
        binaries: s.list(s.string({ doc: 'executable glob', default: '', check: (v) => checkGlob(v) }), {
          doc: 'Only read the TLS of these executables: globs on the path (a pattern with a /) or on the file name, e.g. ["nginx", "node", "python3*"]. Empty: all.',
          default: [],
        }),
        pods: s.list(s.string({ doc: 'pod glob', default: '', check: (v) => checkGlob(v) }), {
          doc: 'Only read the TLS of processes in these pods: globs on the pod name (the `ip netns` name of the network namespace). Empty: all.',
          default: [],
        }),
      },
      { doc: 'TLS plaintext capture (uprobes on OpenSSL).' },
    ),
    schedIdle: s.boolean({
      doc: "Run the loader and the agent under SCHED_IDLE so applications on a shared core preempt them at once (docs/benchmarks.md). Off: they compete as equals, at the cost of the traced requests' latency.",
      default: true,
      env: 'MESHPIPE_COLLECTOR_SCHED_IDLE',
    }),
  },
  { doc: 'The node collector (meshpipe collect, observe, record): capture, identity, redaction, transport.' },
);

export type CollectorConfig = InferFields<(typeof collectorSpec)['fields']>;

export const meshpipeConfigSpec = s.object(
  {
    kafka: kafkaSpec,
    redis: redisSpec,
    stack: stackSpec,
    log: logSpec,
    node: nodeSpec,
    collector: collectorSpec,
    processors: processorsSpec,
    sinks: sinksSpec,
  },
  { doc: 'meshpipe configuration' },
);

export type MeshpipeConfig = InferFields<(typeof meshpipeConfigSpec)['fields']>;
export type ConfigSpec = ObjectSpec<(typeof meshpipeConfigSpec)['fields']>;
