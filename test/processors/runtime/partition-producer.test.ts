/**
 * The transactional producer of a task, on the broker: transactions back to back, the way a task runs
 * a punctuation and then the batch that waited behind it. A transaction that begins while the markers
 * of the previous one are still being written meets CONCURRENT_TRANSACTIONS on its first request to the
 * coordinator; it must be retried in place (librdkafka does), never fail the transaction.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../../lib/logger.ts';
import { PartitionProducer } from '../../../processors/runtime/partition-producer.ts';
import { type TestKafka, testKafka } from '../../../testkit/kafka.ts';

const ROUNDS = 150;
const silent = createLogger({ component: 'test', level: 'silent' });

describe('partition producer', () => {
  let k: TestKafka;
  let topic: string;
  before(async () => {
    k = await testKafka('partition-producer');
    topic = `${k.prefix}.test.producer.v1`;
    await k.admin.createTopics([{ topic, numPartitions: 1 }]);
  });
  after(async () => k.cleanup());

  it('commits back-to-back transactions without aborting one for CONCURRENT_TRANSACTIONS', async (t) => {
    const producer = new PartitionProducer({
      kafka: k.kafka,
      transactionalId: `${k.prefix}-producer-0`,
      transactionTimeoutMs: 10_000,
      logger: silent,
    });
    await producer.init();
    const groupId = `${k.prefix}-group`;
    // The offsets go with the group metadata of a member that owns the partition (KIP-447).
    const consumer = k.kafka.consumer({ groupId, topics: [topic], eachBatch: async () => {} });
    await consumer.connect();
    while (consumer.assignment().length === 0) await sleep(50);
    let failures = 0;
    try {
      for (let i = 0; i < ROUNDS; i++) {
        const record = { topic, key: 'k', value: Buffer.from(String(i)), headers: {} };
        try {
          // A punctuation's transaction (records, no offsets), then a batch's that only moves offsets.
          await producer.commit([record], undefined, undefined);
          await producer.commit([], undefined, {
            consumer,
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
      await consumer.disconnect();
    }
    assert.equal(failures, 0, 'aborted transactions');
    const offsets = await k.admin.committedOffsets(groupId, [topic]);
    assert.equal(offsets.get(topic)?.get(0), BigInt(ROUNDS));
    t.diagnostic(`${ROUNDS * 2} transactions, none aborted`);
  });
});
