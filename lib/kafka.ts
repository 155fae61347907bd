/**
 * The Kafka adapter: everything meshpipe does with Kafka goes through here. Implemented in lib/kafka/
 * on @confluentinc/kafka-javascript (librdkafka), chosen by measurement (docs/benchmarks.md, "Kafka
 * clients"): the only candidate whose read_committed and transactional fencing are right without
 * patching it, and the cheapest per byte, which is what batch records make matter. Its types stay
 * inside lib/kafka/; callers see meshpipe's own.
 *
 *   createKafka(options) ─┬─ admin()                   topics, offsets, configs, groups (admin.ts)
 *                         ├─ producer()                idempotent sends (producer.ts)
 *                         ├─ transactionalProducer()   records + offsets, atomically (transactional-producer.ts)
 *                         ├─ consumer()                a consumer-group member (group-consumer.ts)
 *                         └─ assignedConsumer()        chosen partitions, no group (assigned-consumer.ts)
 */
import type { MeshpipeConfig } from './config/meshpipe-config.ts';
import { ERRORS, errorMessage, MeshpipeError } from './errors.ts';
import type { KafkaAdmin } from './kafka/admin.ts';
import type { KafkaClient, KafkaClientOptions } from './kafka/client.ts';
import { kafkaTlsOptions } from './kafka-tls.ts';
import type { Logger } from './logger.ts';

export type { CommittedOffsets, GroupState, KafkaAdmin, PartitionOffsets, TopicSpec } from './kafka/admin.ts';
export { type AssignedConsumer, readPartitionsToEnd, type StartAt } from './kafka/assigned-consumer.ts';
export {
  createKafka,
  type KafkaClient,
  type KafkaClientOptions,
  type SaslMechanism,
  type SaslOptions,
} from './kafka/client.ts';
export { type ConsumerSettings, type ConsumerTuning, consumerTuning } from './kafka/consumer-settings.ts';
export type {
  AssignmentPlan,
  ConsumedBatch,
  ConsumedRecord,
  GroupConsumer,
  GroupConsumerOptions,
  PartitionRef,
} from './kafka/group-consumer.ts';
export { isInstanceFenced } from './kafka/group-consumer.ts';
export { code as kafkaErrorCode, findKafkaError, KafkaError } from './kafka/kafka-error.ts';
export type {
  Compression,
  KafkaProducer,
  OutgoingMessage,
  ProducerOptions,
  TopicMessages,
} from './kafka/producer.ts';
export type { OffsetToCommit, TransactionalProducer } from './kafka/transactional-producer.ts';

/** Client options from the configuration (`kafka.*`); `brokers` overrides `kafka.brokers`. */
export function kafkaOptionsFrom(
  config: MeshpipeConfig,
  logger: Logger,
  brokers?: string[],
): KafkaClientOptions {
  const k = config.kafka;
  const tls = kafkaTlsOptions(k);
  const options: KafkaClientOptions = {
    brokers: brokers ?? k.brokers,
    clientId: k.clientId,
    ...(tls === undefined ? {} : { tls }),
    logger,
  };
  if (k.saslMechanism !== 'none') {
    options.sasl = { mechanism: k.saslMechanism, username: k.saslUsername, password: k.saslPassword };
  }
  return options;
}

/** Connects an admin client or throws KAFKA_UNREACHABLE with the brokers in the message. */
export async function connectAdmin(
  kafka: KafkaClient,
  brokers: readonly string[] = kafka.brokers,
): Promise<KafkaAdmin> {
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (err) {
    throw new MeshpipeError(ERRORS.KAFKA_UNREACHABLE, [brokers.join(','), errorMessage(err)], { cause: err });
  }
  return admin;
}
