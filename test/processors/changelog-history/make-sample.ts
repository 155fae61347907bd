/**
 * Freezes a processor's changelog as the release checked out writes it, for the upgrade tests
 * (changelog-history.test.ts): a partition's calls on a recorded workload are run up to a cut, the
 * changelog they wrote is kept as compaction would leave it, and the calls after the cut are kept with
 * what the release emitted for them. A later release must restore that changelog and emit the same.
 *
 *   node test/processors/changelog-history/make-sample.ts <processor> <out.json>
 *   npx biome format --write <out.json>
 *
 * Run it in a checkout of the release being frozen (the samples under test/processors/<processor>/
 * history/ name theirs). It reads the unit of work's changes in either shape: state key → bytes (the
 * releases before stores) or changelog key → { store, value }.
 */
import { writeFileSync } from 'node:fs';
import { chainWorkload } from '../../../bench/processors/workload.ts';
import { keepAliveWorkload } from '../../../bench/span-assembler/workload.ts';
import { createLogger } from '../../../lib/logger.ts';
import { resolveProcessorSettings } from '../../../processors/runtime/config.ts';
import type { AnyProcessorDefinition, InputRecord } from '../../../processors/runtime/definition.ts';
import { PartitionTask } from '../../../processors/runtime/partition-task.ts';
import { ProcessorTopics } from '../../../processors/runtime/processor-topics.ts';
import { TOPICS } from '../../../schemas/topics.ts';
import { simulate, TEST_CONFIG } from '../anomaly-detector/harness.ts';

export const SAMPLE_PREFIX = 'meshpipe';

export type Call =
  | { kind: 'process'; nowMs: number; record: InputRecord }
  | { kind: 'punctuate'; nowMs: number };

/** A frozen changelog and what the release did after it (values base64). */
export interface ChangelogSample {
  release: string;
  processor: string;
  /** `processors.<name>` as the sample ran. */
  config: Record<string, unknown>;
  partition: number;
  /** The compacted changelog of the partition: key, value, headers. */
  changelog: Array<{ key: string; value: string; headers: Record<string, string> }>;
  /** The partition's calls after the cut, records encoded with their topic's codec. */
  continuation: Array<
    | { kind: 'punctuate'; nowMs: number }
    | { kind: 'process'; nowMs: number; record: Omit<InputRecord, 'value' | 'input'> & { value: string } }
  >;
  /** What the release emitted for them, in order. */
  outputs: Array<{ topic: string; key: string | null; value: string }>;
}

async function definitionOf(name: string): Promise<AnyProcessorDefinition> {
  return (await import(`../../../processors/${name}/index.ts`)).default as AnyProcessorDefinition;
}

/** The calls of one partition of `name` on a small recorded workload, and the config they ran with. */
async function callsOf(name: string): Promise<{ calls: Call[]; config: Record<string, unknown> }> {
  const calls: Call[] = [];
  if (name === 'span-assembler') {
    const w = keepAliveWorkload({ connections: 24, exchangesPerConnection: 8 });
    const topic = `${SAMPLE_PREFIX}.${TOPICS.raw.suffix}`;
    for (const [i, ev] of w.events.entries()) {
      const nowMs = Number(ev.timeUnixNano / 1_000_000n);
      calls.push({ kind: 'process', nowMs, record: record(topic, 'raw', i, ev.connection.key, nowMs, ev) });
      if (i % 40 === 39) calls.push({ kind: 'punctuate', nowMs });
    }
    const end = calls.at(-1)!.nowMs;
    for (let ms = 1_000; ms <= 60_000; ms += 1_000) calls.push({ kind: 'punctuate', nowMs: end + ms });
    return { calls, config: {} };
  }
  const w = chainWorkload({ variant: 'cross-node', connections: 30, exchangesPerConnection: 6 });
  if (name === 'trace-linker') {
    const busiest = [...w.linker].sort((a, b) => b.calls.length - a.calls.length)[0]!;
    return { calls: busiest.calls as Call[], config: {} };
  }
  if (name === 'red-metrics') {
    const topic = `${SAMPLE_PREFIX}.${TOPICS.spans.suffix}`;
    for (const [i, { nowMs, value }] of w.spans.entries()) {
      calls.push({ kind: 'process', nowMs, record: record(topic, 'spans', i, value.traceId, nowMs, value) });
      if (i % 50 === 49) calls.push({ kind: 'punctuate', nowMs });
    }
    const end = calls.at(-1)!.nowMs;
    for (let ms = 10_000; ms <= 40_000; ms += 10_000) calls.push({ kind: 'punctuate', nowMs: end + ms });
    return { calls, config: {} };
  }
  if (name === 'anomaly-detector') {
    // The detector's own calls while the test harness drives it (partition 0), recorded as they happen.
    const detector = await definitionOf(name);
    const process = detector.process;
    const run = detector.punctuate!.run;
    detector.process = (r, ctx) => {
      calls.push({ kind: 'process', nowMs: ctx.now(), record: r });
      process(r, ctx);
    };
    detector.punctuate!.run = (ctx) => {
      calls.push({ kind: 'punctuate', nowMs: ctx.now() });
      run(ctx);
    };
    const sim = simulate({ seed: 11, rate: 10, flushesPerWindow: 1 });
    sim.run(12);
    sim.traffic.setFault('orders', { errorRate: 0.5, latencyMs: 400 });
    sim.run(6);
    sim.traffic.setFault('orders', {});
    sim.run(4);
    detector.process = process;
    detector.punctuate!.run = run;
    return { calls, config: TEST_CONFIG };
  }
  throw new Error(`no workload for ${name}`);
}

function record(
  topic: string,
  input: string,
  i: number,
  key: string,
  nowMs: number,
  value: unknown,
): InputRecord {
  return {
    topic,
    input: input as never,
    partition: 0,
    offset: String(i),
    index: 0,
    key,
    timestampMs: nowMs,
    headers: {},
    value,
  };
}

async function main(): Promise<void> {
  const [name, out] = process.argv.slice(2);
  if (name === undefined || out === undefined)
    throw new Error('usage: make-sample.ts <processor> <out.json>');
  const definition = await definitionOf(name);
  const { calls, config } = await callsOf(name);
  const topics = new ProcessorTopics(definition, SAMPLE_PREFIX);
  const clock = { now: calls[0]!.nowMs };
  const task = new PartitionTask({
    definition,
    config: resolveProcessorSettings(definition, { processors: { [name]: config } }).config,
    partition: calls.find((c) => c.kind === 'process')?.record.partition ?? 0,
    topics,
    now: () => clock.now,
    logger: createLogger({ component: 'make-sample', level: 'silent' }),
  });
  const changelog = new Map<string, { value: Buffer; headers: Record<string, string> } | null>();
  const outputs: ChangelogSample['outputs'] = [];
  const commit = (keepOutputs: boolean) => {
    const work = task.work();
    if (keepOutputs)
      for (const r of work.records)
        outputs.push({ topic: r.topic, key: r.key?.toString() ?? null, value: r.value.toString('base64') });
    for (const [key, change] of work.changes as ReadonlyMap<string, unknown>) {
      const c =
        change === null || Buffer.isBuffer(change) ? { store: null, value: change } : (change as never);
      const { store, value } = c as { store: string | null; value: Buffer | null };
      changelog.set(
        key,
        value === null ? null : { value, headers: store === null ? {} : { 'meshpipe-store': store } },
      );
    }
    task.commit();
  };
  const call = (c: Call) => {
    clock.now = c.nowMs;
    if (c.kind === 'punctuate') task.punctuate({ rethrow: true });
    else task.processDecoded(c.record);
  };
  // The cut: after two thirds of the records, so that the state holds entries still waiting and the
  // records after it have something to say.
  const records = calls.flatMap((c, i) => (c.kind === 'process' ? [i] : []));
  const cut = records[Math.floor((records.length * 2) / 3)]!;
  calls.slice(0, cut).forEach((c, i) => {
    call(c);
    if (i % 50 === 49) commit(false);
  });
  commit(false);
  const frozen = [...changelog].flatMap(([key, v]) =>
    v === null ? [] : [{ key, value: v.value.toString('base64'), headers: v.headers }],
  );
  const continuation: ChangelogSample['continuation'] = calls.slice(cut).map((c) => {
    if (c.kind === 'punctuate') return c;
    const { value, input: _input, ...rest } = c.record;
    return {
      kind: 'process',
      nowMs: c.nowMs,
      record: { ...rest, value: topics.input(rest.topic)!.codec.encode(value).toString('base64') },
    };
  });
  calls.slice(cut).forEach((c, i) => {
    call(c);
    if (i % 50 === 49) commit(true);
  });
  commit(true);
  const sample: ChangelogSample = {
    release: process.env.SAMPLE_RELEASE ?? 'unknown',
    processor: name,
    config,
    partition: task.partition,
    changelog: frozen,
    continuation,
    outputs,
  };
  writeFileSync(out, `${JSON.stringify(sample)}\n`);
  console.log(
    `${name}: ${frozen.length} changelog records, ${continuation.length} calls, ${outputs.length} outputs`,
  );
}

if (process.argv[1] === new URL(import.meta.url).pathname) await main();
