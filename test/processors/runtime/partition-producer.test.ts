/**
 * The transactional producer of a task, on the broker: transactions back to back, the way a task runs
 * a punctuation and then the batch that waited behind it. A transaction that begins while the markers
 * of the previous one are still being written meets CONCURRENT_TRANSACTIONS on its first request to the
 * coordinator; for AddOffsetsToTxn kafkajs does not retry it, so every such transaction used to fail
 * and be aborted. Now the request is retried in place, and every transaction commits.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Kafka } from 'kafkajs';
import { createLogger } from '../../../lib/logger.ts';
import {
  CommitOutcomeUnknownError,
  isOutcomeUnknown,
  PartitionProducer,
} from '../../../processors/runtime/partition-producer.ts';
import { type TestKafka, testKafka } from '../../helpers/kafka.ts';

const ROUNDS = 150;
const silent = createLogger({ component: 'test', level: 'silent' });

/** A kafkajs stand-in that records what a transaction is asked to do, and fails where told. */
function fakeKafka(fail: { sendBatch?: Error; commit?: Error } = {}) {
  const calls: string[] = [];
  const transaction = {
    sendBatch: async ({
      topicMessages,
    }: {
      topicMessages: Array<{ topic: string; messages: Array<{ partition?: number }> }>;
    }) => {
      const what = (t: (typeof topicMessages)[number]) =>
        `${t.topic}/${[...new Set(t.messages.map((m) => m.partition))].join('+')}:${t.messages.length}`;
      calls.push(`send ${topicMessages.map(what).join(' ')}`);
      if (fail.sendBatch) throw fail.sendBatch;
    },
    sendOffsets: async () => calls.push('offsets'),
    commit: async () => {
      calls.push('commit');
      if (fail.commit) throw fail.commit;
    },
    abort: async () => calls.push('abort'),
    isActive: () => !calls.includes('commit') && !calls.includes('abort'),
  };
  const producer = {
    connect: async () => {},
    disconnect: async () => {},
    transaction: async () => {
      calls.length = 0;
      return transaction;
    },
  };
  return { kafka: { producer: () => producer } as unknown as Kafka, calls };
}

async function fakeProducer(fail?: Parameters<typeof fakeKafka>[0]) {
  const { kafka, calls } = fakeKafka(fail);
  const producer = new PartitionProducer({
    kafka,
    transactionalId: 'fake',
    transactionTimeoutMs: 10_000,
    logger: silent,
    limits: { topic: (name) => (name === 'small' ? 1_000 : 1_000_000), changelog: () => 1_000_000 },
  });
  await producer.init();
  return { producer, calls };
}

const record = (topic: string, bytes: number, partition = 0) => ({
  topic,
  key: 'k',
  value: Buffer.alloc(bytes),
  headers: {},
  partition,
});

describe('partition producer, without a broker', () => {
  it("sends a transaction's records one partition at a time, in chunks that each fit the topic's max.message.bytes, in order", async () => {
    const { producer, calls } = await fakeProducer();
    const records = [...Array.from({ length: 5 }, (_, i) => record('small', 300, i % 2)), record('big', 300)];
    await producer.commit(
      records,
      { topic: 'changelog', messages: [{ key: 'a', value: Buffer.from('1'), partition: 0 }] },
      undefined,
    );
    // 61 bytes of batch header plus two 300-byte records (and their overhead) fit in 1000; three do not.
    // One partition per send: kafkajs retries a send of several partitions badly (partition-producer.ts).
    assert.deepEqual(calls, [
      'send small/0:2',
      'send small/0:1',
      'send small/1:2',
      'send big/0:1',
      'send changelog/0:1',
      'commit',
    ]);
  });

  it('a failure before the commit aborts; a failed commit is reported as of unknown outcome', async () => {
    const before = await fakeProducer({ sendBatch: new Error('broker down') });
    await assert.rejects(before.producer.commit([record('big', 10)], undefined, undefined), /broker down/);
    assert.deepEqual(before.calls, ['send big/0:1', 'abort']);

    const during = await fakeProducer({ commit: new Error('request timed out') });
    const err = await during.producer.commit([record('big', 10)], undefined, undefined).catch((e) => e);
    assert.ok(err instanceof CommitOutcomeUnknownError && isOutcomeUnknown(err));
    assert.deepEqual(during.calls, ['send big/0:1', 'commit'], 'not aborted: it may have committed');
  });
});

describe('partition producer', () => {
  let k: TestKafka;
  let topic: string;
  before(async () => {
    k = await testKafka('partition-producer');
    topic = `${k.prefix}.test.producer.v1`;
    await k.admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  });
  after(async () => k.cleanup());

  it('commits back-to-back transactions without aborting one for CONCURRENT_TRANSACTIONS', async (t) => {
    const retries: string[] = [];
    const producer = new PartitionProducer({
      kafka: k.kafka,
      transactionalId: `${k.prefix}-producer-0`,
      transactionTimeoutMs: 10_000,
      logger: silent,
      onRetry: (request, error) => retries.push(`${request} ${error}`),
    });
    await producer.init();
    const groupId = `${k.prefix}-group`;
    let failures = 0;
    try {
      for (let i = 0; i < ROUNDS; i++) {
        const record = { topic, key: 'k', value: Buffer.from(String(i)), headers: {} };
        try {
          // A punctuation's transaction (records, no offsets), then a batch's that only moves offsets.
          await producer.commit([record], undefined, undefined);
          await producer.commit([], undefined, {
            groupId,
            partition: 0,
            next: new Map([[topic, BigInt(i + 1)]]),
          });
        } catch {
          failures++;
          await producer.init();
        }
      }
    } finally {
      await producer.close();
    }
    assert.equal(failures, 0, `aborted transactions (retried in place: ${retries.length})`);
    const [offsets] = await k.admin.fetchOffsets({ groupId, topics: [topic] });
    assert.equal(offsets!.partitions[0]!.offset, String(ROUNDS));
    for (const r of retries) assert.match(r, /^AddOffsetsToTxn /);
    t.diagnostic(`${ROUNDS * 2} transactions, ${retries.length} AddOffsetsToTxn requests retried in place`);
  });
});
