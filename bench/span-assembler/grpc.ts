/**
 * Does the span assembler decode HTTP/2 at no less than half its HTTP/1.x rate per instance (issue 13)?
 *
 *   node bench/span-assembler/grpc.ts [--quick]
 *
 * The handler alone, in memory, through the runtime's PartitionTask exactly as handler.ts runs it (a unit
 * of work committed every BATCH records, changelog encoded, punctuations on the recorded clock), on two
 * workloads of the same shape — the same services, connections and calls per connection, both ends
 * captured: HTTP/1.1 keep-alive exchanges (workload.ts) and gRPC unary calls on HTTP/2 connections
 * (grpc-workload.ts). The two take turns, repetition after repetition, and the medians are compared: the
 * machine is shared, so only the ratio measured side by side means something. Reported per raw event and
 * per exchange (a call): the question is calls, and the two protocols ship about as many events per call.
 * Results: bench/results/span-assembler-grpc.json.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machineFacts } from '../environment.ts';
import { grpcWorkload } from './grpc-workload.ts';
import { BATCH, runThrough, type Totals } from './handler.ts';
import { keepAliveWorkload } from './workload.ts';

const QUICK = process.argv.includes('--quick');
const RESULTS = fileURLToPath(new URL('../results/span-assembler-grpc.json', import.meta.url));
const shape = QUICK ? { connections: 100, perConnection: 40 } : { connections: 200, perConnection: 100 };
const reps = QUICK ? 3 : 7;

const workloads = {
  http1: keepAliveWorkload({ connections: shape.connections, exchangesPerConnection: shape.perConnection }),
  grpc: grpcWorkload({ connections: shape.connections, callsPerConnection: shape.perConnection }),
};
const fresh = (): Totals => ({ spans: 0, changelogRecords: 0, changelogBytes: 0 });
const totals = { http1: fresh(), grpc: fresh() };
// Warm-up: both paths compiled before anything is timed.
for (const name of ['http1', 'grpc'] as const) runThrough(workloads[name], [], 'decoded', totals[name]);
const NAMES = ['http1', 'grpc'] as const;
type Name = (typeof NAMES)[number];
const seconds: Record<Name, number[]> = { http1: [], grpc: [] };
for (let r = 0; r < reps; r++) {
  for (const name of r % 2 === 0 ? NAMES : [...NAMES].reverse()) {
    seconds[name].push(runThrough(workloads[name], [], 'decoded', fresh()));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function summarize(name: Name) {
  const w = workloads[name];
  const s = median(seconds[name]);
  return {
    rawEvents: w.events.length,
    exchanges: w.exchanges,
    spans: totals[name].spans,
    changelogBytesPerEvent: Math.round(totals[name].changelogBytes / w.events.length),
    eventsPerSecond: Math.round(w.events.length / s),
    exchangesPerSecond: Math.round(w.exchanges / s),
    runsExchangesPerSecond: seconds[name].map((x) => Math.round(w.exchanges / x)),
  };
}
const result = { http1: summarize('http1'), grpc: summarize('grpc') };
const ratios = {
  exchangesGrpcOverHttp1: Number(
    (result.grpc.exchangesPerSecond / result.http1.exchangesPerSecond).toFixed(2),
  ),
  eventsGrpcOverHttp1: Number((result.grpc.eventsPerSecond / result.http1.eventsPerSecond).toFixed(2)),
};
if (result.grpc.spans !== 2 * result.grpc.exchanges)
  throw new Error(`expected a CLIENT and a SERVER span per call, got ${result.grpc.spans}`);
console.table(result);
console.log(
  `gRPC over HTTP/1.x, per instance: calls ${ratios.exchangesGrpcOverHttp1}x, raw events ${ratios.eventsGrpcOverHttp1}x (target: at least 0.5x)`,
);
writeFileSync(
  RESULTS,
  `${JSON.stringify(
    {
      question:
        'HTTP/2 (gRPC) decode in span-assembler against HTTP/1.x, per instance: at least half the rate?',
      machine: machineFacts(),
      method: [
        `the span-assembler handler in memory (PartitionTask, a unit of work every ${BATCH} records, changelog encoded), ${reps} repetitions taking turns, medians`,
        `workloads of one shape: ${shape.connections} connections between 5 services, ${shape.perConnection} exchanges each, both ends captured; HTTP/1.1 keep-alive (bench/span-assembler/workload.ts) and gRPC unary calls, 4 in flight per HTTP/2 connection (grpc-workload.ts)`,
        'a shared, noisy machine: the ratio measured side by side is the figure, not the rates',
      ],
      result,
      ratios,
    },
    null,
    2,
  )}\n`,
);
