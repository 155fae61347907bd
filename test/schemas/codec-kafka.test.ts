import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { partitioner } from '../../lib/kafka.ts';
import { codecFor, toJsonSafe } from '../../schemas/codec.ts';
import { TOPICS, type TopicId } from '../../schemas/topics.ts';
import { FIXTURES } from '../helpers/fixtures.ts';
import { type TestKafka, testKafka } from '../helpers/kafka.ts';
import { waitFor } from '../helpers/wait.ts';

describe('codec through a real Kafka broker', () => {
  let k: TestKafka;
  before(async () => {
    k = await testKafka('codec');
    await k.createTopics();
  });
  after(async () => k.cleanup());

  it('every topic carries its records byte-exact, and they decode to what was sent', async () => {
    const producer = k.kafka.producer({ idempotent: true, createPartitioner: partitioner });
    await producer.connect();
    const sent = new Map<string, unknown>();
    for (const [id, definition] of Object.entries(TOPICS)) {
      const value = FIXTURES[definition.schema as keyof typeof FIXTURES];
      sent.set(k.topic(id as TopicId), value);
      await producer.send({
        topic: k.topic(id as TopicId),
        messages: [{ key: 'k', value: codecFor(definition.schema).encode(value) }],
      });
    }
    await producer.disconnect();

    const received = new Map<string, unknown>();
    const consumer = k.kafka.consumer({ groupId: `${k.prefix}-reader`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topics: [...sent.keys()], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        const definition = Object.values(TOPICS).find((d) => topic.endsWith(d.suffix))!;
        received.set(topic, codecFor(definition.schema).decode(message.value!));
      },
    });
    await waitFor('one record per topic', () => received.size === sent.size, { timeoutMs: 30_000 });
    await consumer.disconnect();
    for (const [topic, value] of sent)
      assert.deepEqual(toJsonSafe(received.get(topic)), toJsonSafe(value), topic);
  });
});
