/**
 * Does the span-assembler sustain 100K raw events per second per instance, and if not, where does the
 * time go?
 *
 *   npm run bench:span-assembler            (Kafka: MESHPIPE_KAFKA_BROKERS, else the local stack)
 *   node bench/span-assembler/run.ts --quick
 *
 * Two questions, one file each, both against a baseline measured in the same run:
 *   handler.ts  the handler alone, in memory, on the recorded keep-alive workload (workload.ts),
 *               against Avro decode + encode of the same records;
 *   host.ts     the real processor host on the real broker, against plain kafkajs consumers of the
 *               same topic (consume only; consume, decode, encode, produce).
 * Then each path runs once more under `node --cpu-prof`, and profile.ts says what dominates.
 * Results: bench/results/span-assembler.json.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { machineFacts } from '../environment.ts';
import { BATCH, benchHandler, printHandler } from './handler.ts';
import { benchHost, printHost } from './host.ts';
import { summarizeProfile } from './profile.ts';

const QUICK = process.argv.includes('--quick');
const TARGET = 100_000;
const RESULTS = fileURLToPath(new URL('../results/span-assembler.json', import.meta.url));
const HANDLER = fileURLToPath(new URL('./handler.ts', import.meta.url));

async function profileHandler(dir: string): Promise<string> {
  await promisify(execFile)(
    process.execPath,
    ['--cpu-prof', `--cpu-prof-dir=${dir}`, HANDLER, ...(QUICK ? ['--quick'] : []), '--only', 'handler'],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return join(dir, readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!);
}

const handler = benchHandler({ quick: QUICK });
printHandler(handler);
const host = await benchHost({ quick: QUICK });
printHost(host);

console.log('profiling both paths once more (node --cpu-prof)...');
const profiles = mkdtempSync(join(tmpdir(), 'meshpipe-bench-sa-'));
const handlerProfile = summarizeProfile(await profileHandler(join(profiles, 'handler')));
mkdirSync(join(profiles, 'host'));
await benchHost({ quick: QUICK, only: 'host', reps: 1, profileDir: join(profiles, 'host') });
const hostProfile = summarizeProfile(join(profiles, 'host', 'host.cpuprofile'));
rmSync(profiles, { recursive: true, force: true });

const rate = (list: Array<{ name: string; eventsPerSecond: number }>, name: string) =>
  list.find((s) => s.name === name)?.eventsPerSecond ?? Number.NaN;
const summary = {
  handler: rate(handler.scenarios, 'handler'),
  decodeAndHandler: rate(handler.scenarios, 'decode+handler'),
  avroBaseline: rate(handler.scenarios, 'baseline'),
  host: rate(host.scenarios, 'host'),
  kafkaConsumeProduce: rate(host.scenarios, 'consume-produce'),
  kafkaConsumeOnly: rate(host.scenarios, 'consume'),
};
console.log('\nraw events per second, against the promise of 100K/s per instance:');
console.table([
  {
    path: 'handler alone (in memory)',
    'events/s': summary.handler,
    'vs baseline': ratio(summary.handler, summary.avroBaseline),
    'vs 100K/s': ratio(summary.handler, TARGET),
  },
  {
    path: 'decode + handler (in memory)',
    'events/s': summary.decodeAndHandler,
    'vs baseline': ratio(summary.decodeAndHandler, summary.avroBaseline),
    'vs 100K/s': ratio(summary.decodeAndHandler, TARGET),
  },
  {
    path: 'processor host on Kafka',
    'events/s': summary.host,
    'vs baseline': ratio(summary.host, summary.kafkaConsumeProduce),
    'vs 100K/s': ratio(summary.host, TARGET),
  },
]);
console.log('what dominates, handler:');
console.table(handlerProfile.areas.slice(0, 6));
console.log('what dominates, host:');
console.table(hostProfile.areas.slice(0, 6));

function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}x`;
}

mkdirSync(join(RESULTS, '..'), { recursive: true });
writeFileSync(
  RESULTS,
  `${JSON.stringify(
    {
      question:
        'raw events per second through span-assembler, per instance (the promise: at least 100K/s), and what dominates',
      machine: {
        ...machineFacts(),
        kafka: host.brokers.join(','),
      },
      method: [
        `workload: service-to-service HTTP/1.1 on keep-alive connections, both ends captured (a tenth call an uncaptured service), every syscall framed by the collector's own framer; ${handler.events} raw events for the handler, ${host.events} for the host`,
        `handler: PartitionTask (the host's per-partition engine) on the recorded clock, a unit of work committed every ${BATCH} records (changelog encoded), punctuations every punctuateMs of recorded time; median of repetitions; baseline = Avro decode + encode of the same records`,
        `host: ProcessorHost (consumer group, EOS v1 transactions, changelog) on ${host.partitions} raw partitions, runtime.concurrency 4, from the first record to the last committed; baseline = kafkajs consumer with Avro decode + encode + produce per batch, measured in the same run; median of repetitions taking turns, each scenario in a child process`,
        'profiles: one more run of each path under node --cpu-prof (profiling slows it; its rate is not reported), self time by area',
      ],
      summary,
      handler,
      host,
      profiles: { handler: handlerProfile, host: hostProfile },
    },
    null,
    2,
  )}\n`,
);
console.log(`results: ${RESULTS}`);
