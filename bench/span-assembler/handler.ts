/**
 * How many raw events per second does the span-assembler handler sustain on its own, in memory?
 *
 *   node bench/span-assembler/handler.ts [--quick] [--only baseline|handler|decode+handler]
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/span-assembler/handler.ts --only handler
 *
 * The keep-alive workload (workload.ts) runs through the runtime's PartitionTask — the code the Kafka
 * host, `meshpipe replay` and the unit tests share — on the recorded clock, committing a unit of work
 * every BATCH records as the host commits a fetched batch (state changes encoded for the changelog,
 * outputs Avro-encoded), punctuating every `punctuateMs` of recorded time. Measured in the same run:
 *
 *   baseline    decoding the raw topic's batch records into events (each node's events of 20 ms per
 *               record, as collectors write them: workload.ts collectorBatches): the least any
 *               processor of this topic does per event (the ratio's denominator);
 *   handler     the handler on events already decoded (state, parsing, pairing, spans);
 *   decode+handler  what the host does per event without Kafka: batch records decoded, one handler call
 *               per event.
 *
 * Times are the process's CPU time (user + system, all threads: the garbage collector's included), not
 * the wall clock: the machine may be shared, and CPU per event is the figure that sizes a deployment.
 */
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../lib/logger.ts';
import { changelogMessages } from '../../processors/runtime/changelog.ts';
import { resolveProcessorSettings } from '../../processors/runtime/config.ts';
import type { AnyProcessorDefinition, InputRecord } from '../../processors/runtime/definition.ts';
import { PartitionTask } from '../../processors/runtime/partition-task.ts';
import { ProcessorTopics } from '../../processors/runtime/processor-topics.ts';
import spanAssembler from '../../processors/span-assembler/index.ts';
import { topicCodec } from '../../schemas/topic-codec.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { L7RawEvent } from '../../schemas/types.ts';
import { collectorBatches, keepAliveWorkload, type Workload } from './workload.ts';

/** CPU seconds this process has used (all threads). */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Records per unit of work: about what one 1 MiB fetch of raw events holds. */
export const BATCH = 2_000;
const PREFIX = 'meshpipe';

export interface HandlerScenario {
  name: string;
  what: string;
  eventsPerSecond: number;
  microsPerEvent: number;
  /** Each repetition's rate, best first. */
  runs: number[];
}

export interface HandlerResult {
  events: number;
  exchanges: number;
  connections: number;
  spans: number;
  changelogRecords: number;
  changelogBytes: number;
  scenarios: HandlerScenario[];
}

let definition = spanAssembler as unknown as AnyProcessorDefinition;

/** Runs the bench with another definition (e.g. span-assembler with another state codec, to compare). */
export function useDefinition(d: AnyProcessorDefinition): void {
  definition = d;
}
const rawTopic = topicCodec<L7RawEvent>(TOPICS.raw);

function newTask(clock: { now: number }): PartitionTask {
  const { config } = resolveProcessorSettings(definition, { processors: {} });
  return new PartitionTask({
    definition,
    config,
    partition: 0,
    topics: new ProcessorTopics(definition, PREFIX),
    now: () => clock.now,
    logger: createLogger({ component: 'bench/span-assembler', level: 'silent' }),
  });
}

export interface Totals {
  spans: number;
  changelogRecords: number;
  changelogBytes: number;
}

/** What a commit costs besides the broker: the changelog records of the unit, then the commit itself. */
function commit(task: PartitionTask, totals: Totals): void {
  const work = task.work();
  totals.spans += work.records.length;
  const messages = changelogMessages(work.changes, 0);
  totals.changelogRecords += messages.length;
  for (const m of messages) totals.changelogBytes += (m.value as Buffer | null)?.length ?? 0;
  task.commit();
}

/** The workload as the raw topic's batch records (collectorBatches), each with its first event's index. */
function batchRecords(workload: Workload): Array<{ first: number; value: Buffer }> {
  const out: Array<{ first: number; value: Buffer }> = [];
  for (const group of collectorBatches(workload.events)) {
    for (const value of rawTopic.encodeBatches(group.events)) out.push({ first: group.first, value });
  }
  return out;
}

/** Runs the whole workload through one partition task; returns seconds. */
export function runThrough(
  workload: Workload,
  encoded: Array<{ first: number; value: Buffer }>,
  mode: 'decoded' | 'bytes',
  totals: Totals,
): number {
  const clock = { now: Number(workload.events[0]!.timeUnixNano / 1_000_000n) };
  const task = newTask(clock);
  const punctuateMs = (task.context.config as { punctuateMs: number }).punctuateMs;
  const topic = `${PREFIX}.l7.raw.v2`;
  let nextPunctuation = clock.now + punctuateMs;
  const started = cpuSeconds();
  if (mode === 'bytes') {
    for (let r = 0; r < encoded.length; r++) {
      const { first, value } = encoded[r]!;
      clock.now = Number(workload.events[first]!.timeUnixNano / 1_000_000n);
      if (clock.now >= nextPunctuation) {
        task.punctuate();
        nextPunctuation = clock.now + punctuateMs;
      }
      task.process({
        topic,
        partition: 0,
        offset: String(r),
        key: null,
        value,
        timestampMs: clock.now,
        headers: {},
      });
      const next = encoded[r + 1]?.first ?? workload.events.length;
      if (Math.floor(next / BATCH) > Math.floor(first / BATCH)) commit(task, totals);
    }
  } else {
    for (let i = 0; i < workload.events.length; i++) {
      const ev = workload.events[i]!;
      clock.now = Number(ev.timeUnixNano / 1_000_000n);
      if (clock.now >= nextPunctuation) {
        task.punctuate();
        nextPunctuation = clock.now + punctuateMs;
      }
      const record: InputRecord = {
        topic,
        input: 'raw',
        partition: 0,
        offset: String(i),
        index: 0,
        key: ev.connection.key,
        timestampMs: clock.now,
        headers: {},
        value: ev,
      };
      task.processDecoded(record);
      if ((i + 1) % BATCH === 0) commit(task, totals);
    }
  }
  commit(task, totals);
  return cpuSeconds() - started;
}

function baseline(encoded: Array<{ value: Buffer }>): number {
  const started = cpuSeconds();
  let events = 0;
  for (const b of encoded) events += rawTopic.decodeRecord(b.value).length;
  if (events === 0) throw new Error('nothing decoded');
  return cpuSeconds() - started;
}

function scenario(name: string, what: string, events: number, seconds: number[]): HandlerScenario {
  const rates = seconds.map((s) => events / s).sort((a, b) => b - a);
  // The median of the repetitions: the machine is shared, so the best one flatters and the worst one lies.
  const median = rates[Math.floor(rates.length / 2)]!;
  return {
    name,
    what,
    eventsPerSecond: Math.round(median),
    microsPerEvent: Math.round((1e6 / median) * 100) / 100,
    runs: rates.map(Math.round),
  };
}

export function benchHandler(options: { quick?: boolean; only?: string } = {}): HandlerResult {
  const workload = keepAliveWorkload(
    options.quick === true ? { connections: 100, exchangesPerConnection: 40 } : {},
  );
  const encoded = batchRecords(workload);
  const reps = options.quick === true ? 3 : 5;
  const totals: Totals = { spans: 0, changelogRecords: 0, changelogBytes: 0 };
  // Warm-up: compile the hot paths once before anything is timed.
  runThrough(workload, encoded, 'decoded', { spans: 0, changelogRecords: 0, changelogBytes: 0 });
  baseline(encoded);
  const times = { baseline: [] as number[], handler: [] as number[], 'decode+handler': [] as number[] };
  const runs = (name: keyof typeof times) => options.only === undefined || options.only === name;
  const fresh = (): Totals => ({ spans: 0, changelogRecords: 0, changelogBytes: 0 });
  for (let r = 0; r < reps; r++) {
    if (runs('baseline')) times.baseline.push(baseline(encoded));
    const t = fresh();
    if (runs('handler')) times.handler.push(runThrough(workload, encoded, 'decoded', t));
    if (r === 0) Object.assign(totals, t);
    if (runs('decode+handler')) times['decode+handler'].push(runThrough(workload, encoded, 'bytes', fresh()));
  }
  const n = workload.events.length;
  const what = {
    baseline: "decoding the raw topic's batch records (each node's events per 20 ms) into events",
    handler: 'span-assembler handler on decoded events (state, HTTP/1.x, spans out)',
    'decode+handler': 'batch records decoded, one handler call per event: the host without Kafka',
  };
  return {
    events: n,
    exchanges: workload.exchanges,
    connections: workload.connections,
    spans: totals.spans,
    changelogRecords: totals.changelogRecords,
    changelogBytes: totals.changelogBytes,
    scenarios: (Object.keys(times) as Array<keyof typeof times>)
      .filter((name) => times[name].length > 0)
      .map((name) => scenario(name, what[name], n, times[name])),
  };
}

export function printHandler(result: HandlerResult): void {
  const base = result.scenarios.find((s) => s.name === 'baseline')?.eventsPerSecond ?? Number.NaN;
  console.log(
    `span-assembler handler, in memory: ${result.events} raw events (${result.exchanges} exchanges on ${result.connections} keep-alive connections), ${result.spans} spans, ${result.changelogRecords} changelog records (${(result.changelogBytes / result.events).toFixed(0)} B per event)`,
  );
  console.table(
    result.scenarios.map((s) => ({
      scenario: s.name,
      'events/s': s.eventsPerSecond,
      'µs/event': s.microsPerEvent,
      'vs baseline': `${(s.eventsPerSecond / base).toFixed(2)}x`,
      'vs 100K/s': `${(s.eventsPerSecond / 100_000).toFixed(2)}x`,
    })),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const only = process.argv.indexOf('--only');
  printHandler(
    benchHandler({
      quick: process.argv.includes('--quick'),
      ...(only === -1 ? {} : { only: process.argv[only + 1]! }),
    }),
  );
}
