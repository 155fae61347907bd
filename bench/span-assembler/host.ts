/**
 * How many raw events per second does the span-assembler sustain on a real broker, run by the real
 * processor host (consumer group, Avro, exactly-once transactions with changelog state), and how does
 * that compare with a plain kafkajs consumer on the same records?
 *
 *   node bench/span-assembler/host.ts [--quick] [--reps N] [--only consume|consume-produce|host]
 *                                    [--cpu-prof-dir DIR]
 *
 * The keep-alive workload (workload.ts) is produced once to a bench-prefixed raw topic (6 partitions,
 * keyed by connection as the collectors key it); then each scenario reads all of it from the start
 * with its own consumer group, in a child process of its own (a fresh heap; `--cpu-prof-dir` profiles
 * it), one at a time, the scenarios taking turns `--reps` times (the median counts: the machine may be
 * shared):
 *
 *   consume          kafkajs consumer, eachBatch, nothing else: the transport's ceiling here;
 *   consume-produce  kafkajs consumer, Avro decode and encode of each record, the batch produced to
 *                    another topic, offsets auto-committed: a plain at-least-once Kafka-to-Kafka
 *                    processor (the baseline of the ratio);
 *   host             `ProcessorHost` running span-assembler: decode, handler, spans to the linking
 *                    topic, changelog records and offsets in one transaction per partition batch.
 *
 * Rates run from a scenario's first record to the moment all records are consumed (for the host:
 * committed), so group joins and restores are left out. Uses MESHPIPE_KAFKA_BROKERS, else the local
 * stack (started if needed). Topics and groups are deleted afterwards.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ensureStack } from '../../cli/stack/stack.ts';
import { createKafka, type KafkaAdmin, type KafkaClient } from '../../lib/kafka.ts';
import { createLogger } from '../../lib/logger.ts';
import { resolveProcessorSettings } from '../../processors/runtime/config.ts';
import type { AnyProcessorDefinition } from '../../processors/runtime/definition.ts';
import { ProcessorHost } from '../../processors/runtime/host.ts';
import spanAssembler from '../../processors/span-assembler/index.ts';
import { allTopicDefinitions, ensureTopics } from '../../schemas/cluster-topics.ts';
import { codecFor } from '../../schemas/codec.ts';
import { TOPICS, topicName } from '../../schemas/topics.ts';
import type { L7RawEvent } from '../../schemas/types.ts';
import { keepAliveWorkload } from './workload.ts';

const logger = createLogger({ component: 'bench/span-assembler', level: 'warn' });
const silent = createLogger({ component: 'bench/span-assembler', level: 'silent' });
const rawCodec = codecFor<L7RawEvent>('l7-raw-event');

export interface HostScenario {
  name: string;
  what: string;
  /** The median of the repetitions. */
  eventsPerSecond: number;
  seconds: number;
  /** Each repetition's rate, best first. */
  runs: number[];
  /** Records the scenario wrote (outputs: for the host, spans to the linking topic). */
  produced?: number;
  /** Host: offsets its changelog topic advanced by over all repetitions (records and commit markers). */
  changelogOffsets?: number;
}

interface ChildResult {
  seconds: number;
  produced: number;
}

const SCENARIOS = {
  consume: "the Kafka adapter's consumer (lib/kafka/), nothing else: the transport ceiling",
  'consume-produce':
    'the same consumer, Avro decode + encode per record, batch produced, offsets committed per batch',
  host: 'span-assembler in the processor host: EOS transactions, changelog state, spans to linking',
} as const;
type ScenarioName = keyof typeof SCENARIOS;

export interface HostResult {
  brokers: string[];
  events: number;
  rawBytes: number;
  partitions: number;
  scenarios: HostScenario[];
}

async function brokers(): Promise<string[]> {
  const fromEnv = process.env.MESHPIPE_KAFKA_BROKERS;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv.split(',');
  const stack = await ensureStack({ logger, redis: false });
  return stack.endpoints.kafkaBrokers;
}

async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A plain consumer over the raw topic; with `produceTo`, decode + encode + produce per batch. */
async function plainConsumer(
  kafka: KafkaClient,
  topic: string,
  total: number,
  groupId: string,
  produceTo: string | null,
): Promise<{ seconds: number; produced: number }> {
  const producer = produceTo === null ? null : kafka.producer();
  let seen = 0;
  let produced = 0;
  let first: number | undefined;
  let last = 0;
  const consumer = kafka.consumer({
    groupId,
    topics: [topic],
    fromBeginning: true,
    maxWaitMs: 100,
    maxBytesPerPartition: 1_048_576,
    concurrency: 4,
    eachBatch: async (batch) => {
      first ??= performance.now();
      if (producer !== null && produceTo !== null) {
        const messages = batch.records.map((m) => ({
          key: m.key,
          value: rawCodec.encode(rawCodec.decode(m.value!)),
        }));
        await producer.send({ topic: produceTo, messages });
        produced += messages.length;
      }
      seen += batch.records.length;
      last = performance.now();
      await consumer.commit([
        { topic, partition: batch.partition, offset: BigInt(batch.records.at(-1)!.offset) + 1n },
      ]);
    },
  });
  await producer?.connect();
  await consumer.connect();
  try {
    await until(() => seen >= total, 600_000, `${groupId} to read ${total} records`);
  } finally {
    await consumer.disconnect();
    await producer?.disconnect();
  }
  return { seconds: (last - first!) / 1000, produced };
}

/** span-assembler run by the processor host until it has committed every raw record. */
async function hostRun(kafka: KafkaClient, prefix: string, total: number): Promise<ChildResult> {
  const definition = spanAssembler as unknown as AnyProcessorDefinition;
  let first: number | undefined;
  // The handler as it is, plus the time of the first record (group join and restore are left out).
  const timed: AnyProcessorDefinition = {
    ...definition,
    process(record, ctx) {
      first ??= performance.now();
      definition.process(record, ctx);
    },
  };
  const settings = resolveProcessorSettings(timed, {
    processors: { [definition.name]: { runtime: { maxWaitMs: 100 } } },
  });
  const host = new ProcessorHost({
    definition: timed,
    settings,
    kafka,
    topicPrefix: prefix,
    replicationFactor: -1,
    logger: silent,
    instanceId: 'bench',
  });
  await host.start();
  let last = 0;
  try {
    await until(
      () => {
        const done = host.metrics.totals().consumed >= total;
        if (done) last = performance.now();
        return done;
      },
      600_000,
      `the host to commit ${total} records`,
    );
  } finally {
    await host.stop();
  }
  return { seconds: (last - first!) / 1000, produced: host.metrics.totals().produced };
}

async function offsetsOf(admin: KafkaAdmin, topic: string): Promise<number> {
  const offsets = await admin.topicOffsets(topic).catch(() => []);
  return offsets.reduce((sum, o) => sum + Number(o.high - o.low), 0);
}

/** One scenario, run in this process (the child side of `runChild`). */
async function runScenario(
  name: ScenarioName,
  prefix: string,
  total: number,
  rep: number,
): Promise<ChildResult> {
  const kafka = createKafka({ brokers: await brokers(), clientId: 'bench-span-assembler', logger: silent });
  const raw = topicName(TOPICS.raw, prefix);
  const group = `${prefix}-${name}-${rep}`;
  if (name === 'consume') return plainConsumer(kafka, raw, total, group, null);
  if (name === 'consume-produce') return plainConsumer(kafka, raw, total, group, `${prefix}.bench-sink.v1`);
  // Each repetition of the host starts from no state and no offsets: a prefix of its own for the
  // group and changelog, reading the shared raw topic.
  return hostRun(kafka, prefix, total);
}

/** Runs one scenario in a child process (optionally profiled); returns what it measured. */
async function runChild(
  name: ScenarioName,
  prefix: string,
  total: number,
  rep: number,
  profileDir: string | undefined,
): Promise<ChildResult> {
  const args = [
    ...(profileDir === undefined
      ? []
      : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`]),
    fileURLToPath(import.meta.url),
    '--child',
    name,
    prefix,
    String(total),
    String(rep),
  ];
  const { stdout } = await promisify(execFile)(process.execPath, args, {
    env: { ...process.env, MESHPIPE_KAFKA_BROKERS: (await brokers()).join(',') },
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as ChildResult;
}

/** The workload onto a raw topic, keyed by connection (before any scenario starts reading it). */
async function produceRaw(
  kafka: KafkaClient,
  topic: string,
  messages: Array<{ key: string; value: Buffer }>,
) {
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 5_000) {
      await producer.send({ topic, messages: messages.slice(i, i + 5_000) });
    }
  } finally {
    await producer.disconnect();
  }
}

async function cleanup(admin: KafkaAdmin, prefix: string): Promise<void> {
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  if (topics.length > 0) await admin.deleteTopics(topics).catch(() => {});
  const groups = (await admin.listGroups()).filter((g) => g.startsWith(prefix));
  if (groups.length > 0) await admin.deleteGroups(groups).catch(() => {});
}

export async function benchHost(
  options: { quick?: boolean; only?: string; reps?: number; profileDir?: string } = {},
): Promise<HostResult> {
  const list = await brokers();
  const kafka = createKafka({ brokers: list, clientId: 'bench-span-assembler', logger: silent });
  const admin = kafka.admin();
  await admin.connect();
  const prefix = `bench-sa-${randomBytes(3).toString('hex')}`;
  try {
    await ensureTopics(admin, allTopicDefinitions(), { prefix, replicationFactor: -1 });
    const raw = topicName(TOPICS.raw, prefix);
    const sink = `${prefix}.bench-sink.v1`;
    await admin.createTopics([{ topic: sink, numPartitions: TOPICS.raw.partitions }]);

    // Three times the handler bench's connections: long enough a run for a steady rate.
    const workload = keepAliveWorkload(
      options.quick === true ? { connections: 200, exchangesPerConnection: 50 } : { connections: 600 },
    );
    const events = workload.events;
    const encoded = events.map((ev) => ({ key: ev.connection.key, value: rawCodec.encode(ev) }));
    const rawBytes = encoded.reduce((sum, m) => sum + m.value.length, 0);
    await produceRaw(kafka, raw, encoded);

    const n = events.length;
    const names = (Object.keys(SCENARIOS) as ScenarioName[]).filter(
      (name) => options.only === undefined || options.only === name,
    );
    const reps = options.reps ?? (options.quick === true ? 1 : 3);
    const measured = new Map<ScenarioName, ChildResult[]>(names.map((name) => [name, []]));
    for (let rep = 0; rep < reps; rep++) {
      for (const name of names) {
        // The host's group and changelog are named by its prefix: each repetition gets fresh ones.
        const hostPrefix = `${prefix}-h${rep}`;
        if (name === 'host') {
          await ensureTopics(admin, [TOPICS.raw, TOPICS.linking, TOPICS.dlq, TOPICS.metrics], {
            prefix: hostPrefix,
            replicationFactor: -1,
          });
          await produceRaw(kafka, topicName(TOPICS.raw, hostPrefix), encoded);
        }
        const profile = rep === 0 ? options.profileDir : undefined;
        measured
          .get(name)!
          .push(await runChild(name, name === 'host' ? hostPrefix : prefix, n, rep, profile));
      }
    }
    const scenarios: HostScenario[] = [];
    for (const name of names) {
      const results = measured.get(name)!;
      const rates = results.map((r) => n / r.seconds).sort((a, b) => b - a);
      const median = results.map((r) => r.seconds).sort((a, b) => a - b)[Math.floor(results.length / 2)]!;
      const scenario: HostScenario = {
        name,
        what: SCENARIOS[name],
        eventsPerSecond: Math.round(n / median),
        seconds: round(median),
        runs: rates.map(Math.round),
      };
      if (name !== 'consume') scenario.produced = results[0]!.produced;
      if (name === 'host') {
        let offsets = 0;
        for (let rep = 0; rep < reps; rep++) {
          offsets += await offsetsOf(admin, `${prefix}-h${rep}.span-assembler.changelog.v1`);
        }
        scenario.changelogOffsets = offsets;
      }
      scenarios.push(scenario);
    }
    return { brokers: list, events: n, rawBytes, partitions: TOPICS.raw.partitions, scenarios };
  } finally {
    await cleanup(admin, prefix).catch(() => {});
    await admin.disconnect();
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

export function printHost(result: HostResult): void {
  const base = result.scenarios.find((s) => s.name === 'consume-produce')?.eventsPerSecond ?? Number.NaN;
  console.log(
    `span-assembler on Kafka ${result.brokers.join(',')}: ${result.events} raw events (${(result.rawBytes / 1e6).toFixed(1)} MB) on ${result.partitions} partitions`,
  );
  console.table(
    result.scenarios.map((s) => ({
      scenario: s.name,
      'events/s': s.eventsPerSecond,
      seconds: s.seconds,
      'vs consume-produce': `${(s.eventsPerSecond / base).toFixed(2)}x`,
      'vs 100K/s': `${(s.eventsPerSecond / 100_000).toFixed(2)}x`,
    })),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argv = process.argv;
  const child = argv.indexOf('--child');
  if (child !== -1) {
    const [name, prefix, total, rep] = argv.slice(child + 1);
    const result = await runScenario(name as ScenarioName, prefix!, Number(total), Number(rep));
    console.log(JSON.stringify(result));
    process.exit(0); // kafkajs may leave a timer behind; the measurement is done
  } else {
    const flag = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
    const only = flag('--only');
    const reps = flag('--reps');
    const profileDir = flag('--cpu-prof-dir');
    printHost(
      await benchHost({
        quick: argv.includes('--quick'),
        ...(only === undefined ? {} : { only }),
        ...(reps === undefined ? {} : { reps: Number(reps) }),
        ...(profileDir === undefined ? {} : { profileDir }),
      }),
    );
  }
}
