/**
 * A real Kafka for tests: the broker in MESHPIPE_KAFKA_BROKERS (scripts/test starts the local stack and
 * sets it), else the local stack, started on demand. Each test gets a unique topic prefix, so test files
 * never see each other's records, and its topics are deleted afterwards.
 */
import { randomBytes } from 'node:crypto';
import { ensureStack } from '../cli/stack/stack.ts';
import { type ConsumedRecord, createKafka, type KafkaAdmin, type KafkaClient } from '../lib/kafka.ts';
import { createLogger } from '../lib/logger.ts';
import { allTopicDefinitions, ensureTopics } from '../schemas/cluster-topics.ts';
import { TOPICS, type TopicDefinition, type TopicId, topicName } from '../schemas/topics.ts';

export const testLogger = createLogger({
  component: 'test',
  level: (process.env.MESHPIPE_TEST_LOG_LEVEL as 'warn') ?? 'warn',
});

let brokersPromise: Promise<string[]> | undefined;

export function testBrokers(): Promise<string[]> {
  brokersPromise ??= (async () => {
    const fromEnv = process.env.MESHPIPE_KAFKA_BROKERS;
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv.split(',');
    const stack = await ensureStack({ logger: testLogger, redis: false });
    return stack.endpoints.kafkaBrokers;
  })();
  return brokersPromise;
}

let redisPromise: Promise<string> | undefined;

export function testRedisUrl(): Promise<string> {
  redisPromise ??= (async () => {
    const fromEnv = process.env.MESHPIPE_REDIS_URL;
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    const stack = await ensureStack({ logger: testLogger, kafka: false });
    return stack.endpoints.redisUrl;
  })();
  return redisPromise;
}

export interface TestKafka {
  brokers: string[];
  /** Unique topic prefix of this test. */
  prefix: string;
  /** meshpipe's Kafka adapter (lib/kafka.ts). */
  kafka: KafkaClient;
  admin: KafkaAdmin;
  /** Full name of a meshpipe topic under this test's prefix. */
  topic(id: TopicId): string;
  /** Creates topics (all meshpipe topics by default) under the prefix. */
  createTopics(definitions?: readonly TopicDefinition[]): Promise<void>;
  /** Environment for a CLI child process pointed at this Kafka and prefix. */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

export async function testKafka(name: string): Promise<TestKafka> {
  const brokers = await testBrokers();
  const prefix = `test-${name.replace(/[^A-Za-z0-9_-]/g, '-')}-${randomBytes(4).toString('hex')}`;
  const kafka = createKafka({ brokers, clientId: `test-${name}`, logger: testLogger });
  const admin = kafka.admin();
  await admin.connect();
  return {
    brokers,
    prefix,
    kafka,
    admin,
    topic: (id) => topicName(TOPICS[id], prefix),
    async createTopics(definitions = allTopicDefinitions()) {
      await ensureTopics(admin, definitions, { prefix, replicationFactor: -1 });
    },
    env: { MESHPIPE_KAFKA_BROKERS: brokers.join(','), MESHPIPE_TOPIC_PREFIX: prefix },
    async cleanup() {
      try {
        const mine = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
        if (mine.length > 0) await admin.deleteTopics(mine);
      } finally {
        await admin.disconnect();
      }
    },
  };
}

export interface Following {
  stop(): Promise<void>;
}

/**
 * Reads topics as they are written, from their beginning (read_committed), with a consumer group of
 * its own, handing every record to `eachMessage` until stopped.
 */
export async function follow(
  kafka: KafkaClient,
  options: {
    groupId: string;
    topics: readonly string[];
    eachMessage(payload: { topic: string; partition: number; message: ConsumedRecord }): void | Promise<void>;
  },
): Promise<Following> {
  const consumer = kafka.consumer({
    groupId: options.groupId,
    topics: options.topics,
    fromBeginning: true,
    maxWaitMs: 100,
    eachBatch: async (batch) => {
      for (const message of batch.records)
        await options.eachMessage({ topic: batch.topic, partition: batch.partition, message });
    },
  });
  await consumer.connect();
  return { stop: () => consumer.disconnect() };
}
