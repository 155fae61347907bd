/**
 * A producer: records out, a promise per send that settles when the brokers acknowledged every
 * record of it (acks=all) or one failed for good.
 *
 * Partitions are the Java client's (`murmur2_random`: murmur2 of the key, made positive, modulo the
 * partition count — lib/key-partition.ts computes the same), so a key lands on the same partition
 * whichever client wrote it; a record without a key and without a partition goes to a random one.
 * Idempotent by default: librdkafka numbers every record, so its own retries never duplicate or
 * reorder what it sends.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { KafkaConnection, Properties } from './connection.ts';
import { code, KafkaError, kafkaError } from './kafka-error.ts';
import { type DeliveryReport, librdkafka, type MessageHeader, type Producer } from './librdkafka.ts';

export type Compression = 'none' | 'gzip' | 'zstd' | 'lz4';

export interface OutgoingMessage {
  /** Decides the partition when `partition` is absent. */
  key?: Buffer | string | null;
  value: Buffer | null;
  partition?: number;
  headers?: Record<string, string | Buffer>;
  /** Ms since the epoch; default: now. */
  timestamp?: number;
}

export interface TopicMessages {
  topic: string;
  messages: readonly OutgoingMessage[];
}

export interface ProducerOptions {
  /** Exactly-once delivery per partition across the client's own retries (default true). */
  idempotent?: boolean;
  /** Compression of each record batch (default none). */
  compression?: Compression;
  /** How long records wait to be batched with others, ms (default 2). */
  lingerMs?: number;
  /** How long a record may take to be acknowledged, retries included, before it fails (default 120 s). */
  deliveryTimeoutMs?: number;
  /** Bytes of records waiting in the client at most (default 32 MiB); a send beyond waits. */
  bufferBytes?: number;
  /** The largest record batch the client builds (default 1 000 000 bytes). */
  maxBatchBytes?: number;
  /** The largest record (and request) the client sends (default `maxBatchBytes`). */
  maxMessageBytes?: number;
  /** Extra librdkafka properties (those above win). */
  properties?: Properties;
}

/** One send: settles when its last record is acknowledged or at its first failure. */
export class Delivery {
  #pending: number;
  #failed = false;
  readonly promise: Promise<void>;
  #resolve!: () => void;
  #reject!: (err: Error) => void;

  constructor(count: number) {
    this.#pending = count;
    this.promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.promise.catch(() => {}); // observed by the caller
    if (count === 0) this.#resolve();
  }

  done(err: unknown, report?: DeliveryReport): void {
    if (this.#failed) return;
    if (err != null) {
      this.#failed = true;
      const where = report === undefined ? '' : ` (${report.topic}[${report.partition}])`;
      this.#reject(kafkaError(err, `delivery failed${where}`));
      return;
    }
    if (--this.#pending === 0) this.#resolve();
  }

  fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#reject(kafkaError(err));
  }
}

/**
 * Puts one record into librdkafka's queue; waits while the queue is full (the background poller
 * drains it as deliveries complete). Throws what produce() refuses at once (a record larger than the
 * client's limit: ERR_MSG_SIZE_TOO_LARGE; a closed producer).
 */
export async function produceOne(
  producer: Producer,
  topic: string,
  m: OutgoingMessage,
  opaque: unknown,
): Promise<void> {
  const headers: MessageHeader[] | undefined =
    m.headers === undefined
      ? undefined
      : Object.entries(m.headers).map(([name, value]) => ({ [name]: value }));
  for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
    try {
      producer.produce(
        topic,
        m.partition ?? -1,
        m.value,
        m.key ?? null,
        m.timestamp ?? null,
        opaque,
        headers,
      );
      return;
    } catch (err) {
      const e = kafkaError(err, `producing to ${topic}`);
      if (e.code !== code('ERR__QUEUE_FULL')) throw e;
      await sleep(wait);
    }
  }
}

export function producerProperties(client: KafkaConnection, options: ProducerOptions): Properties {
  const maxBatch = options.maxBatchBytes ?? 1_000_000;
  return client.properties({
    'enable.idempotence': options.idempotent !== false,
    acks: -1,
    'compression.codec': options.compression ?? 'none',
    'linger.ms': options.lingerMs ?? 2,
    'message.timeout.ms': options.deliveryTimeoutMs ?? 120_000,
    'queue.buffering.max.kbytes': Math.ceil((options.bufferBytes ?? 32 * 1_048_576) / 1024),
    'batch.size': maxBatch,
    'message.max.bytes': Math.max(options.maxMessageBytes ?? maxBatch, maxBatch, 1_000),
    partitioner: 'murmur2_random',
    'retry.backoff.ms': 100,
    'retry.backoff.max.ms': 2_000,
    dr_cb: true,
    ...options.properties,
  });
}

/** Connects a librdkafka producer (and fetches the brokers' metadata), with delivery reports polled. */
export async function connectProducer(
  client: KafkaConnection,
  properties: Properties,
  name: string,
): Promise<Producer> {
  const producer = new (librdkafka().Producer)(properties as never);
  client.attachLogging(producer, name);
  await new Promise<void>((resolve, reject) =>
    producer.connect({ allTopics: false, timeout: Math.max(client.connectionTimeout, 2_000) }, (err) =>
      err ? reject(kafkaError(err, 'connecting a producer')) : resolve(),
    ),
  );
  producer.setPollInBackground(true);
  return producer;
}

/** How long a producer's destroy may take after its flush before the caller stops waiting for it. */
export const DESTROY_GRACE_MS = 10_000;

/**
 * Flushes what was sent (up to `timeoutMs`), then destroys the producer. Resolves when it is destroyed,
 * or after `timeoutMs` + DESTROY_GRACE_MS whatever happens, calling `onStuck`: librdkafka's destroy can
 * block for good (a transactional producer that failed fatally while its broker was away, among the
 * hangs reported against rd_kafka_destroy), and a caller waiting for it — a processor replacing a
 * partition's producer — would stop with it. The stuck destroy keeps its thread; the caller goes on.
 */
export function disconnectProducer(
  producer: Producer,
  timeoutMs = 5_000,
  onStuck?: () => void,
): Promise<void> {
  return new Promise<void>((resolve) => {
    const stuck = setTimeout(() => {
      onStuck?.();
      resolve();
    }, timeoutMs + DESTROY_GRACE_MS);
    stuck.unref();
    producer.disconnect(timeoutMs, () => {
      clearTimeout(stuck);
      resolve();
    });
  });
}

export class KafkaProducer {
  readonly #client: KafkaConnection;
  readonly #options: ProducerOptions;
  #producer: Producer | undefined;

  constructor(client: KafkaConnection, options: ProducerOptions) {
    this.#client = client;
    this.#options = options;
  }

  async connect(): Promise<void> {
    if (this.#producer !== undefined) return;
    const producer = await connectProducer(
      this.#client,
      producerProperties(this.#client, this.#options),
      'producer',
    );
    producer.on('delivery-report', (err, report) =>
      (report.opaque as Delivery | undefined)?.done(err, report),
    );
    this.#producer = producer;
  }

  /** Sends records of one topic; resolves when all are acknowledged. */
  send(batch: TopicMessages): Promise<void> {
    return this.sendBatch([batch]);
  }

  /** Sends records of several topics; resolves when all are acknowledged. */
  async sendBatch(batches: readonly TopicMessages[]): Promise<void> {
    const producer = this.#producer;
    if (producer === undefined)
      throw new KafkaError('the producer is not connected', { code: code('ERR__STATE') });
    const delivery = new Delivery(batches.reduce((n, b) => n + b.messages.length, 0));
    try {
      for (const { topic, messages } of batches)
        for (const m of messages) await produceOne(producer, topic, m, delivery);
    } catch (err) {
      delivery.fail(err);
    }
    return delivery.promise;
  }

  /** Waits for what was sent to be delivered (or `timeoutMs`), then closes the connections. */
  async disconnect(timeoutMs = 5_000): Promise<void> {
    const producer = this.#producer;
    this.#producer = undefined;
    if (producer === undefined) return;
    await new Promise<void>((resolve) => producer.flush(timeoutMs, () => resolve()));
    await disconnectProducer(producer, timeoutMs);
  }
}
