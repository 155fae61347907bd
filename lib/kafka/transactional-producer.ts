/**
 * A transactional producer (librdkafka's transactions, KIP-98 with KIP-447): records to any topics and
 * a consumer's offsets, committed or aborted as one.
 *
 *   init()          InitProducerId for the transactional id: fences every earlier holder of the id (its
 *                   next request fails with ERR__FENCED) and completes or aborts the transaction it
 *                   left open, before this one may begin
 *   begin() → send(...)* → sendOffsets(offsets, consumer)? → commit() | abort()
 *
 * The offsets carry the consumer's group metadata (generation, member id, group instance id): the
 * coordinator refuses them from a member that is no longer in the group's current generation, so a
 * zombie that missed a rebalance cannot commit input it no longer owns — on top of the transactional
 * id's own fencing.
 *
 * Errors are KafkaErrors with librdkafka's verdict (kafka-error.ts): a record the broker refused
 * (too large, invalid) makes the commit fail `abortable` with the refusal's code; `fatal` means this
 * producer is finished (fenced, or its state is unknown) and `init()` must make a new one; a
 * `retriable` commit was retried here until `commitTimeoutMs` and its outcome is then unknown.
 * Records are batched by librdkafka up to `maxBatchBytes` per partition per request, so a
 * transaction larger than a topic's max.message.bytes goes out in several batches, each under it.
 */
import type { KafkaConnection } from './connection.ts';
import { GROUP_CONSUMER, type GroupConsumer } from './group-consumer.ts';
import { code, KafkaError, kafkaError } from './kafka-error.ts';
import type { Producer } from './librdkafka.ts';
import {
  type Compression,
  connectProducer,
  disconnectProducer,
  type OutgoingMessage,
  produceOne,
  producerProperties,
} from './producer.ts';

export interface TransactionalProducerOptions {
  transactionalId: string;
  /** How long the coordinator lets a transaction stay open before it aborts it (a crashed owner's). */
  transactionTimeoutMs: number;
  /** The largest record batch: at most the smallest max.message.bytes of the topics written. */
  maxBatchBytes?: number;
  /** The largest single record (default `maxBatchBytes`): a larger one fails at once, as too large. */
  maxMessageBytes?: number;
  compression?: Compression;
  /** How long a commit may keep being retried before its outcome is called unknown (default 30 s). */
  commitTimeoutMs?: number;
}

/** An offset to commit: the next offset to read in a partition. */
export interface OffsetToCommit {
  topic: string;
  partition: number;
  offset: bigint;
}

function settle(what: string, f: (cb: (err: unknown) => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    f((err) => (err ? reject(kafkaError(err, what)) : resolve())),
  );
}

const closed = (id: string) => new KafkaError(`producer ${id} was closed`, { code: code('ERR__DESTROY') });

export class TransactionalProducer {
  readonly transactionalId: string;
  readonly #client: KafkaConnection;
  readonly #options: TransactionalProducerOptions;
  #producer: Producer | undefined;
  /**
   * The binding's transactional calls in flight. Each blocks a thread of the pool for up to its
   * timeout, and the binding does not order them against a close (its destroy takes a lock these
   * calls do not): librdkafka must not be destroyed under an init, send-offsets or commit call still
   * waiting for its coordinator. So close() waits for them — each is bounded by its timeout — first.
   */
  readonly #calls = new Set<Promise<void>>();
  /** Counts init() and close() calls: an init() that sees it change was superseded while it connected. */
  #generation = 0;

  constructor(client: KafkaConnection, options: TransactionalProducerOptions) {
    this.#client = client;
    this.#options = options;
    this.transactionalId = options.transactionalId;
  }

  get #native(): Producer {
    if (this.#producer === undefined)
      throw new KafkaError(`producer ${this.transactionalId} is not initialised`, {
        code: code('ERR__STATE'),
      });
    return this.#producer;
  }

  /** One transactional call of `producer`, refused once it is closed, tracked until it settles. */
  #call(producer: Producer, what: string, f: (cb: (err: unknown) => void) => void): Promise<void> {
    if (this.#producer !== producer) return Promise.reject(closed(this.transactionalId));
    const call = settle(what, f);
    const tracked = call.catch(() => {}).finally(() => this.#calls.delete(tracked));
    this.#calls.add(tracked);
    return call;
  }

  /** A new producer for the transactional id, registered with the coordinator (see the file comment). */
  async init(): Promise<void> {
    // Taken before anything is awaited: a close() (or another init()) from now on supersedes this one.
    const generation = ++this.#generation;
    await this.#closeProducer();
    const properties = producerProperties(this.#client, {
      compression: this.#options.compression ?? 'none',
      lingerMs: 1,
      // librdkafka requires it: no record may outlive the transaction it belongs to.
      deliveryTimeoutMs: this.#options.transactionTimeoutMs,
      maxBatchBytes: this.#options.maxBatchBytes ?? 1_000_000,
      maxMessageBytes: this.#options.maxMessageBytes ?? this.#options.maxBatchBytes ?? 1_000_000,
      properties: {
        'transactional.id': this.transactionalId,
        'transaction.timeout.ms': this.#options.transactionTimeoutMs,
        // Deliveries are judged by the commit, which fails when one failed.
        dr_cb: false,
      },
    });
    const producer = await connectProducer(this.#client, properties, `txn ${this.transactionalId}`);
    if (this.#generation !== generation) {
      // Closed while connecting (the partition was revoked meanwhile): this one was never ours to keep.
      await disconnectProducer(producer).catch(() => {});
      throw closed(this.transactionalId);
    }
    this.#producer = producer;
    const deadline = Date.now() + this.#commitTimeout;
    for (;;) {
      try {
        await this.#call(producer, `initialising transactions for ${this.transactionalId}`, (cb) =>
          producer.initTransactions(this.#client.requestTimeout, cb),
        );
        break;
      } catch (err) {
        if (this.#producer !== producer) throw closed(this.transactionalId); // close() destroys it
        if (!(err as KafkaError).retriable || Date.now() > deadline) {
          await this.close();
          throw err;
        }
      }
    }
    if (this.#producer !== producer) throw closed(this.transactionalId);
  }

  get #commitTimeout(): number {
    return this.#options.commitTimeoutMs ?? 30_000;
  }

  begin(): Promise<void> {
    const producer = this.#native;
    return this.#call(producer, 'beginning a transaction', (cb) => producer.beginTransaction(cb));
  }

  /** Queues records in the transaction; their delivery is judged by `commit()`. */
  async send(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    const producer = this.#native;
    for (const m of messages) await produceOne(producer, topic, m, null);
  }

  /** The consumer's positions, committed with the transaction (with its group metadata). */
  sendOffsets(offsets: readonly OffsetToCommit[], consumer: GroupConsumer): Promise<void> {
    const producer = this.#native;
    const native = consumer[GROUP_CONSUMER]();
    return this.#call(producer, 'sending offsets to the transaction', (cb) =>
      producer.sendOffsetsToTransaction(
        offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: Number(o.offset) })),
        native,
        this.#client.requestTimeout,
        cb,
      ),
    );
  }

  /**
   * Flushes and commits. A retriable failure (a timeout) is retried — librdkafka makes a repeated
   * commit safe — until `commitTimeoutMs`; the error then thrown is `retriable` and the outcome unknown.
   */
  async commit(): Promise<void> {
    const producer = this.#native;
    const deadline = Date.now() + this.#commitTimeout;
    for (;;) {
      try {
        await this.#call(producer, 'committing a transaction', (cb) =>
          producer.commitTransaction(this.#client.requestTimeout, cb),
        );
        return;
      } catch (err) {
        const e = err as KafkaError;
        if (!e.retriable || e.abortable || e.fatal || Date.now() > deadline) throw e;
      }
    }
  }

  abort(): Promise<void> {
    const producer = this.#native;
    return this.#call(producer, 'aborting a transaction', (cb) =>
      producer.abortTransaction(this.#client.requestTimeout, cb),
    );
  }

  /** Refuses further calls, waits for those in flight (see #calls), then destroys the producer. */
  close(): Promise<void> {
    this.#generation++;
    return this.#closeProducer();
  }

  async #closeProducer(): Promise<void> {
    const producer = this.#producer;
    this.#producer = undefined;
    if (producer === undefined) return;
    await Promise.all(this.#calls);
    await disconnectProducer(producer, 5_000, () =>
      this.#client.logger.warn(
        { transactionalId: this.transactionalId },
        'a transactional producer did not close in time; leaving it behind (its replacement fences it)',
      ),
    ).catch(() => {});
  }
}
