/**
 * The OTLP backend of the pipeline benchmark, in a process of its own (its decoding is the backend's
 * cost, not the sink's, and must not share the orchestrator's event loop): testkit/otlp-receiver.ts,
 * the real gRPC receiver the tests use, with every span stamped on arrival.
 *
 * Spans are not kept: each is counted, and (inside the window the parent sets) its end-to-end latency
 * is recorded: arrival (wall clock, sub-millisecond) minus the span's end time, which is the kernel
 * timestamp of the syscall that ended the exchange (the response read by the client, written by the
 * server). IPC, parent → child: {cmd: 'window', fromNs, toNs} | {cmd: 'stats'} | {cmd: 'stop'};
 * child → parent: {ready: port} then {stats: ...} answers.
 */
import { OtlpReceiver, type ReceivedRequest } from '../../testkit/otlp-receiver.ts';

interface Stats {
  spans: number;
  firstArrivalMs: number | null;
  lastArrivalMs: number | null;
  /** End-to-end latencies (ms) of spans that ended inside the window, by span kind. */
  latenciesMs: Record<string, number[]>;
}

const stats: Stats = { spans: 0, firstArrivalMs: null, lastArrivalMs: null, latenciesMs: {} };
let window: { from: bigint; to: bigint } | null = null;

const receiver = await OtlpReceiver.start();
// Stamp every request as the receiver records it, then forget it (memory stays flat).
receiver.requests.push = (...requests: ReceivedRequest[]): number => {
  const nowMs = performance.timeOrigin + performance.now();
  const nowNs = BigInt(Math.round(nowMs * 1e6));
  for (const request of requests) {
    for (const rs of request.resourceSpans) {
      for (const span of rs.spans) {
        stats.spans++;
        if (window !== null && span.endTimeUnixNano >= window.from && span.endTimeUnixNano < window.to) {
          const kind = span.kind.replace('SPAN_KIND_', '');
          const latencies = stats.latenciesMs[kind] ?? [];
          stats.latenciesMs[kind] = latencies;
          latencies.push(Number(nowNs - span.endTimeUnixNano) / 1e6);
        }
      }
    }
  }
  stats.firstArrivalMs ??= nowMs;
  stats.lastArrivalMs = nowMs;
  return 0;
};

process.on('message', (m: { cmd: string; fromNs?: string; toNs?: string }) => {
  if (m.cmd === 'window') {
    window = { from: BigInt(m.fromNs!), to: BigInt(m.toNs!) };
    stats.latenciesMs = {};
  } else if (m.cmd === 'reset') {
    Object.assign(stats, { spans: 0, firstArrivalMs: null, lastArrivalMs: null, latenciesMs: {} });
    window = null;
  } else if (m.cmd === 'stats') {
    process.send!({ stats });
  } else if (m.cmd === 'stop') {
    void receiver.close().then(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
process.send!({ ready: receiver.port });
