/**
 * read_committed with transactions aborted in another order than they began, on the broker: two
 * transactional producers write one partition and the later one is aborted first — what a restarted
 * processor instance does when it fences the open transactions of the instance that was killed. Both
 * readers of the adapter (lib/kafka/) must see the committed record only. kafkajs, an independent
 * client, writes the transactions (kafkajs as a reader let such records through: it needed a patch of
 * its internals, gone with it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Kafka as Kafkajs, logLevel } from 'kafkajs';
import { readPartitionsToEnd } from '../../../lib/kafka.ts';
import { follow, type TestKafka, testKafka } from '../../../testkit/kafka.ts';
import { waitFor } from '../../helpers/wait.ts';

describe('read_committed on the broker', () => {
  let k: TestKafka;
  let topic: string;
  before(async () => {
    k = await testKafka('read-committed');
    topic = `${k.prefix}.test.read-committed.v1`;
    await k.admin.createTopics([{ topic, numPartitions: 1 }]);
  });
  after(async () => k.cleanup());

  it('hides two transactions on one partition aborted in the reverse order of their start', async () => {
    const writer = new Kafkajs({ brokers: k.brokers, logLevel: logLevel.NOTHING });
    const producers = ['first', 'second', 'third'].map((id) =>
      writer.producer({ transactionalId: `${k.prefix}-${id}`, maxInFlightRequests: 1, idempotent: true }),
    );
    await Promise.all(producers.map((p) => p.connect()));
    const [first, second, third] = producers as [
      (typeof producers)[0],
      (typeof producers)[0],
      (typeof producers)[0],
    ];
    try {
      const a = await first.transaction();
      await a.send({ topic, messages: [{ key: 'a', value: 'aborted, began first' }] });
      const b = await second.transaction();
      await b.send({ topic, messages: [{ key: 'b', value: 'aborted, began second' }] });
      await b.abort();
      await a.abort();
      const c = await third.transaction();
      await c.send({ topic, messages: [{ key: 'c', value: 'committed' }] });
      await c.commit();
    } finally {
      await Promise.all(producers.map((p) => p.disconnect()));
    }
    const seen: string[] = [];
    await readPartitionsToEnd({
      kafka: k.kafka,
      admin: k.admin,
      topic,
      partitions: [0],
      onRecord: (_p, message) => seen.push(message.value!.toString()),
    });
    assert.deepEqual(seen, ['committed']);

    const followed: string[] = [];
    const group = await follow(k.kafka, {
      groupId: `${k.prefix}-reader`,
      topics: [topic],
      eachMessage: ({ message }) => void followed.push(message.value!.toString()),
    });
    try {
      await waitFor('the committed record', () => followed.length > 0);
    } finally {
      await group.stop();
    }
    assert.deepEqual(followed, ['committed']);
  });
});
