/**
 * A batch that takes longer than the poll interval, on the broker. A processor's transaction can wait a
 * minute for a coordinator that moved; a member that did not poll for `max.poll.interval.ms` was put
 * out of the group, and its rebalance waited for the same batch (the broker-chaos test stalled so).
 * Now the loop stops waiting for a slow batch after a quarter of the interval: its partition is paused
 * until it settles, the other partitions go on, the member stays in the group, and the slow partition
 * resumes where its batch ended — nothing skipped, nothing handed out twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConsumedBatch } from '../../../lib/kafka.ts';
import { type TestKafka, testKafka } from '../../../testkit/kafka.ts';
import { waitFor } from '../../helpers/wait.ts';

const POLL_INTERVAL_MS = 6_000;

describe('group consumer: a batch slower than the poll interval', () => {
  let k: TestKafka;
  let topic: string;
  before(async () => {
    k = await testKafka('slow-batch');
    topic = `${k.prefix}.test.slow-batch.v1`;
    await k.admin.createTopics([{ topic, numPartitions: 2 }]);
  });
  after(async () => k.cleanup());

  it('keeps the member in the group and the other partition flowing; the slow one resumes in order', async () => {
    const producer = k.kafka.producer();
    await producer.connect();
    const send = (partition: number, from: number, count: number) =>
      producer.send({
        topic,
        messages: Array.from({ length: count }, (_, i) => ({
          partition,
          value: Buffer.from(String(from + i)),
        })),
      });

    const seen: Record<number, number[]> = { 0: [], 1: [] };
    const revocations: boolean[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let slowStarted = false;
    let slowEnded = 0;
    const handedOutDuringSlow: number[] = [];
    const consumer = k.kafka.consumer({
      groupId: `${k.prefix}-slow`,
      topics: [topic],
      fromBeginning: true,
      sessionTimeoutMs: POLL_INTERVAL_MS,
      heartbeatIntervalMs: 1_000,
      rebalanceTimeoutMs: POLL_INTERVAL_MS,
      maxWaitMs: 100,
      concurrency: 2,
      onRevoked: (_partitions, lost) => {
        revocations.push(lost);
      },
      async eachBatch(batch: ConsumedBatch) {
        const values = batch.records.map((r) => Number(r.value!.toString()));
        seen[batch.partition]!.push(...values);
        if (slowStarted && slowEnded === 0) handedOutDuringSlow.push(batch.partition);
        if (batch.partition === 0 && !slowStarted) {
          slowStarted = true;
          // Longer than the poll interval: the member would have been put out of the group.
          await released;
          slowEnded = Date.now();
        }
      },
    });
    try {
      await send(0, 0, 10);
      await consumer.connect();
      await waitFor('the slow batch started', () => slowStarted, { timeoutMs: 60_000 });
      // Partition 1 gets records while partition 0's batch runs; they must be handed out meanwhile.
      await send(1, 0, 10);
      await waitFor('partition 1 handed out while partition 0 is busy', () => seen[1]!.length >= 10, {
        timeoutMs: POLL_INTERVAL_MS * 2,
      });
      // Partition 0 gets more records too: none may be handed out before its batch settles.
      await send(0, 10, 10);
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS * 1.5));
      assert.deepEqual(
        seen[0],
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        'nothing of partition 0 while its batch runs',
      );
      release();
      await waitFor('partition 0 resumed', () => seen[0]!.length >= 20, { timeoutMs: 30_000 });
      await send(1, 10, 5);
      await waitFor('partition 1 still flowing', () => seen[1]!.length >= 15, { timeoutMs: 30_000 });
    } finally {
      release();
      await consumer.disconnect();
      await producer.disconnect();
    }
    assert.deepEqual(
      seen[0],
      Array.from({ length: 20 }, (_, i) => i),
      'partition 0 in order, nothing twice',
    );
    assert.deepEqual(
      seen[1],
      Array.from({ length: 15 }, (_, i) => i),
      'partition 1 in order, nothing twice',
    );
    assert.ok(handedOutDuringSlow.includes(1), 'partition 1 was handed out while partition 0 was busy');
    assert.deepEqual(
      revocations.filter((lost) => lost),
      [],
      'the member was never put out of the group',
    );
  });
});
