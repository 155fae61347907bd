/**
 * A Kafka client for one set of brokers and credentials: turns meshpipe's configuration into
 * librdkafka properties (security, timeouts, logging) and makes the admin, producers and consumers of
 * this adapter. Every librdkafka instance it makes logs through pino (lib/logger.ts), with what
 * librdkafka reports about connections it retries by itself at debug: a caller that cannot get its
 * work done says so, once, with the error.
 */
import { KafkaAdmin } from './admin.ts';
import { AssignedConsumer, type AssignedConsumerOptions } from './assigned-consumer.ts';
import { type KafkaClientOptions, KafkaConnection } from './connection.ts';
import { GroupConsumer, type GroupConsumerOptions } from './group-consumer.ts';
import { KafkaProducer, type ProducerOptions } from './producer.ts';
import { TransactionalProducer, type TransactionalProducerOptions } from './transactional-producer.ts';

export type { KafkaClientOptions, Properties, SaslMechanism, SaslOptions } from './connection.ts';

/** A connection that makes the admin, producers and consumers of this adapter. */
export class KafkaClient extends KafkaConnection {
  admin(): KafkaAdmin {
    return new KafkaAdmin(this);
  }

  producer(options: ProducerOptions = {}): KafkaProducer {
    return new KafkaProducer(this, options);
  }

  transactionalProducer(options: TransactionalProducerOptions): TransactionalProducer {
    return new TransactionalProducer(this, options);
  }

  consumer(options: GroupConsumerOptions): GroupConsumer {
    return new GroupConsumer(this, options);
  }

  /** A consumer of chosen partitions, without a group (restores, `tail`, tests reading outputs). */
  assignedConsumer(options: AssignedConsumerOptions = {}): AssignedConsumer {
    return new AssignedConsumer(this, options);
  }
}

export function createKafka(options: KafkaClientOptions): KafkaClient {
  return new KafkaClient(options);
}
