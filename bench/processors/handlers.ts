/**
 * How much CPU do the trace-linker and red-metrics handlers spend per span on their own, in memory?
 *
 *   node bench/processors/handlers.ts [--quick] [--before] [--processor trace-linker|red-metrics]
 *        [--variant cross-node|one-node] [--only <scenario>] [--profile <file.cpuprofile>] [--json]
 *
 * The inputs are recorded once (workload.ts): the spans span-assembler makes of the keep-alive
 * workload, with the linker's trace-id questions and answers between nodes, and the spans the linker
 * emits. Each handler then runs them through the runtime's PartitionTask — the code the Kafka host,
 * `meshpipe replay` and the unit tests share — on the recorded clock, a unit of work committed every
 * BATCH records as the host commits a fetched batch, punctuations where they fell. Measured in the
 * same run, per processor, in CPU time (the process's: on a shared machine far steadier than the wall
 * clock, which is reported beside it):
 *
 *   avro              the Avro the records need: for trace-linker the decode of the span each linking
 *                     record carries and its encode (both in the handler), for red-metrics the decode of
 *                     each span (the host's) — the ratios' denominator;
 *   pass-through      (trace-linker) a handler that decodes each span and emits it, no state: the least
 *                     a linker costs in this runtime, so `handler` − `pass-through` is the linking;
 *   handler           the handler on decoded records, state changes not encoded (the changelog codec's
 *                     cost is the next line's difference);
 *   handler+changelog the same, each unit's changed state keys encoded with the processor's state codec;
 *   handler+json-changelog  (a processor with a codec of its own) the same with the default JSON state
 *                     codec instead: what its declared type saves, in the same run.
 *
 * With `--before`, the implementations these replaced (kept as the equivalence tests' oracle under
 * testkit/reference/<name>) run too, in the same run: `before: handler...`.
 *
 * The reference run hashes the encoded outputs in order (`outputDigest`): equal digests mean a change of
 * a handler emitted exactly the same records; every timed run checks it emitted as many.
 * `--profile` writes a CPU profile of the timed runs of the selected scenarios (node:inspector: the
 * recording of the workload stays out of it); run.ts summarises them with profile.ts.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../lib/logger.ts';
import redMetrics from '../../processors/red-metrics/index.ts';
import { changelogMessages } from '../../processors/runtime/changelog.ts';
import { resolveProcessorSettings } from '../../processors/runtime/config.ts';
import type { AnyProcessorDefinition, InputRecord, StateCodec } from '../../processors/runtime/definition.ts';
import { PartitionTask } from '../../processors/runtime/partition-task.ts';
import { ProcessorTopics } from '../../processors/runtime/processor-topics.ts';
import { jsonStateCodec } from '../../processors/runtime/state-codec.ts';
import type { StoreType } from '../../processors/runtime/store-types.ts';
import traceLinker from '../../processors/trace-linker/index.ts';
import { codecFor } from '../../schemas/codec.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { Span, TraceLinkingEvent } from '../../schemas/types.ts';
import redMetricsBefore from '../../testkit/reference/red-metrics/index.ts';
import traceLinkerBefore from '../../testkit/reference/trace-linker/index.ts';
import { type ChainWorkload, chainWorkload, PREFIX, VARIANTS, type Variant } from './workload.ts';

/** Records per unit of work: about what one 1 MiB fetch of linking records holds. */
export const BATCH = 1_000;

export const PROCESSORS = ['trace-linker', 'red-metrics'] as const;
export type ProcessorName = (typeof PROCESSORS)[number];
const DEFINITIONS: Record<ProcessorName, AnyProcessorDefinition> = {
  'trace-linker': traceLinker as unknown as AnyProcessorDefinition,
  'red-metrics': redMetrics as unknown as AnyProcessorDefinition,
};
/** The implementations these replaced, as the equivalence tests keep them. */
const BEFORE: Record<ProcessorName, AnyProcessorDefinition> = {
  'trace-linker': traceLinkerBefore as unknown as AnyProcessorDefinition,
  'red-metrics': redMetricsBefore as unknown as AnyProcessorDefinition,
};

export interface Scenario {
  name: string;
  what: string;
  /** Spans per second of CPU time (the process's user + system time: GC threads included). */
  spansPerCpuSecond: number;
  cpuMicrosPerSpan: number;
  /** The same by the wall clock (lower when other work takes the CPU away). */
  wallMicrosPerSpan: number;
  /** Each repetition's CPU µs per span, best first. */
  runs: number[];
}

interface Timing {
  cpu: number;
  wall: number;
}

/** CPU and wall seconds of `fn`. CPU time is what the question is about, and on a shared machine it is
 * far steadier than the wall clock. */
function measure(fn: () => void): Timing {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  fn();
  const used = process.cpuUsage(cpu);
  return { cpu: (used.user + used.system) / 1e6, wall: (performance.now() - wall) / 1000 };
}

export interface ProcessorResult {
  processor: ProcessorName;
  variant: Variant;
  /** Spans handled (trace-linker: SPAN records; its other records are counted in `records`). */
  spans: number;
  records: number;
  outputs: number;
  /** sha256 of the encoded outputs in order: equal across runs, and across versions that behave alike. */
  outputDigest: string;
  /** With `before`: whether the implementation replaced emitted exactly the same records. */
  sameOutputsAsBefore?: boolean;
  /** Changelog records and bytes (each implementation's state codec) per span. */
  changelog: Array<{ implementation: 'current' | 'before'; records: number; bytesPerSpan: number }>;
  counters: Record<string, number>;
  scenarios: Scenario[];
}

const spanCodec = codecFor<Span>('span');

/**
 * A state codec that writes nothing: for the `handler` scenario of a processor with live state, whose
 * values are encoded only when a unit of work is written (and decoded only after a restore or an abort,
 * which the benchmark never does).
 */
const EMPTY = Buffer.alloc(0);
const NOT_ENCODED: StateCodec<unknown> = {
  encode: () => EMPTY,
  decode: () => {
    throw new Error('the benchmark never reads state back');
  },
};

/** The definition with every store's values written by `codec` instead of its own. */
function withCodec(d: AnyProcessorDefinition, codec: StateCodec<unknown>): AnyProcessorDefinition {
  const stores = Object.fromEntries(
    Object.keys(d.stores ?? {}).map((name) => [
      name,
      { format: 'json', codec: () => codec } as StoreType<unknown>,
    ]),
  );
  return { ...d, stores };
}

interface Totals {
  outputs: number;
  /** Only on the reference run: hashing is not what is measured. */
  digest: ReturnType<typeof createHash> | undefined;
  changelogRecords: number;
  changelogBytes: number;
  counters: Record<string, number>;
}

const freshTotals = (digest = true): Totals => ({
  outputs: 0,
  digest: digest ? createHash('sha256') : undefined,
  changelogRecords: 0,
  changelogBytes: 0,
  counters: {},
});

function newTask(definition: AnyProcessorDefinition, partition: number, clock: { now: number }) {
  const { config } = resolveProcessorSettings(definition, { processors: {} });
  return new PartitionTask({
    definition,
    config,
    partition,
    topics: new ProcessorTopics(definition, PREFIX),
    now: () => clock.now,
    logger: createLogger({ component: 'bench/processors', level: 'silent' }),
  });
}

/** What a commit costs besides the broker: the unit's changelog records, then the commit itself. */
function commit(task: PartitionTask, totals: Totals): void {
  const work = task.work();
  totals.outputs += work.records.length;
  if (totals.digest !== undefined)
    for (const r of work.records) totals.digest.update(r.topic).update(r.value);
  for (const [name, n] of work.counts) totals.counters[name] = (totals.counters[name] ?? 0) + n;
  const messages = changelogMessages(work.changes, task.partition);
  totals.changelogRecords += messages.length;
  for (const m of messages) totals.changelogBytes += (m.value as Buffer | null)?.length ?? 0;
  task.commit();
}

/** Runs every recorded linker call through fresh partition tasks. */
function runLinker(w: ChainWorkload, definition: AnyProcessorDefinition, totals: Totals): void {
  for (const { partition, calls } of w.linker) {
    const clock = { now: calls[0]!.nowMs };
    const task = newTask(definition, partition, clock);
    let inUnit = 0;
    for (const call of calls) {
      clock.now = call.nowMs;
      if (call.kind === 'punctuate') {
        task.punctuate();
        continue;
      }
      task.processDecoded(call.record);
      if (++inUnit === BATCH) {
        commit(task, totals);
        inUnit = 0;
      }
    }
    commit(task, totals);
  }
}

/** Runs the linker's spans through red-metrics, punctuating every punctuateMs of the recorded clock. */
function runRedMetrics(
  w: ChainWorkload,
  records: InputRecord<Span>[],
  definition: AnyProcessorDefinition,
  totals: Totals,
): void {
  const clock = { now: w.spans[0]!.nowMs };
  const task = newTask(definition, 0, clock);
  const punctuateMs = (task.context.config as { punctuateMs: number }).punctuateMs;
  let nextPunctuation = clock.now + punctuateMs;
  for (let i = 0; i < records.length; i++) {
    clock.now = w.spans[i]!.nowMs;
    if (clock.now >= nextPunctuation) {
      task.punctuate();
      nextPunctuation = clock.now + punctuateMs;
    }
    task.processDecoded(records[i]!);
    if ((i + 1) % BATCH === 0) commit(task, totals);
  }
  // The windows of the last spans close too.
  clock.now += 60_000;
  task.punctuate();
  commit(task, totals);
}

/** The Avro the linker's handler does itself: decode the span a record carries, encode it out. */
function linkerAvro(spans: Buffer[]): void {
  let bytes = 0;
  for (const b of spans) bytes += spanCodec.encode(spanCodec.decode(b)).length;
  if (bytes === 0) throw new Error('nothing encoded');
}

/**
 * The least a linker does in this runtime: the same records through a PartitionTask whose handler
 * decodes each span and emits it, with no state and no linking.
 */
function passThrough(linker: AnyProcessorDefinition): AnyProcessorDefinition {
  return {
    ...withCodec(linker, NOT_ENCODED),
    legacyState: undefined,
    process(record, ctx) {
      const ev = record.value as TraceLinkingEvent;
      if (ev.span === null) return;
      const span = spanCodec.decode(ev.span);
      ctx.emit('spans', span.traceId, span);
    },
    punctuate: { intervalMs: 1_000, run() {} },
  };
}

function spansAvro(encoded: Buffer[]): void {
  let n = 0;
  for (const b of encoded) n += spanCodec.decode(b).spanId.length;
  if (n === 0) throw new Error('nothing decoded');
}

function scenario(name: string, what: string, spans: number, timings: Timing[]): Scenario {
  // The median of the repetitions: the machine is shared, so the best one flatters and the worst one lies.
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const round = (x: number) => Math.round(x * 100) / 100;
  const cpu = median(timings.map((t) => t.cpu));
  return {
    name,
    what,
    spansPerCpuSecond: Math.round(spans / cpu),
    cpuMicrosPerSpan: round((cpu * 1e6) / spans),
    wallMicrosPerSpan: round((median(timings.map((t) => t.wall)) * 1e6) / spans),
    runs: timings.map((t) => round((t.cpu * 1e6) / spans)).sort((a, b) => a - b),
  };
}

export interface BenchOptions {
  quick?: boolean;
  processors?: readonly ProcessorName[];
  variants?: readonly Variant[];
  only?: string;
  /** Also run the implementations replaced (kept as the tests' oracle, testkit/reference/<name>). */
  before?: boolean;
  /** Write a CPU profile of the timed runs here. */
  profile?: string;
}

const WHAT: Record<ProcessorName, Record<string, string>> = {
  'trace-linker': {
    avro: 'Avro decode of the span each linking record carries, and encode of it (what the handler does itself)',
    'pass-through':
      'a handler that decodes each span and emits it, through the same PartitionTask: no state, no linking',
    handler:
      'trace-linker handler on decoded records (span decode and output encode included), state not encoded',
    'handler+changelog': 'the handler, and the changed state keys of each unit encoded with its state codec',
    'handler+json-changelog':
      'the handler, the changed state keys encoded with the default JSON state codec instead of its own',
  },
  'red-metrics': {
    avro: 'Avro decode of each span (the host does it before the handler)',
    handler: 'red-metrics handler on decoded spans, state not encoded',
    'handler+changelog': 'the handler, its state through its state codec (copy mode: at every get and set)',
  },
};

export async function benchHandlers(options: BenchOptions = {}): Promise<ProcessorResult[]> {
  const processors = options.processors ?? PROCESSORS;
  const variants = options.variants ?? VARIANTS;
  const reps = options.quick === true ? 3 : 5;
  const results: ProcessorResult[] = [];
  const session = options.profile === undefined ? undefined : new Session();
  if (session !== undefined) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
  }
  let profiling = false;
  const timed = async (fn: () => void): Promise<Timing> => {
    if (session !== undefined && !profiling) {
      await session.post('Profiler.start');
      profiling = true;
    }
    return measure(fn);
  };
  for (const variant of variants) {
    const w = chainWorkload({
      variant,
      ...(options.quick === true ? { exchangesPerConnection: 8 } : {}),
    });
    for (const processor of processors) {
      const definition = DEFINITIONS[processor];
      let run: (d: AnyProcessorDefinition, t: Totals) => void;
      let avro: () => void;
      let pass: AnyProcessorDefinition | undefined;
      let spans: number;
      let records: number;
      if (processor === 'trace-linker') {
        const carried = w.linker.flatMap(({ calls }) =>
          calls.flatMap((c) =>
            c.kind === 'process' && c.record.value.span !== null ? [c.record.value.span] : [],
          ),
        );
        run = (d, t) => runLinker(w, d, t);
        avro = () => linkerAvro(carried);
        pass = passThrough(definition);
        spans = w.linkerRecords.span;
        records = spans + w.linkerRecords.resolveRequest + w.linkerRecords.resolved;
      } else {
        const topic = `${PREFIX}.${TOPICS.spans.suffix}`;
        const inputs: InputRecord<Span>[] = w.spans.map((s, i) => ({
          topic,
          input: 'spans',
          partition: 0,
          offset: String(i),
          index: 0,
          key: s.value.traceId,
          timestampMs: s.nowMs,
          headers: {},
          value: s.value,
        }));
        const encoded = w.spans.map((s) => spanCodec.encode(s.value));
        run = (d, t) => runRedMetrics(w, inputs, d, t);
        avro = () => spansAvro(encoded);
        spans = inputs.length;
        records = inputs.length;
      }
      const implementations: Array<[prefix: string, definition: AnyProcessorDefinition]> = [['', definition]];
      if (options.before === true) implementations.push(['before: ', BEFORE[processor]]);
      // Warm-up: compile the hot paths once before anything is timed. These first runs are the
      // reference: their outputs' digest, counters and changelog.
      const reference = new Map<string, Totals>();
      for (const [prefix, d] of implementations) {
        const t = freshTotals();
        run(d, t);
        reference.set(prefix, t);
      }
      avro();
      const current = reference.get('')!;
      const digest = current.digest!.digest('hex');
      const before = reference.get('before: ');
      const runs: Array<[string, () => void]> = [['avro', avro]];
      if (pass !== undefined) runs.push(['pass-through', () => run(pass, freshTotals(false))]);
      for (const [prefix, d] of implementations) {
        const check = (e: AnyProcessorDefinition, name: string) => () => {
          const t = freshTotals(false);
          run(e, t);
          if (t.outputs !== current.outputs) throw new Error(`${processor} ${name}: outputs differ`);
        };
        // State that is copied is encoded at every get and set: no `handler` without its codec.
        if (d.stateAccess === 'live') {
          runs.push([`${prefix}handler`, check(withCodec(d, NOT_ENCODED), `${prefix}handler`)]);
        }
        runs.push([`${prefix}handler+changelog`, check(d, `${prefix}handler+changelog`)]);
        if (
          prefix === '' &&
          Object.values((d.stores ?? {}) as Record<string, StoreType<unknown>>).some(
            (store) => store.format === 'avro',
          )
        ) {
          const json = withCodec(d, jsonStateCodec());
          runs.push(['handler+json-changelog', check(json, 'handler+json-changelog')]);
        }
      }
      const times: Record<string, Timing[]> = {};
      for (let r = 0; r < reps; r++) {
        for (const [name, fn] of runs) {
          if (options.only !== undefined && options.only !== name) continue;
          const timing = await timed(fn);
          times[name] = [...(times[name] ?? []), timing];
        }
      }
      results.push({
        processor,
        variant,
        spans,
        records,
        outputs: current.outputs,
        outputDigest: digest,
        ...(before === undefined ? {} : { sameOutputsAsBefore: before.digest!.digest('hex') === digest }),
        changelog: [...reference].map(([prefix, t]) => ({
          implementation: prefix === '' ? 'current' : 'before',
          records: t.changelogRecords,
          bytesPerSpan: Math.round(t.changelogBytes / spans),
        })),
        counters: current.counters,
        scenarios: Object.entries(times)
          .filter(([, list]) => list.length > 0)
          .map(([name, list]) => scenario(name, WHAT[processor][name.replace('before: ', '')]!, spans, list)),
      });
    }
  }
  if (session !== undefined) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(options.profile!, JSON.stringify(profile));
    session.disconnect();
  }
  return results;
}

export function printHandlers(results: ProcessorResult[]): void {
  for (const r of results) {
    const base = r.scenarios.find((s) => s.name === 'avro')?.cpuMicrosPerSpan ?? Number.NaN;
    const changelog = r.changelog.map((c) => `${c.implementation} ${c.bytesPerSpan} B`).join(', ');
    const same =
      r.sameOutputsAsBefore === undefined
        ? ''
        : `, same outputs as before: ${r.sameOutputsAsBefore ? 'yes' : 'NO'}`;
    console.log(
      `${r.processor}, ${r.variant}: ${r.spans} spans (${r.records} records), ${r.outputs} outputs (digest ${r.outputDigest.slice(0, 16)}${same}), changelog per span: ${changelog}`,
    );
    console.table(
      r.scenarios.map((s) => ({
        scenario: s.name,
        'spans/CPU s': s.spansPerCpuSecond,
        'CPU µs/span': s.cpuMicrosPerSpan,
        'wall µs/span': s.wallMicrosPerSpan,
        'CPU vs avro': `${(s.cpuMicrosPerSpan / base).toFixed(2)}x`,
      })),
    );
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i === -1 ? undefined : process.argv[i + 1];
  };
  const processor = arg('--processor') as ProcessorName | undefined;
  const variant = arg('--variant') as Variant | undefined;
  if (processor !== undefined && !PROCESSORS.includes(processor))
    throw new Error(`--processor: one of ${PROCESSORS}`);
  if (variant !== undefined && !VARIANTS.includes(variant)) throw new Error(`--variant: one of ${VARIANTS}`);
  const only = arg('--only');
  const profile = arg('--profile');
  const results = await benchHandlers({
    quick: process.argv.includes('--quick'),
    before: process.argv.includes('--before'),
    ...(processor === undefined ? {} : { processors: [processor] }),
    ...(variant === undefined ? {} : { variants: [variant] }),
    ...(only === undefined ? {} : { only }),
    ...(profile === undefined ? {} : { profile }),
  });
  if (process.argv.includes('--json')) console.log(JSON.stringify(results));
  else printHandlers(results);
}
