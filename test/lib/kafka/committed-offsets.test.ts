/**
 * A group's committed offsets read back on the broker (KafkaAdmin.committedOffsets, by a consumer of
 * the group that never joins it: lib/kafka/committed-offsets.ts): offsets a transaction committed and
 * offsets a member committed by itself, none where nothing was committed, and stable offsets only —
 * offsets an open transaction holds are waited out.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GroupConsumer } from '../../../lib/kafka.ts';
import { type TestKafka, testKafka } from '../../../testkit/kafka.ts';
import { waitFor } from '../../helpers/wait.ts';

describe('committed offsets of a group', () => {
  let k: TestKafka;
  let topic: string;
  before(async () => {
    k = await testKafka('committed-offsets');
    topic = `${k.prefix}.test.committed.v1`;
    await k.admin.createTopics([{ topic, numPartitions: 2 }]);
  });
  after(async () => k.cleanup());

  /** A member of the group that owns both partitions: transactional offsets need its group metadata. */
  async function member(groupId: string): Promise<GroupConsumer> {
    const consumer = k.kafka.consumer({ groupId, topics: [topic], eachBatch: async () => {} });
    await consumer.connect();
    await waitFor('both partitions assigned', () => consumer.assignment().length === 2);
    return consumer;
  }

  function transactional(name: string) {
    return k.kafka.transactionalProducer({
      transactionalId: `${k.prefix}-${name}`,
      transactionTimeoutMs: 30_000,
    });
  }

  it("reads what a transaction and a member's own commit committed; a partition without a commit is absent", async () => {
    const groupId = `${k.prefix}-committing`;
    const consumer = await member(groupId);
    const producer = transactional('committing');
    try {
      await producer.init();
      await producer.begin();
      await producer.sendOffsets([{ topic, partition: 0, offset: 5n }], consumer);
      await producer.commit();
      assert.deepEqual(
        await k.admin.committedOffsets(groupId, [topic]),
        new Map([[topic, new Map([[0, 5n]])]]),
      );

      await consumer.commit([{ topic, partition: 1, offset: 3n }]);
      const before = await k.admin.describeGroup(groupId);
      assert.deepEqual(
        await k.admin.committedOffsets(groupId, [topic]),
        new Map([
          [
            topic,
            new Map([
              [0, 5n],
              [1, 3n],
            ]),
          ],
        ]),
      );
      // The reader is of the group but never joined it: the member, its generation and partitions stay.
      assert.deepEqual(await k.admin.describeGroup(groupId), before);
      assert.equal(consumer.assignment().length, 2);
    } finally {
      await producer.close();
      await consumer.disconnect();
    }
  });

  it('a group that committed nothing: every topic asked, without offsets, and no group made', async () => {
    const groupId = `${k.prefix}-nobody`;
    assert.deepEqual(await k.admin.committedOffsets(groupId, [topic]), new Map([[topic, new Map()]]));
    assert.ok(!(await k.admin.listGroups()).includes(groupId), 'reading made the group');
  });

  it("waits out offsets of a transaction still open: the commit's once committed, the earlier ones once aborted", async () => {
    const groupId = `${k.prefix}-pending`;
    const consumer = await member(groupId);
    const producer = transactional('pending');
    const expect = (offset: bigint) => new Map([[topic, new Map([[0, offset]])]]);
    try {
      await producer.init();
      for (const [offset, end] of [
        [7n, 'commit'],
        [9n, 'abort'],
      ] as const) {
        await producer.begin();
        // Returns once the coordinator holds the offsets as pending (TxnOffsetCommit answered).
        await producer.sendOffsets([{ topic, partition: 0, offset }], consumer);
        let settled = false;
        const reading = k.admin.committedOffsets(groupId, [topic]).finally(() => {
          settled = true;
        });
        // Nothing to wait for here but time: the read must not return while the transaction is open
        // (it would return the offsets before these, or none). A second is many OffsetFetch retries.
        await sleep(1_000);
        assert.equal(settled, false, `read while the transaction of ${offset} was open`);
        if (end === 'commit') await producer.commit();
        else await producer.abort();
        assert.deepEqual(await reading, expect(7n), `after the ${end} of ${offset}`);
      }
    } finally {
      await producer.close();
      await consumer.disconnect();
    }
  });
});
