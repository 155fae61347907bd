/**
 * The transactional producer's close against its own calls in flight, on the broker. The binding runs
 * each transactional call on a thread of its own and does not order a close against them: destroying
 * librdkafka under a commit that is still waiting leaves both threads blocked for good (a processor
 * stalled under broker chaos that way). close() waits for the calls in flight, refuses new ones, and an
 * init() closed while it connects gives its producer up.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findKafkaError, kafkaErrorCode, readPartitionsToEnd } from '../../../lib/kafka.ts';
import { type TestKafka, testKafka } from '../../../testkit/kafka.ts';

describe('TransactionalProducer.close', () => {
  let k: TestKafka;
  let topic: string;
  before(async () => {
    k = await testKafka('txn-close');
    topic = `${k.prefix}.test.txn-close.v1`;
    await k.admin.createTopics([{ topic, numPartitions: 1 }]);
  });
  after(async () => k.cleanup());

  const producer = (id: string) =>
    k.kafka.transactionalProducer({ transactionalId: `${k.prefix}-${id}`, transactionTimeoutMs: 30_000 });

  async function committedValues(): Promise<string[]> {
    const seen: string[] = [];
    await readPartitionsToEnd({
      kafka: k.kafka,
      admin: k.admin,
      topic,
      partitions: [0],
      onRecord: (_p, message) => seen.push(message.value!.toString()),
    });
    return seen;
  }

  it('waits for a commit in flight, which completes, before it destroys the producer', async () => {
    const p = producer('commit-in-flight');
    await p.init();
    await p.begin();
    const values = Array.from({ length: 200 }, (_, i) => `in-flight-${i}`);
    await p.send(
      topic,
      values.map((v) => ({ value: Buffer.from(v) })),
    );
    const events: string[] = [];
    const commit = p.commit().then(
      () => events.push('commit settled'),
      (err) => events.push(`commit failed: ${err.message}`),
    );
    const close = p.close().then(() => events.push('closed'));
    await Promise.all([commit, close]);
    assert.deepEqual(events, ['commit settled', 'closed']);
    assert.deepEqual(
      (await committedValues()).filter((v) => v.startsWith('in-flight-')),
      values,
    );
  });

  it('refuses calls once closed, naming the producer', async () => {
    const p = producer('refused');
    await p.init();
    await p.close();
    await assert.rejects(
      async () => p.begin(),
      (err: Error) => {
        assert.equal(findKafkaError(err)?.code, kafkaErrorCode('ERR__STATE'));
        assert.equal(err.message, `producer ${k.prefix}-refused is not initialised`);
        return true;
      },
    );
  });

  it('an init closed while it connects gives its producer up; the id initialises again at once', async () => {
    const p = producer('closed-while-connecting');
    const init = p.init();
    await p.close();
    try {
      await assert.rejects(init, (err: Error) => {
        assert.equal(findKafkaError(err)?.code, kafkaErrorCode('ERR__DESTROY'));
        return true;
      });
    } finally {
      await p.close();
    }
    const again = producer('closed-while-connecting');
    await again.init();
    await again.begin();
    await again.send(topic, [{ value: Buffer.from('after-close-while-connecting') }]);
    await again.commit();
    await again.close();
    assert.ok((await committedValues()).includes('after-close-while-connecting'));
  });
});
