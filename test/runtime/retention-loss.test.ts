/**
 * Lag past retention on a real broker (its own: it checks retention every second): a processor
 * (`meshpipe process`, frozen with SIGSTOP) and a sink (its receiver stalled, consumption paused by
 * backpressure) fall behind; meanwhile their input topic's retention drops to one second (1 KiB
 * segments), so the broker deletes records they have not read. Those are counted as lost — metric and
 * status line — and every record is either processed or counted lost.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
// kafkajs, an independent client, only to alter a topic's retention (meshpipe's adapter never needs to).
import { Kafka as Kafkajs, type Admin as KafkajsAdmin, logLevel } from 'kafkajs';
import { s } from '../../lib/config/spec.ts';
import { createKafka, type KafkaAdmin, type KafkaClient, readPartitionsToEnd } from '../../lib/kafka.ts';
import { RetentionLoss } from '../../runtime/retention-loss.ts';
import { allTopicDefinitions, ensureTopics } from '../../schemas/cluster-topics.ts';
import { codecFor } from '../../schemas/codec.ts';
import { TOPICS, topicName } from '../../schemas/topics.ts';
import type { MetricSample, Span } from '../../schemas/types.ts';
import { defineSink, sinkHostFields } from '../../sinks/runtime/definition.ts';
import { SUCCESS } from '../../sinks/runtime/exporter.ts';
import { type RunningSink, startSink } from '../../sinks/runtime/host.ts';
import { SPAN } from '../../testkit/fixtures.ts';
import { testLogger } from '../../testkit/kafka.ts';
import { startTestBroker, type TestBroker } from '../helpers/kafka-broker.ts';
import { waitFor } from '../helpers/wait.ts';
import { COUNTER_INPUT } from '../processors/runtime/fixtures/counter.ts';
import {
  COUNTER_PATH,
  counterTopics,
  encodeCounterInput,
  startCli,
  testConfigFile,
} from '../processors/runtime/helpers.ts';

/** A topic of small segments (retention deletes whole segments), kept an hour until `retain` says. */
async function createTopic(admin: KafkaAdmin, topic: string, partitions: number): Promise<void> {
  await admin.createTopics([
    {
      topic,
      numPartitions: partitions,
      replicationFactor: 1,
      config: { 'segment.bytes': '1024' },
    },
  ]);
}

/** Sets the topic's retention.ms (the broker applies it at its next check, every second here). */
async function retain(admin: KafkajsAdmin, topic: string, ms: number): Promise<void> {
  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      { type: 2 /* TOPIC */, name: topic, configEntries: [{ name: 'retention.ms', value: String(ms) }] },
    ],
  });
}

async function produceOneByOne(
  kafka: KafkaClient,
  topic: string,
  values: Array<{ key: string; value: Buffer }>,
) {
  const producer = kafka.producer();
  await producer.connect();
  // One request per record: one record batch each, so segments roll and retention deletes them.
  for (const m of values) await producer.send({ topic, messages: [m] });
  await producer.disconnect();
}

async function logStart(admin: KafkaAdmin, topic: string, partition: number): Promise<bigint> {
  const offsets = await admin.topicOffsets(topic);
  return offsets.find((o) => o.partition === partition)!.low;
}

describe('lag past retention is counted as loss', { timeout: 300_000 }, () => {
  let broker: TestBroker;
  let kafka: KafkaClient;
  let admin: KafkaAdmin;
  let configs: KafkajsAdmin;

  before(async () => {
    // Retention checked every second, from the start (the defaults wait 5 minutes, then 30 s).
    broker = await startTestBroker({
      properties: { 'log.retention.check.interval.ms': '1000', 'log.initial.task.delay.ms': '1000' },
    });
    kafka = createKafka({ brokers: broker.brokers, clientId: 'test-retention', logger: testLogger });
    admin = kafka.admin();
    await admin.connect();
    configs = new Kafkajs({
      brokers: broker.brokers,
      clientId: 'test-retention',
      logLevel: logLevel.NOTHING,
    }).admin();
    await configs.connect();
  });
  after(async () => {
    await configs?.disconnect();
    await admin?.disconnect();
    await broker?.stop();
  });

  it('a processor frozen past retention: metric and status line, every record processed or lost', async () => {
    const prefix = 'retention-proc';
    const { input, group } = counterTopics(prefix);
    await createTopic(admin, input, COUNTER_INPUT.partitions);
    await ensureTopics(admin, allTopicDefinitions(), { prefix, replicationFactor: 1 });
    const env = {
      MESHPIPE_KAFKA_BROKERS: broker.brokers.join(','),
      MESHPIPE_TOPIC_PREFIX: prefix,
      MESHPIPE_CONFIG: testConfigFile(['counter']),
    };
    const child = startCli(['process', COUNTER_PATH, '--json'], env);
    try {
      let n = 0;
      const records = (count: number) =>
        Array.from({ length: count }, () => ({
          key: 'k1',
          value: encodeCounterInput({ key: 'k1', n: BigInt(++n) }),
        }));
      await produceOneByOne(kafka, input, records(10));
      const partition = (await admin.topicOffsets(input)).find((o) => o.high !== 0n)!.partition;
      await waitFor(
        'the first records processed',
        async () => {
          const committed = await admin.committedOffsets(group, [input]);
          return committed.get(input)?.get(partition) === 10n;
        },
        { timeoutMs: 120_000, intervalMs: 500 },
      );

      // Frozen: what is written meanwhile is deleted before it can be read.
      child.child.kill('SIGSTOP');
      await produceOneByOne(kafka, input, records(40));
      await retain(configs, input, 1000);
      await waitFor(
        'retention deleted unread records',
        async () => (await logStart(admin, input, partition)) > 20n,
        {
          timeoutMs: 60_000,
          intervalMs: 500,
        },
      );
      await retain(configs, input, 3_600_000);
      await produceOneByOne(kafka, input, records(5));
      child.child.kill('SIGCONT');

      const total = BigInt(n);
      await waitFor(
        'the processor caught up',
        async () => {
          const committed = await admin.committedOffsets(group, [input]);
          return committed.get(input)?.get(partition) === total;
        },
        { timeoutMs: 120_000 },
      );
      const latest = await waitFor(
        'consumed and lost published',
        async () => {
          const samples = await latestSamples(kafka, admin, topicName(TOPICS.metrics, prefix));
          const value = (name: string) =>
            samples.find((x) => x.name === name && x.labels.topic === input)?.value ?? 0;
          const consumed = value('meshpipe.processor.records.consumed');
          const lost = value('meshpipe.processor.records.lost');
          return consumed + lost === Number(total) ? { consumed, lost } : false;
        },
        { timeoutMs: 60_000, intervalMs: 1_000 },
      );
      assert.ok(latest.lost > 0 && latest.lost <= 40, `${latest.lost} lost`);
      await waitFor('the status line says it', () =>
        child.stdout().includes(`lost ${latest.lost} (retention)`),
      );
      assert.match(child.stderr(), /MESHPIPE_ERR_KAFKA_LAG_PAST_RETENTION/);
    } finally {
      child.child.kill('SIGCONT');
      child.child.kill('SIGTERM');
      await child.exited;
    }
  });

  it('a sink held up past retention by its receiver: metric and status line, every record exported or lost', async () => {
    const prefix = 'retention-sink';
    const topic = topicName(TOPICS.spans, prefix);
    await createTopic(admin, topic, 1);
    await ensureTopics(admin, allTopicDefinitions(), { prefix, replicationFactor: 1 });
    // A receiver that holds the first batch until the test lets it go.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let exported = 0;
    const stalled = defineSink({
      name: 'stalled',
      description: 'A receiver that stalls (a test sink).',
      input: 'spans',
      config: s.object(sinkHostFields(), { doc: 'A test sink.' }),
      prepare: (record) => record.value as Span,
      async createExporter() {
        return {
          async export(items: readonly Span[]) {
            await held;
            exported += items.length;
            return SUCCESS;
          },
          async shutdown() {},
        };
      },
    });
    const statuses: string[] = [];
    const codec = codecFor<Span>('span');
    const spans = (count: number) =>
      Array.from({ length: count }, (_, i) => ({
        key: 't',
        value: codec.encode({ ...SPAN, spanId: `${i}`.padStart(16, '0') }),
      }));
    await produceOneByOne(kafka, topic, spans(5));
    let sink: RunningSink | undefined;
    try {
      const config = stalled.config.parseWithEnv(
        {
          startFrom: 'earliest',
          batchSize: 5,
          lingerMs: 10,
          maxBufferedRecords: 5,
          runtime: { maxWaitMs: 100 },
        },
        'sinks.stalled',
        {},
      );
      sink = await startSink(stalled, config, {
        kafka,
        topicPrefix: prefix,
        logger: testLogger,
        statusIntervalMs: 200,
        onStatus: (status) => statuses.push(status.summary),
      });
      await sink.ready;
      await waitFor('the first batch held, consumption paused', () => sink!.snapshot().paused);
      await produceOneByOne(kafka, topic, spans(40));
      await retain(configs, topic, 1000);
      await waitFor('retention deleted unread records', async () => (await logStart(admin, topic, 0)) > 10n, {
        timeoutMs: 60_000,
        intervalMs: 500,
      });
      await retain(configs, topic, 3_600_000);
      await produceOneByOne(kafka, topic, spans(5));
      release();
      await waitFor(
        'every record exported or lost',
        () => {
          const t = sink!.snapshot().totals;
          return t.exported + t.lost === 50 && t.lost > 0;
        },
        { timeoutMs: 60_000 },
      );
      const { lost } = sink.snapshot().totals;
      assert.ok(lost > 0 && lost <= 40, `${lost} lost`);
      assert.equal(exported, 50 - lost);
      await waitFor('the status line says it', () =>
        statuses.some((x) => x.includes(`${lost} lost (retention)`)),
      );
    } finally {
      release();
      await sink?.stop();
    }
  });
});

/** The latest sample of every series on the metrics topic. */
async function latestSamples(kafka: KafkaClient, admin: KafkaAdmin, topic: string): Promise<MetricSample[]> {
  const codec = codecFor<MetricSample>('metric-sample');
  const latest = new Map<string, MetricSample>();
  const partitions = (await admin.topicOffsets(topic)).map((o) => o.partition);
  await readPartitionsToEnd({
    kafka,
    admin,
    topic,
    partitions,
    onRecord(_p, m) {
      const sample = codec.decode(m.value!);
      latest.set(`${sample.seriesId}/${sample.stream}`, sample);
    },
  });
  return [...latest.values()];
}

describe('RetentionLoss: which jumps are loss', () => {
  function tracker(starts: Record<number, bigint>) {
    const losses: Array<[number, number]> = [];
    let asked = 0;
    const loss = new RetentionLoss({
      logStartOffsets: async () => {
        asked++;
        return new Map(Object.entries(starts).map(([p, o]) => [Number(p), o]));
      },
      onLoss: (_topic, partition, n) => losses.push([partition, n]),
      reader: 'test',
      logger: testLogger,
    });
    return { loss, losses, asked: () => asked };
  }

  it('a jump past transaction markers (the log starts below it) is not loss; past the log start it is, whole', async () => {
    const t = tracker({ 0: 5n, 1: 100n });
    t.loss.jumped('t', 0, 10n, 11n); // a commit marker at 10
    t.loss.jumped('t', 1, 10n, 100n); // sent out of range, to the oldest record left
    t.loss.jumped('t', 1, 200n, 150n); // a rewind (a re-fetch): nothing
    await waitFor('checked', () => t.asked() > 0);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(t.losses, [[1, 90]]);
  });

  it('a committed offset below the log start: what the reader starts above it is lost', () => {
    const t = tracker({});
    t.loss.startsAbove('t', 3, 40n, 70n);
    t.loss.startsAbove('t', 3, -1n, 70n); // no committed offset: a new group, nothing lost
    assert.deepEqual(t.losses, [[3, 30]]);
  });
});
