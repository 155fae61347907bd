/** Valid example records of every schema, for codec and transport tests. */
import { codecFor } from '../../schemas/codec.ts';
import type {
  Anomaly,
  DeadLetter,
  L7RawEvent,
  MetricSample,
  Span,
  TraceLinkingEvent,
} from '../../schemas/types.ts';

// A nanosecond timestamp above 2^53: a float would round it.
export const EXACT_NS = 1_796_000_000_123_456_789n;

export const RAW_EVENT: L7RawEvent = {
  kind: 'DATA',
  timeUnixNano: EXACT_NS,
  monotonicNs: 123_456_789_012n,
  node: 'node-a',
  seq: 42n,
  process: { pid: 4242, tid: 4243, comm: 'curl', exe: '/usr/bin/curl', cgroupId: 7777n, containerId: null },
  workload: { netnsInode: 4026532000n, pod: 'client', namespace: null, workload: null, service: 'client' },
  connection: {
    key: '10.200.0.1:51234|10.200.0.2:8080',
    id: 99n,
    fd: 5,
    generation: 1,
    role: 'CLIENT',
    roleInferred: false,
    family: 'IPV4',
    localAddress: '10.200.0.1',
    localPort: 51234,
    peerAddress: '10.200.0.2',
    peerPort: 8080,
    openedUnixNano: EXACT_NS - 1_000_000n,
  },
  direction: 'EGRESS',
  syscall: 'WRITE',
  byteCount: 78n,
  protocol: 'HTTP1',
  segments: [
    {
      kind: 'HEAD',
      length: 78n,
      data: Buffer.from('GET /users/42 HTTP/1.1\r\nHost: orders\r\nAuthorization: [REDACTED]\r\n\r\n'),
      endsMessage: true,
    },
  ],
  truncated: false,
  redactions: 1,
  errno: null,
  h2: [],
};

export const SPAN: Span = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  parentSpanId: null,
  traceState: null,
  name: 'GET /users/{id}',
  kind: 'SERVER',
  startTimeUnixNano: EXACT_NS,
  endTimeUnixNano: EXACT_NS + 1_234_567n,
  status: 'UNSET',
  statusMessage: null,
  local: {
    service: 'orders',
    namespace: null,
    pod: 'orders',
    workload: null,
    node: 'node-a',
    pid: 100,
    tid: 101,
    comm: 'node',
    exe: null,
    containerId: null,
    address: '10.200.0.2',
    port: 8080,
  },
  peer: { service: 'gateway', pod: 'gateway', namespace: null, address: '10.200.0.1', port: 51234 },
  http: {
    method: 'GET',
    target: '/users/42',
    path: '/users/42',
    route: '/users/{id}',
    protocolVersion: '1.1',
    statusCode: 200,
    requestBodySize: 0n,
    responseBodySize: 512n,
    requestSize: 78n,
    responseSize: 600n,
    host: 'orders',
    userAgent: 'curl/7.88.1',
  },
  errorType: null,
  incomplete: false,
  incompleteReason: null,
  link: { method: 'NONE', confidence: 0 },
  connectionKey: '10.200.0.1:51234|10.200.0.2:8080',
  attributes: {},
  rpc: null,
};

export const METRIC: MetricSample = {
  name: 'http.server.request.duration',
  description: 'Duration of HTTP server requests.',
  unit: 's',
  type: 'HISTOGRAM',
  labels: {
    'service.name': 'orders',
    'http.request.method': 'GET',
    'http.route': '/users/{id}',
    'http.response.status_code': '200',
  },
  seriesId: 'a1b2c3',
  stream: 'red-metrics/0',
  startTimeUnixNano: EXACT_NS - 60_000_000_000n,
  timeUnixNano: EXACT_NS,
  value: 0.75,
  histogram: {
    count: 3n,
    sum: 0.75,
    bounds: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    bucketCounts: [0n, 0n, 0n, 0n, 0n, 3n, 0n, 0n, 0n],
  },
  exemplars: [
    {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      value: 0.25,
      timeUnixNano: EXACT_NS,
    },
  ],
};

export const ANOMALY: Anomaly = {
  fingerprint: 'f00d',
  transitionId: 'f00d-1796000000123456789',
  status: 'FIRING',
  type: 'LATENCY_P99',
  severity: 'WARNING',
  service: 'orders',
  route: '/users/{id}',
  method: 'GET',
  summary: 'p99 latency of orders GET /users/{id} is 5.1x its baseline',
  description: '',
  evidence: {
    observed: 0.51,
    baseline: 0.1,
    threshold: 0.3,
    unit: 's',
    windowStartUnixNano: EXACT_NS - 10_000_000_000n,
    windowEndUnixNano: EXACT_NS,
    exampleTraceIds: ['4bf92f3577b34da6a3ce929d0e0e4736'],
  },
  startsAtUnixNano: EXACT_NS,
  endsAtUnixNano: null,
  labels: {},
};

export const DEAD_LETTER: DeadLetter = {
  component: 'span-assembler',
  errorCode: 'MESHPIPE_ERR_SCHEMA_DECODE_FAILED',
  errorMessage: 'record is truncated',
  sourceTopic: 'meshpipe.l7.raw.v2',
  sourcePartition: 3,
  sourceOffset: 1234n,
  sourceTimestampMs: 1_796_000_000_123n,
  sourceKey: Buffer.from('k'),
  sourceValue: Buffer.from([0, 1, 2]),
  sourceIndex: null,
  failedAtUnixNano: EXACT_NS,
};

/** A span on its way to the trace linker: the span travels as a nested wire-format record. */
export const TRACE_LINKING_EVENT: TraceLinkingEvent = {
  kind: 'SPAN',
  node: 'node-a',
  span: codecFor<Span>('span').encode(SPAN),
  parentNode: 'node-b',
  spanId: null,
  traceId: null,
  replyTo: null,
};

export const FIXTURES = {
  'l7-raw-event': RAW_EVENT,
  span: SPAN,
  'metric-sample': METRIC,
  anomaly: ANOMALY,
  'dead-letter': DEAD_LETTER,
  'trace-linking-event': TRACE_LINKING_EVENT,
} as const;
