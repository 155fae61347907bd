/**
 * Feature and correctness checks of each candidate client against the broker: what meshpipe's processor
 * host, sinks and collector rely on (docs/processor-runtime.md). Each runs in a worker process of its
 * own (worker.ts) with a topic prefix of its own; the set-up (topics, writers, reference readers) uses
 * meshpipe's kafkajs client, the client under test does the part being checked.
 *
 * Outcome per check: `yes` (works as meshpipe needs), `part` (works with a workaround, said in the
 * summary), `no` (missing or wrong), `error` (the check itself failed). Details carry what was seen.
 */
import { fork } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type Admin, type Kafka, Partitioners } from 'kafkajs';
import { createLogger } from '../../../lib/logger.ts';
import {
  type CkConsumer,
  confluentDriver,
  confluentKafka,
  ERR_ASSIGN_PARTITIONS,
  loadConfluent,
} from './confluent-driver.ts';
import type { CheckName, ClientName } from './driver.ts';
import { createKafka, kafkajsDriver } from './kafkajs-driver.ts';
import {
  loadPlatformatic,
  type PltConsumer,
  platformaticDriver,
  TRANSACTIONAL_OPTIONS,
} from './platformatic-driver.ts';
import { createTopic } from './scenarios.ts';
import { assignTasks, taskAssigner } from './task-assigner.ts';

export interface CheckOutcome {
  check: CheckName;
  result: 'yes' | 'part' | 'no' | 'error';
  summary: string;
  details?: unknown;
}

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
const logger = createLogger({ component: 'bench/kafka-clients/checks', level: 'error' });

/** An error as the caller sees it: the fields a classifier could use. */
function errorShape(err: unknown): Record<string, unknown> {
  const e = err as Record<string, unknown> & Error;
  const shape: Record<string, unknown> = { name: e?.name, message: String(e?.message ?? err).slice(0, 300) };
  for (const k of [
    'code',
    'type',
    'apiId',
    'apiCode',
    'retriable',
    'fatal',
    'abortable',
    'canRetry',
    'producerFenced',
  ])
    if (e?.[k] !== undefined) shape[k] = e[k];
  const inner = (e?.errors as unknown[] | undefined)?.[0] ?? e?.cause;
  if (inner !== undefined && inner !== err) shape.inner = errorShape(inner);
  return shape;
}

interface Setup {
  kafka: Kafka;
  admin: Admin;
  topic(name: string, partitions: number, configs?: Record<string, string>): Promise<string>;
  close(): Promise<void>;
}

async function setup(brokers: string[], prefix: string): Promise<Setup> {
  const kafka = createKafka({ brokers, clientId: 'bench-kafka-clients-checks', logger });
  const admin = kafka.admin();
  await admin.connect();
  return {
    kafka,
    admin,
    async topic(name, partitions, configs = {}) {
      const topic = `${prefix}-${name}`;
      await createTopic(admin, topic, partitions, configs);
      return topic;
    },
    close: () => admin.disconnect(),
  };
}

/**
 * Every value the client under test reads from `topic` with read_committed, from the beginning, until
 * `until` has been read and nothing more came for 2 s (or 30 s in all). `tinyFetches`: at most ~1 byte
 * per partition per fetch (the broker still returns one record batch), so that a transaction's records
 * and its ABORT marker arrive in different fetch responses.
 */
async function readCommitted(
  client: ClientName,
  brokers: string[],
  topic: string,
  groupId: string,
  until: string,
  tinyFetches: boolean,
): Promise<string[]> {
  const seen: string[] = [];
  let lastAt = 0;
  const onValue = (v: Buffer | null | undefined) => {
    seen.push(v?.toString() ?? '');
    lastAt = Date.now();
  };
  const settled = async () => {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !(seen.includes(until) && Date.now() - lastAt > 2000)) await sleep(100);
  };
  const maxBytes = tinyFetches ? 1 : 1_048_576;
  if (client === 'kafkajs') {
    const kafka = createKafka({ brokers, clientId: 'bench-kc-reader', logger });
    const consumer = kafka.consumer({
      groupId,
      readUncommitted: false,
      maxWaitTimeInMs: 100,
      maxBytesPerPartition: maxBytes,
      ...(tinyFetches ? { maxBytes: 1 } : {}),
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => onValue(message.value) });
    await settled();
    await consumer.disconnect();
  } else if (client === 'platformatic') {
    const plt = await loadPlatformatic();
    const consumer = new plt.Consumer({
      clientId: 'bench-kc-reader',
      bootstrapBrokers: brokers,
      groupId,
      isolationLevel: plt.FetchIsolationLevels.READ_COMMITTED,
      maxWaitTime: 100,
      maxBytesPerPartition: maxBytes,
      ...(tinyFetches ? { maxBytes: 1 } : {}),
      autocommit: false,
    });
    const stream = await consumer.consume({ topics: [topic], mode: plt.MessagesStreamModes.EARLIEST });
    stream.on('data', (m) => onValue(m.value));
    await settled();
    await stream.close();
    await consumer.close(true);
  } else {
    const kafka = confluentKafka(loadConfluent(), brokers);
    const consumer = kafka.consumer({
      kafkaJS: { groupId, fromBeginning: true, maxWaitTimeInMs: 100, maxBytesPerPartition: maxBytes },
      'isolation.level': 'read_committed',
      // librdkafka's smallest: fetch.max.bytes may not be under message.max.bytes (≥ 1000).
      ...(tinyFetches ? { 'fetch.max.bytes': 1000, 'message.max.bytes': 1000 } : {}),
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    await consumer.run({ eachMessage: async ({ message }) => onValue(message.value) });
    await settled();
    await consumer.disconnect();
  }
  return seen;
}

/** How transactions are laid out on the partition before it is read. */
const LAYOUTS = {
  // A producer whose transactions are aborted one after the other, then one committed: what a processor
  // task writes when its transactions fail and are retried (its transactional id keeps its producer id).
  'read-committed-same-producer': {
    what: 'one producer: two aborted transactions, then a committed one',
    tinyFetches: false,
  },
  // What a restarted instance does when it fences the open transactions of the one that was killed.
  'read-committed-abort-order': {
    what: "two producers' transactions aborted in the reverse order of their start, then a committed one",
    tinyFetches: false,
  },
  // The records of an aborted transaction in one fetch response, its marker in the next.
  'read-committed-small-fetches': {
    what: 'one aborted transaction then a committed one, read one record batch per fetch',
    tinyFetches: true,
  },
} as const;
type Layout = keyof typeof LAYOUTS;

async function writeTransactions(kafka: Kafka, topic: string, prefix: string, layout: Layout): Promise<void> {
  const producers = ['first', 'second', 'third'].map((id) =>
    kafka.producer({ transactionalId: `${prefix}-${id}-${layout}`, maxInFlightRequests: 1 }),
  );
  await Promise.all(producers.map((p) => p.connect()));
  const [first, second, third] = producers as [
    (typeof producers)[0],
    (typeof producers)[0],
    (typeof producers)[0],
  ];
  try {
    if (layout === 'read-committed-same-producer') {
      for (const value of ['aborted 1', 'aborted 2']) {
        const t = await first.transaction();
        await t.send({ topic, messages: [{ key: 'a', value }] });
        await t.abort();
      }
      const t = await first.transaction();
      await t.send({ topic, messages: [{ key: 'a', value: 'committed' }] });
      await t.commit();
      return;
    }
    const a = await first.transaction();
    await a.send({ topic, messages: [{ key: 'a', value: 'aborted, began first' }] });
    if (layout === 'read-committed-abort-order') {
      const b = await second.transaction();
      await b.send({ topic, messages: [{ key: 'b', value: 'aborted, began second' }] });
      await b.abort();
    }
    await a.abort();
    const c = await third.transaction();
    await c.send({ topic, messages: [{ key: 'c', value: 'committed' }] });
    await c.commit();
  } finally {
    await Promise.all(producers.map((p) => p.disconnect()));
  }
}

async function checkReadCommitted(
  client: ClientName,
  brokers: string[],
  prefix: string,
  layout: Layout,
): Promise<CheckOutcome> {
  const s = await setup(brokers, prefix);
  try {
    const topic = await s.topic(layout, 1);
    await writeTransactions(s.kafka, topic, prefix, layout);
    const { what, tinyFetches } = LAYOUTS[layout];
    const seen = await readCommitted(client, brokers, topic, `${prefix}-${layout}`, 'committed', tinyFetches);
    const ok = seen.length === 1 && seen[0] === 'committed';
    const note =
      client === 'kafkajs'
        ? ' — kafkajs with lib/kafka-read-committed.ts, which replaces its filter by patching its fetch decoders'
        : '';
    return {
      check: layout,
      result: ok ? 'yes' : 'no',
      summary: `${ok ? 'only the committed record' : `read ${JSON.stringify(seen)}`} (${what})${note}`,
      details: { seen },
    };
  } finally {
    await s.close();
  }
}

/** A second producer with the same transactional id fences the first: the first's commit must fail. */
async function checkFencing(client: ClientName, brokers: string[], prefix: string): Promise<CheckOutcome> {
  const s = await setup(brokers, prefix);
  const transactionalId = `${prefix}-fenced`;
  try {
    const topic = await s.topic('fencing', 1);
    let firstCommitError: unknown = null;
    let secondCommitted = false;
    /** @platformatic/kafka: the new owner's own initialisation failing, without the workaround. */
    let newOwnerError: unknown = null;
    if (client === 'kafkajs') {
      const a = s.kafka.producer({
        transactionalId,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      const b = s.kafka.producer({
        transactionalId,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await a.connect();
      await b.connect();
      const ta = await a.transaction();
      await ta.send({ topic, messages: [{ value: 'zombie' }] });
      const tb = await b.transaction();
      await tb.send({ topic, messages: [{ value: 'owner' }] });
      await ta.commit().catch((err) => (firstCommitError = err));
      await tb.commit();
      secondCommitted = true;
      await Promise.all([a.disconnect(), b.disconnect()]);
    } else if (client === 'platformatic') {
      const plt = await loadPlatformatic();
      const { producerId: _id, producerEpoch: _epoch, ...retries } = TRANSACTIONAL_OPTIONS;
      const make = (options: object) =>
        new plt.Producer({
          clientId: 'bench-kc',
          bootstrapBrokers: brokers,
          idempotent: true,
          transactionalId,
          ...options,
        });
      // As a user would first write it: no producer id options.
      const a = make(retries);
      const ta = await a.beginTransaction();
      await ta.send({ messages: [{ topic, value: Buffer.from('zombie') }] });
      const plain = make(retries);
      try {
        await plain.beginTransaction();
      } catch (err) {
        newOwnerError = err;
      }
      await plain.close(true);
      // With the KIP-360 "new producer" values the client does not send by itself.
      const b = make(TRANSACTIONAL_OPTIONS);
      const tb = await b.beginTransaction();
      await tb.send({ messages: [{ topic, value: Buffer.from('owner') }] });
      await ta.commit().catch((err) => (firstCommitError = err));
      await tb.commit();
      secondCommitted = true;
      await Promise.all([a.close(true), b.close(true)]);
    } else {
      const kafka = confluentKafka(loadConfluent(), brokers);
      const make = () =>
        kafka.producer({ kafkaJS: { idempotent: true, transactionalId, maxInFlightRequests: 1 } });
      const a = make();
      const b = make();
      await a.connect();
      const ta = await a.transaction();
      await ta.send({ topic, messages: [{ value: Buffer.from('zombie') }] });
      await b.connect();
      const tb = await b.transaction();
      await tb.send({ topic, messages: [{ value: Buffer.from('owner') }] });
      await ta.commit().catch((err) => (firstCommitError = err));
      await tb.commit();
      secondCommitted = true;
      await a.disconnect().catch(() => {});
      await b.disconnect();
    }
    const seen = await readCommitted('kafkajs', brokers, topic, `${prefix}-fencing-reader`, 'owner', false);
    const ok = firstCommitError !== null && secondCommitted && !seen.includes('zombie');
    const shape = firstCommitError === null ? null : errorShape(firstCommitError);
    const workaround =
      newOwnerError === null
        ? ''
        : `; BUT a new producer for the id fails its own InitProducerId unless given producerId -1n / producerEpoch -1 (it sends 0/0): ${JSON.stringify(errorShape(newOwnerError)).slice(0, 260)}`;
    return {
      check: 'fencing',
      result: ok ? (newOwnerError === null ? 'yes' : 'part') : 'no',
      summary: ok
        ? `the fenced producer's commit failed (${JSON.stringify(shape).slice(0, 240)}); the new owner committed; readers see only its record${workaround}`
        : `fenced commit error: ${JSON.stringify(shape)}, owner committed: ${secondCommitted}, read: ${JSON.stringify(seen)}${workaround}`,
      details: {
        error: shape,
        newOwnerError: newOwnerError === null ? null : errorShape(newOwnerError),
        seen,
      },
    };
  } finally {
    await s.close();
  }
}

/**
 * Back-to-back transactions alternating records-only and offsets-only, the pattern that meets
 * CONCURRENT_TRANSACTIONS while the coordinator writes the previous commit's markers
 * (docs/processor-runtime.md): how many fail, and how the error surfaces. The client's own API only —
 * not meshpipe's retry around kafkajs's sendOffsets.
 */
async function checkConcurrentTransactions(
  client: ClientName,
  brokers: string[],
  prefix: string,
): Promise<CheckOutcome> {
  const s = await setup(brokers, prefix);
  const transactions = 100;
  const failures: Record<string, number> = {};
  let first: Record<string, unknown> | null = null;
  const fail = (err: unknown) => {
    const shape = errorShape(err);
    const key = String(shape.type ?? shape.apiId ?? shape.code ?? shape.name);
    failures[key] = (failures[key] ?? 0) + 1;
    first ??= shape;
  };
  try {
    const topic = await s.topic('concurrent', 1);
    const groupId = `${prefix}-concurrent-group`;
    const transactionalId = `${prefix}-concurrent`;
    const started = performance.now();
    if (client === 'kafkajs') {
      const p = s.kafka.producer({
        transactionalId,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await p.connect();
      for (let i = 0; i < transactions; i++) {
        const tx = await p.transaction();
        try {
          if (i % 2 === 0) await tx.send({ topic, messages: [{ value: `r${i}` }] });
          else
            await tx.sendOffsets({
              consumerGroupId: groupId,
              topics: [{ topic, partitions: [{ partition: 0, offset: String(i) }] }],
            });
          await tx.commit();
        } catch (err) {
          fail(err);
          await tx.abort().catch(() => {});
        }
      }
      await p.disconnect();
    } else if (client === 'platformatic') {
      const plt = await loadPlatformatic();
      // Retried after 10 ms doubling (TRANSACTIONAL_OPTIONS); with the default 250 ms the same 100
      // transactions took 30 s on a loaded machine, none failing.
      const p = new plt.Producer({
        clientId: 'bench-kc',
        bootstrapBrokers: brokers,
        ...TRANSACTIONAL_OPTIONS,
        idempotent: true,
        transactionalId,
      });
      const consumer = new plt.Consumer({ clientId: 'bench-kc', bootstrapBrokers: brokers, groupId });
      const coordinatorId = await (
        consumer as PltConsumer & { findGroupCoordinator(): Promise<number> }
      ).findGroupCoordinator();
      for (let i = 0; i < transactions; i++) {
        const tx = await p.beginTransaction();
        try {
          if (i % 2 === 0) await tx.send({ messages: [{ topic, value: Buffer.from(`r${i}`) }] });
          else {
            await tx.addConsumer(consumer);
            await tx.addOffset({
              topic,
              partition: 0,
              offset: BigInt(i),
              metadata: { consumer: { groupId, generationId: -1, memberId: '', coordinatorId } },
            });
          }
          await tx.commit();
        } catch (err) {
          fail(err);
          await tx.abort().catch(() => {});
        }
      }
      await p.close(true);
      await consumer.close(true);
    } else {
      const kafka = confluentKafka(loadConfluent(), brokers);
      const p = kafka.producer({ kafkaJS: { idempotent: true, transactionalId, maxInFlightRequests: 1 } });
      const consumer = kafka.consumer({ kafkaJS: { groupId } });
      await p.connect();
      await consumer.connect();
      for (let i = 0; i < transactions; i++) {
        const tx = await p.transaction();
        try {
          if (i % 2 === 0) await tx.send({ topic, messages: [{ value: Buffer.from(`r${i}`) }] });
          else
            await tx.sendOffsets({
              consumer,
              topics: [{ topic, partitions: [{ partition: 0, offset: String(i) }] }],
            });
          await tx.commit();
        } catch (err) {
          fail(err);
          await tx.abort().catch(() => {});
        }
      }
      await p.disconnect();
      await consumer.disconnect();
    }
    const seconds = (performance.now() - started) / 1000;
    const failed = Object.values(failures).reduce((a, b) => a + b, 0);
    return {
      check: 'concurrent-transactions',
      result: failed === 0 ? 'yes' : 'no',
      summary:
        failed === 0
          ? `${transactions} transactions, none failed (${Math.round(seconds * 10) / 10} s): retried inside the client`
          : `${failed} of ${transactions} transactions failed: ${JSON.stringify(failures)}; first: ${JSON.stringify(first).slice(0, 200)}`,
      details: { transactions, failures, first, seconds },
    };
  } finally {
    await s.close();
  }
}

/** A record over the topic's max.message.bytes (but under the client's own 1 MB limit). */
async function checkMessageTooLarge(
  client: ClientName,
  brokers: string[],
  prefix: string,
): Promise<CheckOutcome> {
  const s = await setup(brokers, prefix);
  try {
    const topic = await s.topic('too-large', 1, { 'max.message.bytes': '100000' });
    const value = Buffer.alloc(200_000, 7);
    let error: unknown = null;
    if (client === 'kafkajs') {
      const p = s.kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 1 } });
      await p.connect();
      await p.send({ topic, acks: -1, messages: [{ value }] }).catch((err) => (error = err));
      await p.disconnect();
    } else if (client === 'platformatic') {
      const plt = await loadPlatformatic();
      const p = new plt.Producer({
        clientId: 'bench-kc',
        bootstrapBrokers: brokers,
        idempotent: true,
        acks: -1,
        retries: 1,
      });
      await p.send({ messages: [{ topic, value }] }).catch((err) => (error = err));
      await p.close(true);
    } else {
      const kafka = confluentKafka(loadConfluent(), brokers);
      const p = kafka.producer({ kafkaJS: { idempotent: true, acks: -1 } });
      await p.connect();
      await p.send({ topic, messages: [{ value }] }).catch((err) => (error = err));
      await p.disconnect();
    }
    const shape = error === null ? null : errorShape(error);
    const text = JSON.stringify(shape);
    const named = /MESSAGE_TOO_LARGE|MSG_SIZE_TOO_LARGE|too large/i.test(text);
    return {
      check: 'message-too-large',
      result: shape === null ? 'no' : named ? 'yes' : 'part',
      summary: shape === null ? 'no error' : `${named ? 'named' : 'not named'}: ${text.slice(0, 260)}`,
      details: shape,
    };
  } finally {
    await s.close();
  }
}

/** Where keyed records land: the Java client's murmur2 partitioning (kafkajs's DefaultPartitioner). */
async function checkPartitioner(
  client: ClientName,
  brokers: string[],
  prefix: string,
): Promise<CheckOutcome> {
  const s = await setup(brokers, prefix);
  try {
    const keys = Array.from({ length: 300 }, (_, i) => `10.0.${i % 7}.${i}:${40000 + i}->10.0.9.9:8080/${i}`);
    const partitions = 6;
    const java = Partitioners.DefaultPartitioner();
    const expected = new Map(
      keys.map((k) => [
        k,
        java({
          topic: 't',
          partitionMetadata: Array.from({ length: partitions }, (_, p) => ({ partitionId: p, leader: 0 })),
          message: { key: k, value: null },
        } as never),
      ]),
    );
    const variants: Array<{ name: string; topic: string }> = [];
    const produce = async (name: string, send: (topic: string) => Promise<void>) => {
      const topic = await s.topic(`partitioner-${name}`, partitions);
      await send(topic);
      variants.push({ name, topic });
    };
    const messages = keys.map((k) => ({ key: Buffer.from(k), value: Buffer.from('v') }));
    if (client === 'kafkajs') {
      await produce('default', async (topic) => {
        const p = s.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
        await p.connect();
        await p.send({ topic, messages });
        await p.disconnect();
      });
    } else if (client === 'platformatic') {
      const plt = await loadPlatformatic();
      for (const [name, partitioner] of [
        ['default', undefined],
        ['compatibilityPartitioner', plt.compatibilityPartitioner],
      ] as const) {
        await produce(name, async (topic) => {
          const p = new plt.Producer({
            clientId: 'bench-kc',
            bootstrapBrokers: brokers,
            ...(partitioner ? { partitioner } : {}),
          });
          await p.send({ messages: messages.map((m) => ({ topic, ...m })) });
          await p.close(true);
        });
      }
    } else {
      const kafka = confluentKafka(loadConfluent(), brokers);
      await produce('default', async (topic) => {
        const p = kafka.producer({});
        await p.connect();
        await p.send({ topic, messages });
        await p.disconnect();
      });
    }
    const out: Record<string, number> = {};
    for (const v of variants) {
      const consumer = s.kafka.consumer({ groupId: `${prefix}-${v.name}-reader`, maxWaitTimeInMs: 100 });
      await consumer.connect();
      await consumer.subscribe({ topic: v.topic, fromBeginning: true });
      let mismatched = 0;
      let read = 0;
      await new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ partition, message }) => {
            if (expected.get(message.key!.toString()) !== partition) mismatched++;
            if (++read === keys.length) resolve();
          },
        });
      });
      await consumer.disconnect();
      out[v.name] = mismatched;
    }
    const allDefault = out.default === 0;
    const anyCompatible = Object.values(out).some((m) => m === 0);
    return {
      check: 'partitioner',
      result: allDefault ? 'yes' : anyCompatible ? 'part' : 'no',
      summary: Object.entries(out)
        .map(([n, m]) => `${n}: ${m} of ${keys.length} keys on another partition than the Java client's`)
        .join('; '),
      details: out,
    };
  } finally {
    await s.close();
  }
}

/**
 * What the processor host does on an assignment: pause a partition, seek another back, resume the
 * first — per partition, while the others flow.
 */
async function checkPauseSeek(client: ClientName, brokers: string[], prefix: string): Promise<CheckOutcome> {
  const s = await setup(brokers, prefix);
  try {
    const topic = await s.topic('pause', 2);
    const p = s.kafka.producer();
    await p.connect();
    for (const partition of [0, 1])
      await p.send({
        topic,
        messages: Array.from({ length: 10 }, (_, i) => ({ partition, value: `${partition}:${i}` })),
      });
    await p.disconnect();
    const groupId = `${prefix}-pause-group`;
    const seen: string[] = [];
    const phase = async (ms: number) => {
      const before = seen.length;
      await sleep(ms);
      return seen.slice(before);
    };
    let steps: Record<string, string[]>;
    if (client === 'platformatic') {
      const plt = await loadPlatformatic();
      const consumer = new plt.Consumer({
        clientId: 'bench-kc',
        bootstrapBrokers: brokers,
        groupId,
        autocommit: false,
      });
      const stream = await consumer.consume({ topics: [topic], mode: plt.MessagesStreamModes.EARLIEST });
      const api = stream as unknown as Record<string, unknown>;
      const perPartition = ['pausePartitions', 'seek', 'resumePartitions'].filter(
        (m) => typeof api[m] === 'function',
      );
      await stream.close();
      await consumer.close(true);
      return {
        check: 'pause-resume-seek',
        result: 'no',
        summary: `no per-partition pause/resume/seek on a consumer stream (MessagesStream.pause() stops every partition${perPartition.length ? `; found ${perPartition.join(', ')}` : ''}); a new position means a new stream (mode MANUAL with offsets) or the host's own fetch loop on Consumer.fetch()`,
      };
    }
    if (client === 'kafkajs') {
      const consumer = s.kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
      consumer.on(consumer.events.GROUP_JOIN, () => consumer.pause([{ topic, partitions: [0] }]));
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
      const paused = await phase(3000);
      consumer.seek({ topic, partition: 1, offset: '5' });
      const sought = await phase(2000);
      consumer.resume([{ topic, partitions: [0] }]);
      const resumed = await phase(2000);
      await consumer.disconnect();
      steps = { paused, sought, resumed };
    } else {
      const ck = loadConfluent();
      const kafka = confluentKafka(ck, brokers);
      let consumer: CkConsumer;
      consumer = kafka.consumer({
        kafkaJS: { groupId, fromBeginning: true, maxWaitTimeInMs: 100 },
        // The host pauses new partitions before anything is fetched: in the rebalance callback.
        rebalance_cb: (err: { code: number }, assignment: unknown[], fns: { assign(a: unknown[]): void }) => {
          if (assignment.length > 0 && err.code === ERR_ASSIGN_PARTITIONS) {
            fns.assign(assignment);
            consumer.pause([{ topic, partitions: [0] }]);
          }
        },
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic] });
      await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
      const paused = await phase(4000);
      consumer.seek({ topic, partition: 1, offset: '5' });
      const sought = await phase(2000);
      consumer.resume([{ topic, partitions: [0] }]);
      const resumed = await phase(2000);
      await consumer.disconnect();
      steps = { paused, sought, resumed };
    }
    const only = (xs: string[], partition: number, from: number) =>
      xs.length === 10 - from && xs.every((x, i) => x === `${partition}:${from + i}`);
    const ok = only(steps.paused!, 1, 0) && only(steps.sought!, 1, 5) && only(steps.resumed!, 0, 0);
    return {
      check: 'pause-resume-seek',
      result: ok ? 'yes' : 'no',
      summary: ok
        ? 'partition 0 paused from the assignment on while 1 flowed; 1 sought back to 5 re-read 5–9; 0 resumed read 0–9'
        : `paused phase ${JSON.stringify(steps.paused)}, after seek ${JSON.stringify(steps.sought)}, after resume ${JSON.stringify(steps.resumed)}`,
      details: steps,
    };
  } finally {
    await s.close();
  }
}

/** Is partition N of every input given to one member, and do members keep their tasks when one joins? */
async function checkAssignor(client: ClientName, brokers: string[], prefix: string): Promise<CheckOutcome> {
  const s = await setup(brokers, prefix);
  try {
    const topics = [await s.topic('input-a', 4), await s.topic('input-b', 4)];
    const groupId = `${prefix}-assignor-group`;
    type Member = { assigned: () => Record<string, number[]> | null; stop: () => Promise<void> };
    const owned: Array<() => number[]> = [];
    let join: (i: number) => Promise<Member>;
    let how: string;
    if (client === 'kafkajs') {
      how = "meshpipe's own assigner (processors/runtime/task-assigner.ts)";
      join = async (i) => {
        let assignment: Record<string, number[]> | null = null;
        const consumer = s.kafka.consumer({
          groupId,
          maxWaitTimeInMs: 100,
          partitionAssigners: [taskAssigner(() => [...new Set(Object.values(assignment ?? {}).flat())])],
        });
        consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
          assignment = payload.memberAssignment;
        });
        await consumer.connect();
        await consumer.subscribe({ topics, fromBeginning: true });
        await consumer.run({ eachMessage: async () => {} });
        owned[i] = () => [...new Set(Object.values(assignment ?? {}).flat())];
        return { assigned: () => assignment, stop: () => consumer.disconnect() };
      };
    } else if (client === 'platformatic') {
      how = "meshpipe's assignTasks() as a partitionAssigner, owned tasks in protocolsMetadata";
      const plt = await loadPlatformatic();
      join = async (i) => {
        let assignment: Record<string, number[]> | null = null;
        const mine = () => [...new Set(Object.values(assignment ?? {}).flat())];
        const consumer = new plt.Consumer({
          clientId: 'bench-kc',
          bootstrapBrokers: brokers,
          groupId,
          autocommit: false,
          protocols: [{ name: 'MeshpipeStickyTaskAssigner', version: 1 }],
          protocolsMetadata: () => Buffer.from(JSON.stringify(mine())),
          partitionAssigner: platformaticTaskAssigner,
        });
        consumer.on('consumer:group:join', (payload) => {
          const p = payload as { assignments?: Array<{ topic: string; partitions: number[] }> };
          assignment = Object.fromEntries((p.assignments ?? []).map((a) => [a.topic, a.partitions]));
        });
        const stream = await consumer.consume({ topics, mode: plt.MessagesStreamModes.EARLIEST });
        stream.on('data', () => {});
        owned[i] = mine;
        return {
          assigned: () => assignment,
          stop: async () => {
            await stream.close();
            await consumer.close(true);
          },
        };
      };
    } else {
      how = "librdkafka's range assignor (custom assignors are not supported by the binding)";
      const kafka = confluentKafka(loadConfluent(), brokers);
      join = async (i) => {
        const consumer = kafka.consumer({
          kafkaJS: { groupId, fromBeginning: true, partitionAssigners: ['range'] },
        });
        await consumer.connect();
        await consumer.subscribe({ topics });
        await consumer.run({ eachMessage: async () => {} });
        const assigned = () => {
          const a = consumer.assignment();
          if (a.length === 0) return null;
          const byTopic: Record<string, number[]> = {};
          for (const { topic, partition } of a) byTopic[topic] = [...(byTopic[topic] ?? []), partition];
          return byTopic;
        };
        owned[i] = () => [...new Set(Object.values(assigned() ?? {}).flat())];
        return { assigned, stop: () => consumer.disconnect() };
      };
    }
    const members: Member[] = [];
    const stable = async (n: number) => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const all = members.map((m) => m.assigned());
        const total = all.reduce((a, x) => a + Object.values(x ?? {}).flat().length, 0);
        if (all.every((x) => x !== null) && total === 8) {
          await sleep(2000);
          const again = members.map((m) => JSON.stringify(m.assigned()));
          if (again.every((x, i) => x === JSON.stringify(all[i])))
            return all as Array<Record<string, number[]>>;
        }
        if (Date.now() > deadline) throw new Error(`${n} members did not settle: ${JSON.stringify(all)}`);
        await sleep(250);
      }
    };
    const coPartitioned = (all: Array<Record<string, number[]>>) =>
      all.every(
        (a) =>
          JSON.stringify([...(a[topics[0]!] ?? [])].sort()) ===
          JSON.stringify([...(a[topics[1]!] ?? [])].sort()),
      );
    members.push(await join(0), await join(1));
    const two = await stable(2);
    const before = owned.map((f) => f());
    members.push(await join(2));
    const three = await stable(3);
    const moved = [0, 1].map((i) => owned[i]!().filter((t) => !before[i]!.includes(t)).length);
    await Promise.all(members.map((m) => m.stop()));
    const ok2 = coPartitioned(two);
    const ok3 = coPartitioned(three);
    const sticky = moved.every((m) => m === 0);
    // Range lays members out by member id (group.instance.id when static): whether a join moves the
    // others' tasks depends on where the new id sorts, so one run can look sticky and the next not.
    const byDesign = client !== 'confluent';
    return {
      check: 'co-partitioned-assignor',
      result: ok2 && ok3 && sticky && byDesign ? 'yes' : ok2 && ok3 ? 'part' : 'no',
      summary: `${how}: co-partitioned with 2 members ${ok2 ? 'yes' : 'NO'}, with 3 ${ok3 ? 'yes' : 'NO'}; when the third joined, the first two ${sticky ? 'only gave tasks away' : `took ${moved.join(' and ')} new task(s) (not sticky)`}${byDesign ? '' : ' — range is not sticky by design: it orders members by id, so that depends on where the new member sorts'}`,
      details: { two, three },
    };
  } finally {
    await s.close();
  }
}

/** meshpipe's assignTasks() behind @platformatic/kafka's partitionAssigner signature. */
function platformaticTaskAssigner(
  _current: string,
  members: Map<string, { metadata?: Buffer }>,
  topics: Set<string>,
  metadata: { topics: Map<string, { partitionsCount: number }> },
) {
  const partitionsOf = new Map([...topics].map((t) => [t, metadata.topics.get(t)?.partitionsCount ?? 0]));
  const tasks = [
    ...new Set([...partitionsOf.values()].flatMap((n) => Array.from({ length: n }, (_, i) => i))),
  ];
  const owned = (m: { metadata?: Buffer }) => {
    try {
      const v = JSON.parse(m.metadata?.toString() ?? '[]') as unknown;
      return Array.isArray(v) ? v.filter((x): x is number => Number.isInteger(x)) : [];
    } catch {
      return [];
    }
  };
  const assigned = assignTasks(
    tasks,
    [...members].map(([id, m]) => ({ id, owned: owned(m) })),
  );
  return [...members.keys()].map((memberId) => ({
    memberId,
    assignments: new Map(
      [...partitionsOf].map(([topic, n]) => [
        topic,
        { topic, partitions: (assigned.get(memberId) ?? []).filter((t) => t < n) },
      ]),
    ),
  }));
}

/** A group member in a process of its own, for the static membership check (killed with SIGKILL). */
async function runMember(client: ClientName, brokers: string[], prefix: string): Promise<CheckOutcome> {
  const [topic, groupId, instanceId] = [`${prefix}-static`, `${prefix}-static-group`, `${prefix}-instance-1`];
  const report = (partitions: number[]) => process.send!({ assigned: partitions });
  if (client === 'platformatic') {
    const plt = await loadPlatformatic();
    const consumer = new plt.Consumer({
      clientId: 'bench-kc',
      bootstrapBrokers: brokers,
      groupId,
      groupInstanceId: instanceId,
      sessionTimeout: 45_000,
      heartbeatInterval: 1000,
      autocommit: false,
    });
    consumer.on('consumer:group:join', (payload) => {
      const p = payload as { assignments?: Array<{ partitions: number[] }> };
      report((p.assignments ?? []).flatMap((a) => a.partitions));
    });
    const stream = await consumer.consume({ topics: [topic], mode: plt.MessagesStreamModes.EARLIEST });
    stream.on('data', () => {});
  } else {
    const kafka = confluentKafka(loadConfluent(), brokers);
    const consumer = kafka.consumer({
      kafkaJS: { groupId, fromBeginning: true, sessionTimeout: 45_000 },
      'group.instance.id': instanceId,
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    await consumer.run({ eachMessage: async () => {} });
    for (;;) {
      const a = consumer.assignment();
      if (a.length > 0) {
        report(a.map((t) => t.partition));
        break;
      }
      await sleep(50);
    }
  }
  await new Promise(() => {}); // held until killed
  return { check: 'member', result: 'yes', summary: '' };
}

/** A member killed with SIGKILL and restarted with the same group.instance.id gets its partitions back. */
async function checkStaticMembership(
  client: ClientName,
  brokers: string[],
  prefix: string,
): Promise<CheckOutcome> {
  if (client === 'kafkajs')
    return {
      check: 'static-membership',
      result: 'no',
      summary:
        'kafkajs has no group.instance.id (KIP-345): a restarted member waits out the session timeout of the one it replaces',
    };
  const s = await setup(brokers, prefix);
  try {
    await s.topic('static', 2);
    const start = () => {
      const child = fork(
        WORKER,
        [client, brokers.join(','), JSON.stringify({ kind: 'check', check: 'member', prefix })],
        { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
      );
      const t0 = performance.now();
      const assigned = new Promise<{ partitions: number[]; seconds: number }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no assignment within 60 s')), 60_000);
        child.on('message', (m: { assigned?: number[] }) => {
          if (m.assigned !== undefined && m.assigned.length > 0) {
            clearTimeout(timer);
            resolve({ partitions: m.assigned, seconds: (performance.now() - t0) / 1000 });
          }
        });
      });
      return { child, assigned };
    };
    const first = start();
    const a = await first.assigned;
    await sleep(1000);
    first.child.kill('SIGKILL');
    const second = start();
    const b = await second.assigned.finally(() => second.child.kill('SIGKILL'));
    const ok = b.seconds < 15 && b.partitions.length === a.partitions.length;
    return {
      check: 'static-membership',
      result: ok ? 'yes' : 'no',
      summary: `first member got ${JSON.stringify(a.partitions)} after ${a.seconds.toFixed(1)} s; killed (SIGKILL); the restart with the same instance id got ${JSON.stringify(b.partitions)} after ${b.seconds.toFixed(1)} s (session timeout 45 s)`,
      details: { first: a, restarted: b },
    };
  } finally {
    await s.close();
  }
}

/** The admin calls meshpipe makes (lib/kafka.ts, processors/runtime, sinks, cli). */
async function checkAdmin(client: ClientName, brokers: string[], prefix: string): Promise<CheckOutcome> {
  const s = await setup(brokers, prefix);
  const calls: Record<string, string> = {};
  const topic = `${prefix}-admin`;
  const groupId = `${prefix}-admin-group`;
  const attempt = async (name: string, fn: (() => Promise<string>) | null, missing = 'not in the API') => {
    if (fn === null) {
      calls[name] = `no: ${missing}`;
      return;
    }
    try {
      calls[name] = `yes: ${await fn()}`;
    } catch (err) {
      calls[name] = `error: ${JSON.stringify(errorShape(err)).slice(0, 200)}`;
    }
  };
  try {
    // A group with committed offsets to read and delete, made by kafkajs.
    const afterCreate = async () => {
      await s.admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '0' }] });
    };
    if (client === 'kafkajs') {
      const a = s.admin;
      await attempt('createTopics with configs', async () => {
        await a.createTopics({
          topics: [
            {
              topic,
              numPartitions: 2,
              configEntries: [
                { name: 'cleanup.policy', value: 'compact' },
                { name: 'retention.ms', value: '3600000' },
              ],
            },
          ],
          waitForLeaders: true,
        });
        return 'created';
      });
      await afterCreate();
      await attempt('describeConfigs', async () => {
        const r = await a.describeConfigs({
          includeSynonyms: false,
          resources: [{ type: 2, name: topic, configNames: ['cleanup.policy', 'max.message.bytes'] }],
        });
        return r.resources[0]!.configEntries.map((e) => `${e.configName}=${e.configValue}`).join(', ');
      });
      await attempt(
        'fetchTopicMetadata',
        async () =>
          `${(await a.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.length} partitions`,
      );
      await attempt('fetchTopicOffsets', async () =>
        JSON.stringify(await a.fetchTopicOffsets(topic)).slice(0, 80),
      );
      await attempt('fetchOffsets (group)', async () =>
        JSON.stringify(await a.fetchOffsets({ groupId, topics: [topic] })).slice(0, 80),
      );
      await attempt('createPartitions', async () => {
        await a.createPartitions({ topicPartitions: [{ topic, count: 4 }] });
        return 'to 4';
      });
      await attempt('listTopics', async () => String((await a.listTopics()).includes(topic)));
      await attempt('describeGroups', async () => (await a.describeGroups([groupId])).groups[0]!.state);
      await attempt('deleteGroups', async () => {
        await a.deleteGroups([groupId]);
        return 'deleted';
      });
      await attempt('deleteTopics', async () => {
        await a.deleteTopics({ topics: [topic] });
        return 'deleted';
      });
    } else if (client === 'platformatic') {
      const plt = await loadPlatformatic();
      const a = new plt.Admin({ clientId: 'bench-kc', bootstrapBrokers: brokers }) as unknown as Record<
        string,
        (o?: unknown) => Promise<unknown>
      >;
      await attempt('createTopics with configs', async () => {
        await a.createTopics!({
          topics: [topic],
          partitions: 2,
          replicas: 1,
          configs: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'retention.ms', value: '3600000' },
          ],
        });
        return 'created';
      });
      await sleep(500);
      await afterCreate();
      await attempt('describeConfigs', async () => {
        const r = (await a.describeConfigs!({
          resources: [
            {
              resourceType: 2,
              resourceName: topic,
              configurationKeys: ['cleanup.policy', 'max.message.bytes'],
            },
          ],
        })) as Array<{ configs: Array<{ name: string; value: string }> }>;
        return r[0]!.configs.map((e) => `${e.name}=${e.value}`).join(', ');
      });
      await attempt('fetchTopicMetadata', async () => {
        const m = (await a.metadata!({ topics: [topic] })) as {
          topics: Map<string, { partitionsCount: number }>;
        };
        return `${m.topics.get(topic)?.partitionsCount} partitions (metadata())`;
      });
      await attempt('fetchTopicOffsets', async () => {
        const r = await a.listOffsets!({
          topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -1n }] }],
        });
        return `listOffsets: ${JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v)).slice(0, 80)}`;
      });
      await attempt('fetchOffsets (group)', async () => {
        const r = await a.listConsumerGroupOffsets!({ groups: [groupId] });
        return `listConsumerGroupOffsets: ${JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v)).slice(0, 100)}`;
      });
      await attempt('createPartitions', async () => {
        await a.createPartitions!({ topics: [{ name: topic, count: 4 }] });
        return 'to 4';
      });
      await attempt('listTopics', async () => String(((await a.listTopics!()) as string[]).includes(topic)));
      await attempt('describeGroups', async () => {
        const r = (await a.describeGroups!({ groups: [groupId] })) as Map<string, { state: string }>;
        return String(r.get(groupId)?.state);
      });
      await attempt('deleteGroups', async () => {
        await a.deleteGroups!({ groups: [groupId] });
        return 'deleted';
      });
      await attempt('deleteTopics', async () => {
        await a.deleteTopics!({ topics: [topic] });
        return 'deleted';
      });
      await a.close!();
    } else {
      const ck = loadConfluent();
      const a = confluentKafka(ck, brokers).admin() as unknown as Record<
        string,
        ((...args: unknown[]) => Promise<unknown>) | undefined
      >;
      await a.connect!();
      await attempt('createTopics with configs', async () => {
        await a.createTopics!({
          topics: [
            {
              topic,
              numPartitions: 2,
              configEntries: [
                { name: 'cleanup.policy', value: 'compact' },
                { name: 'retention.ms', value: '3600000' },
              ],
            },
          ],
        });
        return 'created (waitForLeaders not supported)';
      });
      await sleep(500);
      await afterCreate();
      await attempt(
        'describeConfigs',
        typeof a.describeConfigs === 'function'
          ? async () => JSON.stringify(await a.describeConfigs!())
          : null,
        'not in the KafkaJS admin nor the native AdminClient (librdkafka has DescribeConfigs; the binding does not expose it)',
      );
      await attempt('fetchTopicMetadata', async () => {
        // An array of topics (kafkajs: { topics: [...] }).
        // An array of topics, where kafkajs answers { topics: [...] }.
        const r = (await a.fetchTopicMetadata!({ topics: [topic] })) as Array<{ partitions: unknown[] }>;
        return `${r[0]!.partitions.length} partitions (an array, not kafkajs's { topics })`;
      });
      await attempt('fetchTopicOffsets', async () =>
        JSON.stringify(await a.fetchTopicOffsets!(topic)).slice(0, 80),
      );
      await attempt('fetchOffsets (group)', async () =>
        JSON.stringify(await a.fetchOffsets!({ groupId, topics: [topic] })).slice(0, 80),
      );
      await attempt(
        'createPartitions',
        typeof a.createPartitions === 'function'
          ? async () => {
              await a.createPartitions!({ topicPartitions: [{ topic, count: 4 }] });
              return 'to 4';
            }
          : async () => {
              const native = ck.AdminClient.create({ 'bootstrap.servers': brokers.join(',') });
              await new Promise<void>((resolve, reject) =>
                native.createPartitions!(topic, 4, 10_000, (err: unknown) => (err ? reject(err) : resolve())),
              );
              native.disconnect!();
              return 'to 4, through the native AdminClient (not in the KafkaJS admin)';
            },
      );
      await attempt('listTopics', async () => String(((await a.listTopics!()) as string[]).includes(topic)));
      await attempt('describeGroups', async () => {
        const r = (await a.describeGroups!([groupId])) as { groups: Array<{ state: unknown }> };
        return String(r.groups[0]?.state);
      });
      await attempt('deleteGroups', async () => {
        await a.deleteGroups!([groupId]);
        return 'deleted';
      });
      await attempt('deleteTopics', async () => {
        await a.deleteTopics!({ topics: [topic] });
        return 'deleted';
      });
      await a.disconnect!();
    }
    const bad = Object.entries(calls).filter(([, v]) => !v.startsWith('yes'));
    return {
      check: 'admin',
      result: bad.length === 0 ? 'yes' : bad.every(([, v]) => v.startsWith('error')) ? 'error' : 'part',
      summary:
        bad.length === 0
          ? `all ${Object.keys(calls).length} calls work`
          : `missing or failing: ${bad.map(([k, v]) => `${k} (${v})`).join('; ')}`,
      details: calls,
    };
  } finally {
    await s.admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await s.close();
  }
}

export async function runCheck(
  client: ClientName,
  brokers: string[],
  check: CheckName,
  prefix: string,
): Promise<CheckOutcome> {
  switch (check) {
    case 'capabilities': {
      const d =
        client === 'kafkajs'
          ? kafkajsDriver(brokers)
          : client === 'platformatic'
            ? await platformaticDriver(brokers)
            : confluentDriver(brokers);
      const extra =
        client === 'confluent'
          ? { librdkafka: loadConfluent().librdkafkaVersion, features: loadConfluent().features }
          : {};
      return {
        check,
        result: 'yes',
        summary: '',
        details: { compressions: d.compressions, loopModes: d.loopModes, ...extra },
      };
    }
    case 'member':
      return runMember(client, brokers, prefix);
    case 'read-committed-same-producer':
    case 'read-committed-abort-order':
    case 'read-committed-small-fetches':
      return checkReadCommitted(client, brokers, prefix, check);
    case 'fencing':
      return checkFencing(client, brokers, prefix);
    case 'concurrent-transactions':
      return checkConcurrentTransactions(client, brokers, prefix);
    case 'message-too-large':
      return checkMessageTooLarge(client, brokers, prefix);
    case 'partitioner':
      return checkPartitioner(client, brokers, prefix);
    case 'pause-resume-seek':
      return checkPauseSeek(client, brokers, prefix);
    case 'co-partitioned-assignor':
      return checkAssignor(client, brokers, prefix);
    case 'static-membership':
      return checkStaticMembership(client, brokers, prefix);
    case 'admin':
      return checkAdmin(client, brokers, prefix);
  }
}
