import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { toJsonSafe } from '../../schemas/codec.ts';
import { topicCodec } from '../../schemas/topic-codec.ts';
import {
  definitionOf,
  TOPICS,
  type TopicDefinition,
  type TopicId,
  valueSchemaOf,
} from '../../schemas/topics.ts';
import { FIXTURES } from '../../testkit/fixtures.ts';
import { follow, type TestKafka, testKafka } from '../../testkit/kafka.ts';
import { waitFor } from '../helpers/wait.ts';

describe('codec through a real Kafka broker', () => {
  let k: TestKafka;
  before(async () => {
    k = await testKafka('codec');
    await k.createTopics();
  });
  after(async () => k.cleanup());

  it('every topic carries its records byte-exact, and they decode to what was sent', async () => {
    const producer = k.kafka.producer();
    await producer.connect();
    const sent = new Map<string, unknown[]>();
    for (const [id, definition] of Object.entries(TOPICS) as Array<[string, TopicDefinition]>) {
      const codec = topicCodec(definition);
      const value = FIXTURES[valueSchemaOf(definition) as keyof typeof FIXTURES];
      const topic = k.topic(id as TopicId);
      // A batched topic: a batch record of two values, then a record of one value of the item schema
      // (what tools write); readers take both.
      const values = definition.batch === undefined ? [value] : [value, value, value];
      const records =
        definition.batch === undefined
          ? [codec.item.encode(value)]
          : [...codec.encodeBatches([value, value]), codec.item.encode(value)];
      sent.set(topic, values);
      await producer.send({ topic, messages: records.map((r) => ({ key: 'k', value: r })) });
    }
    await producer.disconnect();

    const received = new Map<string, unknown[]>();
    const consumer = await follow(k.kafka, {
      groupId: `${k.prefix}-reader`,
      topics: [...sent.keys()],
      eachMessage: async ({ topic, message }) => {
        const codec = topicCodec(definitionOf(topic)!);
        received.set(topic, [...(received.get(topic) ?? []), ...codec.decodeRecord(message.value!)]);
      },
    });
    await waitFor(
      'every record of every topic',
      () => [...sent].every(([topic, values]) => received.get(topic)?.length === values.length),
      { timeoutMs: 30_000 },
    );
    await consumer.stop();
    for (const [topic, values] of sent)
      assert.deepEqual(toJsonSafe(received.get(topic)), toJsonSafe(values), topic);
  });
});
