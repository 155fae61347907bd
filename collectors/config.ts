/**
 * The collector's section of meshpipe.json, `collector.*`: capture, identity, redaction, transport.
 * Declared here, beside the code that reads it, rather than in lib/config (the ground floor knows no
 * component); lib/config keeps `collector` as an object and `resolveCollectorConfig` checks it with this
 * spec. cli/main.ts runs that check whenever a command loads the configuration, so a bad collector key
 * stops every command naming the key, as any other key does, and `meshpipe config` lists these keys.
 */
import type { MeshpipeConfig } from '../lib/config/meshpipe-config.ts';
import { type InferFields, s } from '../lib/config/spec.ts';

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

/**
 * `collector.*` of the loaded configuration, checked and typed, with its environment variables
 * (MESHPIPE_COLLECTOR_*) and the defaults applied. Throws CONFIG_UNKNOWN_KEY or CONFIG_INVALID_VALUE
 * naming the full dotted key (`collector.redact.headers[0]`).
 */
export function resolveCollectorConfig(
  config: Pick<MeshpipeConfig, 'collector'>,
  env: Record<string, string | undefined> = process.env,
): CollectorConfig {
  return collectorSpec.parseWithEnv(config.collector, 'collector', env);
}
