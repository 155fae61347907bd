/**
 * The library way to consume meshpipe: `subscribe('spans', handler)` delivers decoded, typed records of a
 * meshpipe topic to your function, with offsets committed after the handler returns (at least once).
 *
 *   import { subscribe } from 'meshpipe';
 *   const sub = await subscribe('spans', async ({ value }) => {
 *     if (value.status === 'ERROR') console.log(value.local.service, value.name, value.http.statusCode);
 *   }, { groupId: 'my-error-watcher' });
 *   // ... later
 *   await sub.stop();
 *
 * Records that do not decode go to `onDecodeError` (default: logged with partition and offset, skipped).
 * The hot topics (raw events, spans) carry many values per Kafka record: the handler still gets one
 * value at a time, and a record's offset is committed once all its values were handled.
 */
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../lib/config/load.ts';
import { findEndpoints, noBrokersError } from '../lib/endpoints.ts';
import { createKafka, kafkaOptionsFrom } from '../lib/kafka.ts';
import { createLogger, type Logger } from '../lib/logger.ts';
import { schemaRegistry } from '../schemas/registry.ts';
import { connectSchemaRegistry, type SchemaRegistrySettings } from '../schemas/schema-registry-connection.ts';
import { topicCodec } from '../schemas/topic-codec.ts';
import type { TopicValues } from '../schemas/topic-values.ts';
import { TOPICS, type TopicId, topicName } from '../schemas/topics.ts';

export interface ReceivedRecord<T> {
  topic: string;
  partition: number;
  /** Offset of the Kafka record; the values of one batch record share it (see `index`). */
  offset: string;
  /** Position of the value in its batch record (the hot topics carry batches); 0 otherwise. */
  index: number;
  /** Kafka timestamp, ms since the epoch. */
  timestamp: number;
  /** The value's key (for a value of a batch, the key it would have as a record of its own). */
  key: string | null;
  value: T;
}

export interface SubscribeOptions {
  /** Consumer group. Give a stable name to resume where you left off; default: a new group each time. */
  groupId?: string;
  /** Start from the oldest retained record when the group has no committed offset (default: newest). */
  fromBeginning?: boolean;
  /** Bootstrap servers; default: kafka.brokers / MESHPIPE_KAFKA_BROKERS, else the local broker. */
  brokers?: string[];
  /** Topic prefix; default: kafka.topicPrefix (`meshpipe`). */
  topicPrefix?: string;
  logger?: Logger;
  /** Schema Registry of the topics; default: kafka.schemaRegistry (none: schema ids are fingerprints). */
  schemaRegistry?: SchemaRegistrySettings;
  /** Called for records that cannot be decoded; they are skipped either way. */
  onDecodeError?: (error: Error, where: { topic: string; partition: number; offset: string }) => void;
}

export interface Subscription {
  readonly topic: string;
  readonly groupId: string;
  /** Resolves once the consumer has joined its group and partitions are assigned. */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

export async function subscribe<K extends TopicId>(
  topic: K,
  handler: (record: ReceivedRecord<TopicValues[K]>) => void | Promise<void>,
  options: SubscribeOptions = {},
): Promise<Subscription> {
  const logger = options.logger ?? createLogger({ component: 'subscribe' });
  // TLS and SASL settings come from the configuration (kafka.*) whatever the options say.
  const { config } = loadConfig();
  const prefix = options.topicPrefix ?? config.kafka.topicPrefix;
  const registrySettings = options.schemaRegistry ?? config.kafka.schemaRegistry;
  const { brokers } = await findEndpoints(config, options.brokers);
  if (brokers.length === 0) throw noBrokersError();
  await connectSchemaRegistry({ settings: registrySettings, topicPrefix: prefix });
  const definition = TOPICS[topic];
  const name = topicName(definition, prefix);
  const values = topicCodec<TopicValues[K]>(definition);
  const groupId = options.groupId ?? `meshpipe-subscriber-${randomUUID()}`;
  const kafka = createKafka({
    ...kafkaOptionsFrom(config, logger, brokers),
    clientId: `meshpipe-subscribe-${topic}`,
  });
  let markReady: () => void = () => {};
  const ready = new Promise<void>((r) => {
    markReady = r;
  });

  const consumer = kafka.consumer({
    groupId,
    topics: [name],
    fromBeginning: options.fromBeginning === true,
    maxWaitMs: 250,
    onAssigned: () => {
      markReady();
      return undefined;
    },
    eachBatch: async ({ partition, records }) => {
      for (const message of records) {
        if (message.value === null) continue;
        // Outside the try: a Schema Registry that cannot be reached is retried, not a record to skip.
        await schemaRegistry().resolveIds([message]);
        let decoded: Array<TopicValues[K]>;
        try {
          decoded = values.decodeRecord(message.value);
        } catch (err) {
          const where = { topic: name, partition, offset: message.offset };
          if (options.onDecodeError !== undefined) options.onDecodeError(err as Error, where);
          else logger.warn({ err, ...where }, 'skipping a record that does not decode');
          continue;
        }
        const batched = values.batchSchema !== null;
        const key = message.key === null ? null : message.key.toString('utf8');
        for (let index = 0; index < decoded.length; index++) {
          const value = decoded[index]!;
          await handler({
            topic: name,
            partition,
            offset: message.offset,
            index,
            timestamp: message.timestamp,
            key: batched ? values.keyOf(value) : key,
            value,
          });
        }
      }
      // At least once: the batch's offsets are committed after its handler calls returned.
      const last = records.at(-1);
      if (last !== undefined)
        await consumer.commit([{ topic: name, partition, offset: BigInt(last.offset) + 1n }]);
    },
  });
  await consumer.connect();
  return {
    topic: name,
    groupId,
    ready,
    stop: () => consumer.disconnect(),
  };
}
