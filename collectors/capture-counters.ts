/**
 * The collector's counters as plain numbers, mutated in place on the hot path (a property increment per
 * event) and exported as Prometheus metrics and MetricSamples only when scraped or published
 * (collector-metrics.ts). prom-client's labelled `inc()` hashes its labels on every call, which is
 * too slow for tens of thousands of events per second.
 *
 * Drops are counted by where they happened (`stage`) and why (`reason`), so that at any quiescent
 * moment, for the agent's own stages:
 *
 *     events captured = events produced + dropped{stage="agent"|"kafka"}
 *
 * exactly (plus what sits in the buffer while it is not quiescent). Kernel and loader drops are records
 * that never reached the agent, so they are counted as records by reason, next to that equation.
 *
 * Truncations are not drops: the record or event arrived, with fewer payload bytes than the capture
 * wanted (the kernel could not read a buffer, or a head was longer than the copy budget). They are
 * counted apart, by stage and reason, so that `dropped` means lost and nothing else.
 */

/** Where a drop happened. */
export const DROP_STAGE = {
  /** In the kernel: reasons of enum mp_drop_reason (bpf/include/meshpipe_abi.h), from STATS. */
  kernel: 'kernel',
  /** In meshpipe-loader or its stream: output buffer full (the agent was too slow), malformed frames. */
  loader: 'loader',
  /** In the agent: its bounded buffer was full, an event did not encode, or shutdown cut the flush. */
  agent: 'agent',
  /** At Kafka: a produce request failed after its retries. */
  kafka: 'kafka',
} as const;
export type DropStage = (typeof DROP_STAGE)[keyof typeof DROP_STAGE];

/** Reasons the agent and loader stages use (kernel reasons are the ABI's, lower-cased). */
export const DROP_REASON = {
  loaderOutputFull: 'output_full',
  malformedRecord: 'malformed_record',
  truncatedStream: 'truncated_stream',
  bufferFull: 'buffer_full',
  encodeFailed: 'encode_failed',
  produceFailed: 'produce_failed',
  shutdown: 'shutdown',
} as const;

/** Why a record arrived shortened (kernel reasons are the ABI's truncation reasons, lower-cased). */
export const TRUNCATION_REASON = {
  /** A head longer than the kernel's copy budget (`collector.capBytes`): shipped cut, as far as copied. */
  headOverCapture: 'head_over_capture',
} as const;

export interface CaptureCounters {
  /** Loader records received, by kind (data, open, close, connect_failed, stats, ready). */
  records: Record<string, number>;
  /** Raw events built, by event kind (DATA, OPEN, CLOSE, CONNECT_FAILED): "captured". */
  events: Record<string, number>;
  /** Syscall bytes seen in DATA records, by direction. */
  bytes: { egress: number; ingress: number };
  /** DATA records of TLS plaintext (read through the uprobes on OpenSSL), by direction. */
  tlsEvents: { egress: number; ingress: number };
  /** Records or events lost, keyed `stage/reason`. */
  dropped: Map<string, number>;
  /** Records or heads that arrived shortened (not lost), keyed `stage/reason`: stage kernel or agent. */
  truncated: Map<string, number>;
  /** Events not captured on purpose, by reason (`self`: meshpipe's own processes). */
  excluded: Record<string, number>;
  /** Raw events accepted by Kafka. */
  produced: number;
  /** Failed produce requests (each retried batch that finally failed counts once), by error name. */
  produceErrors: Record<string, number>;
  /** Records the kernel put in the ring buffer (from STATS). */
  kernelRecords: number;
  /** Values redacted (headers, query parameters). */
  redactions: number;
  /** Events framed with the `afterLoss` hint (records may have been lost before them). */
  lossHints: number;
  /** Bytes the kernel counted on closed connections that no DATA record carried. */
  unseenBytes: number;
  connectionsEvicted: number;
  /** Connections forgotten because their process exited without close() (no CLOSE record comes). */
  connectionsExited: number;
  /** Connections whose first record was not OPEN (OPEN lost, or evicted here and seen again). */
  connectionsWithoutOpen: number;
  loaderRestarts: number;
}

export function newCaptureCounters(): CaptureCounters {
  return {
    records: {},
    events: {},
    bytes: { egress: 0, ingress: 0 },
    tlsEvents: { egress: 0, ingress: 0 },
    dropped: new Map(),
    truncated: new Map(),
    excluded: {},
    produced: 0,
    produceErrors: {},
    kernelRecords: 0,
    redactions: 0,
    lossHints: 0,
    unseenBytes: 0,
    connectionsEvicted: 0,
    connectionsExited: 0,
    connectionsWithoutOpen: 0,
    loaderRestarts: 0,
  };
}

export function countDrop(counters: CaptureCounters, stage: DropStage, reason: string, n = 1): void {
  add(counters.dropped, stage, reason, n);
}

export function countTruncation(counters: CaptureCounters, stage: DropStage, reason: string, n = 1): void {
  add(counters.truncated, stage, reason, n);
}

function add(map: Map<string, number>, stage: DropStage, reason: string, n: number): void {
  if (n <= 0) return;
  const key = `${stage}/${reason}`;
  map.set(key, (map.get(key) ?? 0) + n);
}

/** Drops of one stage (all stages when omitted). */
export function droppedTotal(counters: CaptureCounters, stages?: readonly DropStage[]): number {
  return total(counters.dropped, stages);
}

/** Truncations of all stages. */
export function truncatedTotal(counters: CaptureCounters): number {
  return total(counters.truncated);
}

function total(map: Map<string, number>, stages?: readonly DropStage[]): number {
  let sum = 0;
  for (const [key, n] of map) {
    if (stages === undefined || stages.includes(key.slice(0, key.indexOf('/')) as DropStage)) sum += n;
  }
  return sum;
}

export function capturedTotal(counters: CaptureCounters): number {
  let total = 0;
  for (const n of Object.values(counters.events)) total += n;
  return total;
}
