/**
 * How much CPU do the trace-linker and red-metrics handlers spend per span, against what they replaced
 * and against the Avro their records need, and where does it go?
 *
 *   node bench/processors/run.ts [--quick]
 *
 * handlers.ts runs both handlers in memory on the spans of bench/span-assembler's keep-alive workload
 * (cross-node and one-node), the implementations they replaced beside them (`--before`); then each
 * handler runs once more under a CPU profile (node:inspector, the timed runs only) and profile.ts says
 * what dominates. Results: bench/results/processor-handlers.json. No Kafka: the host's share (Kafka
 * client, the linking records' Avro, transactions) is bench/pipeline's question.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { machineFacts } from '../environment.ts';
import { summarizeProfile } from '../span-assembler/profile.ts';
import { BATCH, benchHandlers, PROCESSORS, printHandlers } from './handlers.ts';
import { HANDLER_AREAS } from './profile-areas.ts';

const QUICK = process.argv.includes('--quick');
const RESULTS = fileURLToPath(new URL('../results/processor-handlers.json', import.meta.url));
const HANDLERS = fileURLToPath(new URL('./handlers.ts', import.meta.url));

const results = await benchHandlers({ quick: QUICK, before: true });
printHandlers(results);

console.log('profiling each handler once more (node:inspector)...');
const dir = mkdtempSync(join(tmpdir(), 'meshpipe-bench-handlers-'));
const profiles: Record<string, ReturnType<typeof summarizeProfile>> = {};
for (const processor of PROCESSORS) {
  const file = join(dir, `${processor}.cpuprofile`);
  await promisify(execFile)(
    process.execPath,
    [
      HANDLERS,
      ...(QUICK ? ['--quick'] : []),
      '--processor',
      processor,
      '--variant',
      'cross-node',
      '--only',
      'handler',
      '--profile',
      file,
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  profiles[processor] = summarizeProfile(file, 15, HANDLER_AREAS);
  console.log(`what dominates, ${processor} handler:`);
  console.table(profiles[processor].areas.slice(0, 8));
}
rmSync(dir, { recursive: true, force: true });

mkdirSync(join(RESULTS, '..'), { recursive: true });
writeFileSync(
  RESULTS,
  `${JSON.stringify(
    {
      question:
        'CPU per span of the trace-linker and red-metrics handlers alone, in memory, before and after, against the Avro their records need; and what dominates',
      machine: machineFacts(),
      method: [
        "workload: bench/span-assembler's keep-alive HTTP/1.1 stream (five services, both ends captured, ~8K requests/s per process) through span-assembler and trace-linker in memory (InMemoryPipeline), every call of each linker partition recorded with its clock (trace-id questions and answers between nodes included), and the spans the linker emitted; cross-node: the services on three nodes; one-node: all on one",
        `each handler in a PartitionTask (the host's per-partition engine) on the recorded clock, a unit of work committed every ${BATCH} records, punctuations where they fell; CPU time of the process (user + system, GC threads included), median of repetitions taking turns; wall time beside it`,
        'avro: for trace-linker, decode of the span each linking record carries and its encode (what its handler does itself); for red-metrics, the decode of each span (the host does it)',
        'pass-through: a handler that decodes the span and emits it through the same PartitionTask, no state: the least a linker costs in this runtime',
        'handler: state changes not encoded (a codec that writes nothing); handler+changelog: encoded with the processor’s state codec (trace-linker: Avro of state.avsc; red-metrics: the default JSON codec); handler+json-changelog (trace-linker): the same handler with the default JSON codec, in the same run',
        'before: the implementations replaced, kept unchanged as the equivalence tests’ oracle (testkit/reference/<name>); outputs compared by a digest of every encoded record in order',
        'profiles: the current handler once more under node:inspector (sampling every 100 µs, the timed runs only), self time by area',
        'the machine is shared with other engineers’ builds and tests: compare ratios measured in one run, not rates across runs',
      ],
      results,
      profiles,
    },
    null,
    2,
  )}\n`,
);
console.log(`results: ${RESULTS}`);
