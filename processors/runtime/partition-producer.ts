/**
 * The transactional producer of one task (one input partition), Kafka Streams' "EOS v1" model.
 *
 * kafkajs implements transactions but not KIP-447 (a consumer-group generation checked on
 * TxnOffsetCommit), so fencing must come from the transactional id itself: one producer per input
 * partition, with `transactionalId = <group>-<first input topic>-<partition>`. Whoever is assigned
 * partition N initialises that id before touching the partition; the broker then
 *
 *   - bumps the producer epoch, so the previous owner (a zombie that has not noticed the rebalance)
 *     fails its next send or commit with INVALID_PRODUCER_EPOCH instead of committing stale work, and
 *   - completes the previous owner's open transaction first (aborting it, or finishing a commit already
 *     decided), so the committed offsets and the changelog are stable when the new owner reads them.
 *
 * A unit of work — outputs, dead letters, changelog records, and the consumed offsets through
 * `sendOffsets` — commits or aborts as a whole.
 */
import type { Kafka, Message, Producer } from 'kafkajs';
import { partitioner } from '../../lib/kafka.ts';
import type { Logger } from '../../lib/logger.ts';
import type { OutgoingRecord } from './partition-task.ts';

/** Offsets to commit with the transaction: the next offset to read, per input topic. */
export interface TransactionOffsets {
  groupId: string;
  partition: number;
  next: ReadonlyMap<string, bigint>;
}

/** Errors after which this producer may never commit again: another instance owns the partition. */
const FENCED = new Set([
  'INVALID_PRODUCER_EPOCH',
  'PRODUCER_FENCED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
]);

export function isFenced(err: unknown): boolean {
  // kafkajs wraps protocol errors (retries exceeded → cause; several partitions → errors[]).
  const e = err as { type?: unknown; cause?: unknown; errors?: unknown } | null | undefined;
  if (e == null || typeof e !== 'object') return false;
  if (typeof e.type === 'string' && FENCED.has(e.type)) return true;
  if (Array.isArray(e.errors) && e.errors.some(isFenced)) return true;
  return isFenced(e.cause);
}

export class PartitionProducer {
  readonly transactionalId: string;
  readonly #kafka: Kafka;
  readonly #transactionTimeoutMs: number;
  readonly #logger: Logger;
  #producer: Producer | undefined;

  constructor(options: {
    kafka: Kafka;
    transactionalId: string;
    transactionTimeoutMs: number;
    logger: Logger;
  }) {
    this.#kafka = options.kafka;
    this.transactionalId = options.transactionalId;
    this.#transactionTimeoutMs = options.transactionTimeoutMs;
    this.#logger = options.logger;
  }

  /**
   * Connects and registers the transactional id with the broker (InitProducerId), fencing every
   * earlier holder of the id. Also used to start over after a failed transaction.
   */
  async init(): Promise<void> {
    await this.close();
    const producer = this.#kafka.producer({
      transactionalId: this.transactionalId,
      transactionTimeout: this.#transactionTimeoutMs,
      // kafkajs sends every transactional record through an idempotent path of its own
      // (producer.transaction() in kafkajs/src/producer/index.js); `idempotent` only governs sends
      // outside a transaction, which this producer never makes (with it, connect() would also fetch a
      // second, non-transactional producer id).
      idempotent: false,
      maxInFlightRequests: 1,
      createPartitioner: partitioner,
      // A transaction begun right after the previous commit often meets CONCURRENT_TRANSACTIONS while
      // the coordinator writes the commit markers (milliseconds): retry quickly, as the Java client
      // does for this case, rather than after the client-wide 200 ms.
      retry: { initialRetryTime: 20, maxRetryTime: 2_000, retries: 10 },
    });
    this.#producer = producer;
    await producer.connect();
    // kafkajs sends InitProducerId for the transactional id when the first transaction begins; an empty
    // transaction ends without a request to the broker.
    const empty = await producer.transaction();
    await empty.abort();
    if (this.#producer !== producer) {
      // Closed while initialising (the partition was revoked meanwhile): do not leave it connected.
      await producer.disconnect().catch(() => {});
      throw new Error(`producer ${this.transactionalId} was closed while it initialised`);
    }
  }

  /** Writes a unit of work atomically. On failure the transaction is aborted (if still possible) and the error rethrown. */
  async commit(
    records: readonly OutgoingRecord[],
    changelog: { topic: string; messages: Message[] } | undefined,
    offsets: TransactionOffsets | undefined,
  ): Promise<void> {
    const producer = this.#producer;
    if (producer === undefined) throw new Error(`producer ${this.transactionalId} is not initialised`);
    const transaction = await producer.transaction();
    try {
      const byTopic = new Map<string, Message[]>();
      for (const r of records) {
        const list = byTopic.get(r.topic) ?? [];
        if (list.length === 0) byTopic.set(r.topic, list);
        list.push({ key: r.key, value: r.value, headers: r.headers });
      }
      if (changelog !== undefined && changelog.messages.length > 0)
        byTopic.set(changelog.topic, changelog.messages);
      if (byTopic.size > 0) {
        await transaction.sendBatch({
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
      }
      if (offsets !== undefined) {
        await transaction.sendOffsets({
          consumerGroupId: offsets.groupId,
          topics: [...offsets.next].map(([topic, next]) => ({
            topic,
            partitions: [{ partition: offsets.partition, offset: next.toString() }],
          })),
        });
      }
      await transaction.commit();
    } catch (err) {
      if (!isFenced(err) && transaction.isActive()) {
        await transaction.abort().catch((abortErr) => {
          this.#logger.debug({ err: abortErr }, 'abort failed too; the producer will be re-initialised');
        });
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    const producer = this.#producer;
    this.#producer = undefined;
    await producer?.disconnect().catch((err) => this.#logger.debug({ err }, 'disconnecting a producer'));
  }
}
