/**
 * `sinks.alerts`: the receivers alerts go to and how delivery behaves. Each receiver gets its own BullMQ
 * queue (its own rate limit, its own 429 pause, its own grouping); docs/alerts.md describes every key.
 */
import { type InferFields, invalid, type SpecBase, s } from '../../lib/config/spec.ts';
import { sinkHostFields } from '../runtime/definition.ts';

export const RECEIVER_TYPES = ['generic', 'slack', 'alertmanager'] as const;
export type ReceiverType = (typeof RECEIVER_TYPES)[number];
export const SEVERITIES = ['INFO', 'WARNING', 'CRITICAL'] as const;
/** How requests are signed: meshpipe's X-Meshpipe-Signature, Standard Webhooks' webhook-signature. */
export const SIGNATURE_SCHEMES = ['meshpipe', 'standard-webhooks'] as const;
export type SignatureScheme = (typeof SIGNATURE_SCHEMES)[number];

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

// Header names per RFC 9110 (token); values printable ASCII. Signing headers are meshpipe's own.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const RESERVED_HEADERS = [
  'content-type',
  'content-length',
  'idempotency-key',
  'x-meshpipe-timestamp',
  'x-meshpipe-signature',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
];

const headersSpec: SpecBase<Record<string, string>> = {
  kind: 'record<string>',
  doc: 'Extra request headers, e.g. {"Authorization": "Bearer ..."} for an Alertmanager behind a proxy.',
  default: {},
  parse(value, key) {
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      throw invalid(key, 'expected an object of header names to string values');
    const out: Record<string, string> = {};
    for (const [name, v] of Object.entries(value)) {
      if (!HEADER_NAME.test(name)) throw invalid(`${key}.${name}`, 'not a valid HTTP header name');
      if (RESERVED_HEADERS.includes(name.toLowerCase()))
        throw invalid(`${key}.${name}`, 'meshpipe sets this header itself');
      // Never echo the value: headers carry credentials.
      if (typeof v !== 'string' || !/^[\x20-\x7e]*$/.test(v))
        throw invalid(`${key}.${name}`, 'the value must be a string of printable ASCII');
      out[name] = v;
    }
    return out;
  },
};

export const receiverSpec = s.object(
  {
    name: s.string({
      doc: 'Receiver name: lowercase letters, digits, "-" and "_" (it names the queue and the job ids).',
      default: '',
      check: (v) =>
        NAME.test(v)
          ? undefined
          : 'use 1-63 lowercase letters, digits, "-" or "_", starting with a letter or digit',
    }),
    type: s.enumOf(RECEIVER_TYPES, {
      doc: '`generic` (meshpipe JSON), `slack` (incoming webhook: text + blocks) or `alertmanager` (POST /api/v2/alerts).',
      default: 'generic',
    }),
    url: s.string({
      doc: 'Where to POST: the webhook URL; for `alertmanager` the base URL (http://am:9093), /api/v2/alerts is appended.',
      default: '',
      check: (v) => {
        try {
          const u = new URL(v);
          return u.protocol === 'http:' || u.protocol === 'https:'
            ? undefined
            : 'use an http:// or https:// URL';
        } catch {
          return `"${v}" is not a URL`;
        }
      },
    }),
    signatures: s.list(s.enumOf(SIGNATURE_SCHEMES, { doc: 'A signature scheme.', default: 'meshpipe' }), {
      doc: 'How requests are signed (both at once is fine): `meshpipe` (X-Meshpipe-Timestamp and X-Meshpipe-Signature: v1=<hex>, verifyWebhookSignature in the library) and/or `standard-webhooks` (webhook-id, webhook-timestamp, webhook-signature per standardwebhooks.com, for the stock verifier libraries; the key is then `whsec_` + base64 of 24-64 bytes).',
      default: ['meshpipe'],
      check: (v) =>
        v.length === 0
          ? 'every request is signed: name at least one scheme'
          : new Set(v).size !== v.length
            ? 'a scheme is listed twice'
            : undefined,
    }),
    secret: s.string({
      doc: 'HMAC-SHA256 signing key, inline. Prefer `secretEnv`: configuration files get copied around, and `meshpipe config --effective` prints what they hold.',
      default: '',
    }),
    secretEnv: s.string({
      doc: 'Name of the environment variable that holds the signing key (e.g. MESHPIPE_ALERTS_OPS_SECRET).',
      default: '',
      check: (v) =>
        v === '' || /^[A-Za-z_][A-Za-z0-9_]*$/.test(v) ? undefined : 'not an environment variable name',
    }),
    timeoutMs: s.int({
      doc: 'Deadline of one request, ms; a request that runs out is retried.',
      default: 10_000,
      min: 100,
      max: 300_000,
    }),
    groupWindowMs: s.int({
      doc: 'Bursts: a transition waits this long for others to the same receiver, and they go in one request. 0 sends each on its own.',
      default: 2_000,
      min: 0,
      max: 600_000,
    }),
    maxGroupSize: s.int({
      doc: 'Transitions per request at most (Slack receivers use at most 10: a message has at most 50 blocks).',
      default: 20,
      min: 1,
      max: 500,
    }),
    rateLimit: s.object(
      {
        max: s.int({
          doc: 'Transitions delivered per `durationMs` at most (a BullMQ limiter, shared by every sink instance).',
          default: 60,
          min: 1,
          max: 1_000_000,
        }),
        durationMs: s.int({ doc: 'The rate-limit period, ms.', default: 60_000, min: 100, max: 86_400_000 }),
      },
      { doc: 'Rate limit of this receiver.' },
    ),
    minSeverity: s.enumOf(SEVERITIES, {
      doc: 'Only transitions of at least this severity go to this receiver.',
      default: 'INFO',
    }),
    headers: headersSpec,
  },
  { doc: 'An alert receiver.' },
);

export type ReceiverConfig = InferFields<(typeof receiverSpec)['fields']>;

export const alertsSinkSpec = s.object(
  {
    receivers: s.list(receiverSpec, {
      doc: 'Where alerts go, e.g. [{"name": "ops", "type": "slack", "url": "https://hooks.slack.com/services/...", "secretEnv": "MESHPIPE_ALERTS_OPS_SECRET"}]. Empty: the alerts sink is off in `meshpipe up`.',
      default: [],
      check: (receivers) => {
        const names = new Set<string>();
        for (const [i, r] of receivers.entries()) {
          if (names.has(r.name)) return `receiver ${i} repeats the name "${r.name}"`;
          names.add(r.name);
          if (r.secret !== '' && r.secretEnv !== '')
            return `receiver "${r.name}": give secret or secretEnv, not both`;
        }
        return undefined;
      },
    }),
    queuePrefix: s.string({
      doc: "Prefix of the BullMQ keys in Redis (BullMQ's `prefix`).",
      default: 'meshpipe',
      check: (v) => (/^[A-Za-z0-9_-]+$/.test(v) ? undefined : 'only letters, digits, "_" and "-"'),
    }),
    deliver: s.boolean({
      doc: 'Run the delivery workers in the sink process. Off: this process only enqueues, and sink processes elsewhere with it on (on the same Redis) deliver.',
      default: true,
    }),
    attempts: s.int({
      doc: 'Delivery attempts per transition (429 and 5xx answers and network errors count) before it is dead-lettered.',
      default: 12,
      min: 1,
      max: 1000,
    }),
    initialBackoffMs: s.int({
      doc: 'Backoff after the first failed attempt, ms; it doubles per attempt, with jitter.',
      default: 1_000,
      min: 1,
      max: 3_600_000,
    }),
    maxBackoffMs: s.int({ doc: 'Ceiling of the backoff, ms.', default: 600_000, min: 1, max: 86_400_000 }),
    maxRetryAfterMs: s.int({
      doc: 'Longest Retry-After (429, 503) honoured, ms; a receiver asking for more is retried after this.',
      default: 3_600_000,
      min: 1_000,
      max: 86_400_000,
    }),
    keepCompletedMs: s.int({
      doc: 'How long delivered jobs stay in Redis, ms. This is the idempotency window: a transition enqueued again within it (Kafka redelivery) is recognised by its job id and not sent again.',
      default: 7 * 86_400_000,
      min: 60_000,
      max: 365 * 86_400_000,
    }),
    maxTrackedAnomalies: s.int({
      doc: 'Anomalies per receiver whose newest delivered transition is remembered (so that a retry overtaken by a newer transition is not sent after it). Entries older than keepCompletedMs are dropped; beyond this many, the oldest are (counted, logged).',
      default: 100_000,
      min: 10,
      max: 100_000_000,
    }),
    keepDeadLetters: s.int({
      doc: 'Dead letters kept (the oldest go first).',
      default: 10_000,
      min: 10,
      max: 10_000_000,
    }),
    externalUrl: s.string({
      doc: 'Base URL linked from alerts (Alertmanager generatorURL, Slack links), e.g. your Grafana: `<externalUrl>/anomalies/<fingerprint>`. Empty: no link.',
      default: '',
      check: (v) => {
        if (v === '') return undefined;
        try {
          new URL(v);
          return undefined;
        } catch {
          return `"${v}" is not a URL`;
        }
      },
    }),
    alertmanagerResendMs: s.int({
      doc: 'Alertmanager keeps an alert only while it is re-sent (and forgets all alerts when it restarts): firing alerts are re-posted this often, each valid for 4 intervals, as Prometheus does.',
      default: 60_000,
      min: 1_000,
      max: 3_600_000,
    }),
    ...sinkHostFields({ batchSize: 100, lingerMs: 200 }),
  },
  {
    doc: 'The alerts sink (`meshpipe sink alerts`): anomaly transitions → BullMQ queues on Redis → signed webhooks (generic JSON, Slack, Alertmanager).',
  },
);

export type AlertsSinkConfig = InferFields<(typeof alertsSinkSpec)['fields']>;
