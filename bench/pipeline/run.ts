/**
 * How fast does the off-node half of meshpipe go, and how late do spans arrive? Raw events per second
 * through span-assembler (one instance, then two), trace-linker, red-metrics and the OTLP sink on the
 * real broker, against plain kafkajs producing and consuming the same records in the same run; then
 * the live chain end to end, from the kernel's syscall timestamp to the span at an OTLP receiver.
 *
 *   npm run bench:pipeline                 (root for the end-to-end part: eBPF, namespaces)
 *   npm run bench:pipeline -- --quick
 *   node bench/pipeline/run.ts --no-e2e    (throughput only, no root needed)
 *   node bench/pipeline/run.ts --e2e-only [--e2e-rates 1000,5000] [--out file]
 *                                          (CPU per observed request beside a sidecar pair: end-to-end.ts)
 *   node bench/pipeline/run.ts --kafka-clients ...   (first, the Kafka client comparison on the same
 *                                          broker: kafka-clients.ts, its options too)
 *
 * Throughput (per component, each a real `meshpipe process <name>` / `meshpipe sink otlp` process):
 *   the workload is bench/span-assembler's recorded-shape stream (workload.ts: keep-alive HTTP/1.1
 *   between five services, both ends captured, redacted by the collector's framer), re-timed to now and
 *   Avro-encoded once. The whole stream is produced first (a backlog, gzip like the collector's), then
 *   the instances start; once the consumer group is stable, the rate is records consumed (committed)
 *   per second from the first commit to the last, read from each instance's /metrics (what was consumed
 *   while the group formed is not counted). Downstream stages read what the upstream stage wrote (a
 *   backlog too), so each is measured at its own full speed.
 * Baselines: kafkajs producing the stream (idempotent, acks=all, 2000 records per request, like the
 *   collector) and a plain kafkajs consumer group reading it (and reading + Avro-decoding it).
 * End to end: bench/overhead's pods, nginx and paced load; the real collector; span-assembler,
 *   trace-linker, red-metrics and the OTLP sink with their default settings; latency = arrival at the
 *   receiver − span end time (the kernel timestamp of the exchange's last syscall), p50/p99 by span kind.
 *
 * Results: bench/results/pipeline.json.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readStackState } from '../../cli/stack/stack.ts';
import { type Compression, createKafka, type KafkaAdmin, type KafkaClient } from '../../lib/kafka.ts';
import { createLogger } from '../../lib/logger.ts';
import { allTopicDefinitions, ensureTopics } from '../../schemas/cluster-topics.ts';
import { batchRecordsOf, topicCodec } from '../../schemas/topic-codec.ts';
import { TOPICS, topicName } from '../../schemas/topics.ts';
import type { L7RawEvent } from '../../schemas/types.ts';
import { benchBrokers, benchTopics, machineFacts } from '../environment.ts';
import { precompile } from '../overhead/precompile.ts';
import { cpuSecondsOf, type MemoryUsage, memorySampler } from '../overhead/proc-stats.ts';
import { installSignalHandlers } from '../overhead/topology.ts';
import { collectorBatches, keepAliveWorkload, WORKLOAD_T0 } from '../span-assembler/workload.ts';
import { type Component, type ComponentOptions, startOtlpSink, startProcessor } from './components.ts';
import { measureEndToEnd } from './end-to-end.ts';
import { parseOptions, runKafkaClients } from './kafka-clients.ts';
import { type Receiver, startReceiver } from './receiver-process.ts';

const execFileAsync = promisify(execFile);
const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const E2E = !argv.includes('--no-e2e');
/** Only the end-to-end part (CPU per observed request beside a sidecar pair, latency). */
const E2E_ONLY = argv.includes('--e2e-only');
const flagValue = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const E2E_RATES = (flagValue('e2e-rates') ?? (QUICK ? '5000' : '1000,5000')).split(',').map(Number);
const SIZE = QUICK
  ? { connections: 400, exchangesPerConnection: 25 }
  : { connections: 2000, exchangesPerConnection: 30 };
const E2E_SECONDS = QUICK ? 8 : 20;
const BASELINE_CONSUMER = fileURLToPath(new URL('./baseline-consumer.ts', import.meta.url));
const RESULTS =
  flagValue('out') ??
  fileURLToPath(new URL(`../results/${E2E_ONLY ? 'end-to-end' : 'pipeline'}.json`, import.meta.url));
const PROMISE_EVENTS_PER_SECOND = 100_000;

const logger = createLogger({ component: 'bench/pipeline', level: 'warn' });
const round = (n: number, d = 0) => Math.round(n * 10 ** d) / 10 ** d;

/** One produce request of the collectors: batch records, one per partition and node, and their event count. */
interface Request {
  messages: Array<{ partition: number; value: Buffer }>;
  events: number;
}

/**
 * The workload, re-timed so that its last event is now, as the collectors write it: every 20 ms, each
 * node's events as batch records of the raw topic (schemas/l7-raw-batch.avsc), one per partition.
 */
function buildMessages() {
  const workload = keepAliveWorkload(SIZE);
  const last = workload.events.at(-1)!.timeUnixNano;
  const shift = BigInt(Date.now()) * 1_000_000n - last;
  const codec = topicCodec<L7RawEvent>(TOPICS.raw);
  for (const ev of workload.events) ev.timeUnixNano += shift;
  const requests: Request[] = [];
  for (const group of collectorBatches(workload.events)) {
    requests.push({
      messages: batchRecordsOf(codec, group.events, TOPICS.raw.partitions),
      events: group.events.length,
    });
  }
  const bytes = requests.reduce((a, r) => a + r.messages.reduce((b, m) => b + m.value.length, 0), 0);
  return {
    requests,
    events: workload.events.length,
    exchanges: workload.exchanges,
    connections: workload.connections,
    avgEventBytes: round(bytes / workload.events.length),
    recordedSeconds: Number(last - WORKLOAD_T0) / 1e9,
  };
}

/** The adapter's producer sending the collector's requests; returns events per second. */
async function produce(
  kafka: KafkaClient,
  topic: string,
  requests: Request[],
  compression: Compression,
): Promise<number> {
  const producer = kafka.producer({ idempotent: true, compression });
  await producer.connect();
  const started = performance.now();
  let events = 0;
  for (const r of requests) {
    await producer.send({ topic, messages: r.messages });
    events += r.events;
  }
  const seconds = (performance.now() - started) / 1000;
  await producer.disconnect();
  return round(events / seconds);
}

async function baselineConsume(brokers: string[], topic: string, expected: number, decode: boolean) {
  const { stdout } = await execFileAsync(
    process.execPath,
    [BASELINE_CONSUMER, brokers.join(','), topic, String(expected), ...(decode ? ['decode'] : [])],
    { timeout: 180_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    records: number;
    seconds: number;
    eventsPerSecond: number;
  };
}

async function groupStable(
  admin: KafkaAdmin,
  groupId: string,
  members: number,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const g = await admin.describeGroup(groupId).catch(() => undefined);
    if (g !== undefined && g.state === 'Stable' && g.members.length === members) return;
    await sleep(200);
  }
  throw new Error(`consumer group ${groupId} did not become stable with ${members} member(s)`);
}

interface StageFigures {
  component: string;
  instances: number;
  /** The backlog was gone before the group was stable (--quick): measured from the spawn. */
  includesStartup?: boolean;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  perInstanceRecordsPerSecond: number;
  cpuSecondsPerInstance: number[];
  cpuMicrosPerRecord: number;
  peakMemory: Array<MemoryUsage | null>;
  /** CPU of processes that serve the stage without being it (the OTLP receiver). */
  observersCpuMicrosPerRecord?: Record<string, number>;
}

/**
 * Polls `progress` until it reaches `expected` (or stops moving for `quietMs` after reaching a part of it);
 * the rate is from the first progress to the last, with CPU and peak memory of the instances over it.
 */
async function follow(
  component: string,
  instances: Component[],
  progress: () => Promise<number>,
  expected: number | null,
  quietMs = 3000,
  timeoutMs = 300_000,
  observers: Array<{ name: string; pid: number }> = [],
  /** When the instances were spawned (performance.now()): the start of the window when a small
   * backlog (--quick) was consumed before this call; the figure then includes their start-up. */
  spawnedAt?: number,
): Promise<StageFigures> {
  const samplers = instances.map((c) => memorySampler(() => [c.pid]));
  const pids = instances.map((c) => c.pid);
  const observed0 = observers.map((o) => cpuSecondsOf([o.pid]));
  const deadline = Date.now() + timeoutMs;
  let first: { at: number; value: number; cpu: number[] } | null = null;
  // Progress made before this call (records consumed while the group formed) is not counted.
  let last = { at: performance.now(), value: await progress(), cpu: pids.map((p) => cpuSecondsOf([p])) };
  const initial = last.value;
  const consumedBefore = expected !== null && initial >= expected;
  if (consumedBefore && spawnedAt === undefined)
    throw new Error(`${component}: all ${expected} records were consumed before the measurement began`);
  if (consumedBefore) first = { at: spawnedAt!, value: 0, cpu: pids.map(() => 0) };
  for (;;) {
    const value = await progress();
    const now = performance.now();
    if (first === null && value > initial) {
      first = { at: last.at, value: last.value, cpu: last.cpu };
    }
    if (value !== last.value) last = { at: now, value, cpu: pids.map((p) => cpuSecondsOf([p])) };
    if (expected !== null && value >= expected) break;
    if (first !== null && now - last.at > quietMs && (expected === null || value >= 0.999 * expected)) break;
    if (Date.now() > deadline)
      throw new Error(`${component}: ${value} of ${expected ?? '?'} records within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
  const start = first!;
  const seconds = (last.at - start.at) / 1000;
  const records = last.value - start.value;
  const cpu = pids.map((_, i) => last.cpu[i]! - start.cpu[i]!);
  return {
    component,
    instances: instances.length,
    ...(consumedBefore ? { includesStartup: true } : {}),
    records,
    seconds: round(seconds, 2),
    recordsPerSecond: round(records / seconds),
    perInstanceRecordsPerSecond: round(records / seconds / instances.length),
    cpuSecondsPerInstance: cpu.map((c) => round(c, 2)),
    cpuMicrosPerRecord: round((cpu.reduce((a, b) => a + b, 0) * 1e6) / records, 1),
    peakMemory: samplers.map((s) => s.stop()),
    ...(observers.length === 0
      ? {}
      : {
          observersCpuMicrosPerRecord: Object.fromEntries(
            observers.map((o, i) => [
              o.name,
              round(((cpuSecondsOf([o.pid]) - observed0[i]!) * 1e6) / records, 1),
            ]),
          ),
        }),
  };
}

const sumConsumed = (cs: Component[]) => async () => {
  let total = 0;
  for (const c of cs) total += (await c.consumed().catch(() => 0)) ?? 0;
  return total;
};

async function main(): Promise<void> {
  const startedAt = Date.now();
  if (E2E && process.getuid?.() !== 0)
    throw new Error('run as root (the end-to-end part captures with eBPF), or pass --no-e2e');
  const brokers = await benchBrokers(logger);
  if (argv.includes('--kafka-clients')) await runKafkaClients({ ...parseOptions(argv), brokers });
  const run = `bench-pipeline-${randomBytes(3).toString('hex')}`;
  const prefixes = { baseline: `${run}-base`, one: `${run}-x1`, two: `${run}-x2`, e2e: `${run}-e2e` };
  const kafka = createKafka({ brokers, clientId: 'bench-pipeline', logger });
  const { admin, drop: dropTopics } = await benchTopics(brokers, run, 'bench-pipeline', logger);
  installSignalHandlers(dropTopics);
  for (const p of [prefixes.baseline, prefixes.one, prefixes.two]) {
    await ensureTopics(admin, allTopicDefinitions(), { prefix: p, replicationFactor: -1 });
  }
  try {
    if (E2E_ONLY) await e2eOnly(brokers, prefixes.e2e, startedAt);
    else await stagesAndE2e(kafka, admin, brokers, prefixes, startedAt);
  } finally {
    await dropTopics();
  }
}

/** `--e2e-only`: the end-to-end part alone, to bench/results/end-to-end.json (or --out). */
async function e2eOnly(brokers: string[], prefix: string, startedAt: number): Promise<void> {
  const receiver = await startReceiver();
  const e2e = await endToEnd(brokers, prefix, receiver);
  receiver.stop();
  const results = {
    question:
      'CPU per observed request, end to end (collector + span-assembler + trace-linker + red-metrics + OTLP sink), beside the CPU a sidecar pair spends forwarding the same request, in one run; captured-and-paired share; syscall → span latency',
    date: new Date().toISOString(),
    quick: QUICK,
    machine: { ...machineFacts(), kafka: brokers.join(',') },
    endToEnd: e2e,
    checkout: checkoutState(),
    elapsedSeconds: Math.round((Date.now() - startedAt) / 1000),
  };
  mkdirSync(join(RESULTS, '..'), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`results: ${RESULTS}`);
}

async function stagesAndE2e(
  kafka: KafkaClient,
  admin: KafkaAdmin,
  brokers: string[],
  prefixes: Record<'baseline' | 'one' | 'two' | 'e2e', string>,
  startedAt: number,
): Promise<void> {
  const raw = (p: string) => topicName(TOPICS.raw, p);
  const options = (topicPrefix: string): ComponentOptions => ({ brokers, topicPrefix });

  console.log('building the workload (bench/span-assembler/workload.ts)...');
  const w = buildMessages();
  const n = w.events;
  const records = w.requests.reduce((a, r) => a + r.messages.length, 0);
  console.log(
    `${n} raw events (${w.exchanges} exchanges on ${w.connections} connections) in ${records} batch records, ${w.avgEventBytes} bytes per event`,
  );

  // 1. Baselines: plain kafkajs.
  const producePlain = await produce(kafka, raw(prefixes.baseline), w.requests, 'none');
  const consumePlain = await baselineConsume(brokers, raw(prefixes.baseline), records, false);
  const consumeDecode = await baselineConsume(brokers, raw(prefixes.baseline), n, true);
  console.log(
    `baseline kafkajs: produce ${producePlain} events/s · consume ${consumePlain.eventsPerSecond} records/s · consume+decode ${consumeDecode.eventsPerSecond} events/s`,
  );

  // 2. span-assembler, one instance, then the chain behind it on its output.
  const stages: StageFigures[] = [];
  // On a backlog (the stream produced first, gzip like the collector's), measured from the moment the
  // group is stable: a consumer racing a producer would measure the producer.
  const produceZstd = await produce(kafka, raw(prefixes.one), w.requests, 'zstd');
  const spawned1 = performance.now();
  const sa1 = await startProcessor('span-assembler', options(prefixes.one));
  await groupStable(admin, `${prefixes.one}-span-assembler`, 1);
  stages.push(await follow('span-assembler', [sa1], sumConsumed([sa1]), n, 3000, 300_000, [], spawned1));
  // Spans of unpaired ends wait pairWaitMs (2 s) before they leave: wait for the output to settle.
  const linkingWritten = await settle(() => sa1.produced(/spans\.linking\.v2/).then((v) => v ?? 0), 4000);
  await sa1.stop();
  console.log(
    `span-assembler ×1: ${stages.at(-1)!.recordsPerSecond} raw events/s (${linkingWritten} spans out)`,
  );

  const linker = await startProcessor('trace-linker', options(prefixes.one));
  // Its input also receives its own trace-id questions and answers; the stage counts as done once it
  // consumed as many records as span-assembler wrote.
  stages.push(await follow('trace-linker', [linker], sumConsumed([linker]), linkingWritten));
  // CLIENT spans wait causalityWaitMs (5 s), unresolved parents resolveTimeoutMs (10 s).
  const spans = await settle(() => linker.produced(/\.spans\.v2/).then((v) => v ?? 0), 12_000);
  await linker.stop();
  console.log(`trace-linker: ${stages.at(-1)!.recordsPerSecond} records/s (${spans} spans out)`);

  const red = await startProcessor('red-metrics', options(prefixes.one));
  stages.push(await follow('red-metrics', [red], sumConsumed([red]), spans));
  await red.stop();
  console.log(`red-metrics: ${stages.at(-1)!.recordsPerSecond} spans/s`);

  const receiver = await startReceiver();
  const sink = await startOtlpSink(receiver.endpoint, options(prefixes.one));
  stages.push(
    await follow('otlp-sink', [sink], async () => (await receiver.stats()).spans, spans, 3000, 300_000, [
      { name: 'receiver (backend)', pid: receiver.child.pid! },
    ]),
  );
  await sink.stop();
  console.log(`otlp sink: ${stages.at(-1)!.recordsPerSecond} spans/s`);

  // 3. span-assembler, two instances (two processes, one consumer group).
  // The same backlog, measured from the first commit: the two instances start together, and the
  // rebalance when the second joins the first is part of the figure (a small backlog could be gone
  // before the group is stable).
  await produce(kafka, raw(prefixes.two), w.requests, 'zstd');
  const spawned2 = performance.now();
  const sa2 = await Promise.all([
    startProcessor('span-assembler', options(prefixes.two)),
    startProcessor('span-assembler', options(prefixes.two)),
  ]);
  stages.push(await follow('span-assembler', sa2, sumConsumed(sa2), n, 3000, 300_000, [], spawned2));
  await Promise.all(sa2.map((c) => c.stop()));
  const startup = (s: StageFigures) =>
    s.includesStartup === true
      ? ' (includes start-up: the backlog was gone before the group was stable)'
      : '';
  console.log(`span-assembler ×2: ${stages.at(-1)!.recordsPerSecond} raw events/s${startup(stages.at(-1)!)}`);

  // 4. End to end on live capture.
  const e2e = E2E ? await endToEnd(brokers, prefixes.e2e, receiver) : null;
  receiver.stop();

  const eventsPerSpan = n / Math.max(1, spans);
  const base = consumePlain.eventsPerSecond;
  const one = stages[0]!;
  const two = stages.at(-1)!;
  const results = {
    question:
      'raw events per second through span-assembler (1 and 2 instances), trace-linker, red-metrics and the OTLP sink on the real broker, against plain kafkajs; end-to-end span latency from the syscall to the receiver',
    date: new Date().toISOString(),
    quick: QUICK,
    machine: {
      ...machineFacts(),
      kafka: brokers.join(','),
    },
    workload: {
      source: 'bench/span-assembler/workload.ts keepAliveWorkload',
      ...SIZE,
      rawEvents: n,
      exchanges: w.exchanges,
      spans,
      rawEventsPerSpan: round(eventsPerSpan, 2),
      avgEventBytes: w.avgEventBytes,
      batchRecords: records,
    },
    baseline: {
      kafkajsProduceEventsPerSecond: producePlain,
      kafkajsProduceZstdEventsPerSecond: produceZstd,
      kafkajsConsumeRecordsPerSecond: consumePlain.eventsPerSecond,
      kafkajsConsumeDecodeEventsPerSecond: consumeDecode.eventsPerSecond,
    },
    stages: stages.map((s) => ({
      ...s,
      rawEventsPerSecond:
        s.component === 'span-assembler' ? s.recordsPerSecond : round(s.recordsPerSecond * eventsPerSpan),
      vsKafkajsConsume: round(s.recordsPerSecond / base, 3),
    })),
    summary: {
      spanAssemblerOneInstance: one.recordsPerSecond,
      spanAssemblerTwoInstances: two.recordsPerSecond,
      scaling: round(two.recordsPerSecond / one.recordsPerSecond, 2),
      promise: `span-assembler ≥ ${PROMISE_EVENTS_PER_SECOND} raw events/s per instance`,
      promiseMet: one.recordsPerSecond >= PROMISE_EVENTS_PER_SECOND,
      spanAssemblerVsKafkajsConsume: round(one.recordsPerSecond / base, 3),
    },
    endToEnd: e2e,
    checkout: checkoutState(),
    elapsedSeconds: Math.round((Date.now() - startedAt) / 1000),
  };
  mkdirSync(join(RESULTS, '..'), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  console.log(
    `\nspan-assembler: ${one.recordsPerSecond} raw events/s with 1 instance (${round(one.recordsPerSecond / base, 2)}x kafkajs consume; promise ${PROMISE_EVENTS_PER_SECOND}: ${results.summary.promiseMet ? 'met' : 'MISSED'}), ${two.recordsPerSecond} with 2 (${results.summary.scaling}x)`,
  );
  console.log(`results: ${RESULTS} (${results.elapsedSeconds} s)`);
}

/** The commit measured, and whether the working tree had changes (the checkout is shared). */
function checkoutState(): { commit: string; modified: string[] } {
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, {
        encoding: 'utf8',
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
      }).trim();
    } catch {
      return '';
    }
  };
  return {
    commit: git(['rev-parse', 'HEAD']),
    modified: git(['status', '--porcelain', '--untracked-files=no'])
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3)),
  };
}

/** Waits until `value` has not changed for `quietMs` (at most 60 s); returns it. */
async function settle(value: () => Promise<number>, quietMs: number): Promise<number> {
  let last = await value();
  let since = Date.now();
  const deadline = Date.now() + 60_000;
  while (Date.now() - since < quietMs && Date.now() < deadline) {
    await sleep(250);
    const v = await value();
    if (v !== last) {
      last = v;
      since = Date.now();
    }
  }
  return last;
}

/** The live chain on real capture, beside a sidecar pair (end-to-end.ts), at every rate and variant. */
async function endToEnd(brokers: string[], prefix: string, receiver: Receiver) {
  const variants = QUICK ? E2E_VARIANTS.slice(0, 1) : E2E_VARIANTS;
  const rates = await measureEndToEnd({
    brokers,
    prefix,
    receiver,
    rates: E2E_RATES,
    warmupSeconds: 3,
    durationSeconds: E2E_SECONDS,
    kafkaPid: readStackState()?.kafka?.pid ?? null,
    variants,
    logger,
    // Every component compiled to JavaScript, as the image runs it (bench/overhead/precompile.ts).
    entry: precompile(),
  });
  return {
    method: `bench/pipeline/end-to-end.ts: nginx between two pods (bench/overhead's topology), paced load over 16 keep-alive connections for ${E2E_SECONDS} s after a 3 s warm-up, nothing pinned; the sidecar pair forwarding it, then meshpipe observing it (collector, span-assembler, trace-linker, red-metrics, OTLP sink into a gRPC receiver), CPU until every span arrived; every component run compiled to JavaScript as the image runs it`,
    variants: Object.fromEntries(variants.map((v) => [v.name, v.what])),
    rates,
  };
}

/** Processor and sink settings of an end-to-end variant (a meshpipe.json). */
const E2E_VARIANTS: Array<{ name: string; what: string; config: object }> = [
  {
    name: 'defaults',
    what: 'default settings: span-assembler pairWaitMs 2000 / punctuateMs 1000; trace-linker causalityWaitMs 5000 / punctuateMs 500; fetch maxWaitMs 500; OTLP sink lingerMs 1000',
    config: {},
  },
  {
    name: 'low-latency',
    what: 'span-assembler pairWaitMs 300 / punctuateMs 100; trace-linker causalityWaitMs 500 / resolveTimeoutMs 1000 / punctuateMs 100; fetch maxWaitMs 50; OTLP sink lingerMs 100',
    config: {
      processors: {
        'span-assembler': { pairWaitMs: 300, punctuateMs: 100, runtime: { maxWaitMs: 50 } },
        'trace-linker': {
          causalityWaitMs: 500,
          resolveTimeoutMs: 1000,
          punctuateMs: 100,
          runtime: { maxWaitMs: 50 },
        },
        'red-metrics': { runtime: { maxWaitMs: 50 } },
      },
      sinks: { otlp: { lingerMs: 100 } },
    },
  },
];

await main();
process.exit(0);
