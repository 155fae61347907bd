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
 * `sendOffsets` — commits or aborts as a whole. Its records go out in chunks that each fit the topics'
 * max.message.bytes (kafkajs makes one batch of whatever a request holds for a partition, and the
 * broker refuses a batch over the limit), several produce requests in one transaction.
 *
 * What a failure means for the work:
 *   - before EndTxn(commit) was sent (sending, offsets): the transaction is aborted, nothing of it is
 *     visible, ever — the caller rolls back and may try again;
 *   - EndTxn(commit) itself failed: the broker may or may not have committed it (the answer was lost,
 *     or the coordinator moved). The error says so (`outcomeUnknown`); only reading back what Kafka holds
 *     tells, which is what the host does: it rebuilds the task from the changelog and committed offsets.
 *
 * CONCURRENT_TRANSACTIONS: the coordinator answers it to AddPartitionsToTxn and AddOffsetsToTxn while it
 * still writes the markers of the previous transaction of the same producer (EndTxn returns as soon as
 * the commit is decided, before the markers are written), so the first request of a transaction that
 * begins right after a commit often meets it. kafkajs retries AddPartitionsToTxn with the producer's
 * retry settings (inside its send), but sends AddOffsetsToTxn once (eosManager.sendOffsets); so
 * `sendOffsets` is retried here, briefly, like the Java producer does. Nothing is aborted for it.
 */
import type { Kafka, Message, Producer, Transaction } from 'kafkajs';
import { partitioner } from '../../lib/kafka.ts';
import type { Logger } from '../../lib/logger.ts';
import {
  DEFAULT_LIMITS,
  type MessageSizeLimits,
  RECORD_BATCH_OVERHEAD,
  recordBytes,
} from './message-size.ts';
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

/**
 * Errors the broker answers for what a record holds, not for the state of the cluster: no retry cures
 * them, and the same records fail again. The host then finds the record that causes it (host.ts).
 */
const REJECTED = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TIMESTAMP',
]);

/** The first kafkajs protocol error type in an error and its causes, if any. */
export function protocolErrorType(err: unknown): string | undefined {
  const e = err as { type?: unknown; cause?: unknown; errors?: unknown } | null | undefined;
  if (e == null || typeof e !== 'object') return undefined;
  if (typeof e.type === 'string') return e.type;
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const type = protocolErrorType(inner);
      if (type !== undefined) return type;
    }
  }
  return protocolErrorType(e.cause);
}

/** Whether the broker refused the records themselves (see REJECTED). */
export function isRejected(err: unknown): boolean {
  const type = protocolErrorType(err);
  return type !== undefined && REJECTED.has(type);
}

/** EndTxn(commit) failed: whether the transaction committed is not known (see the file comment). */
export class CommitOutcomeUnknownError extends Error {
  readonly outcomeUnknown = true;
  constructor(cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`the commit of the transaction may or may not have happened: ${reason}`, { cause });
    this.name = 'CommitOutcomeUnknownError';
  }
}

export function isOutcomeUnknown(err: unknown): boolean {
  return err instanceof CommitOutcomeUnknownError;
}

/** How often, and how long, `sendOffsets` is retried on CONCURRENT_TRANSACTIONS and the like. */
const OFFSETS_RETRIES = 12;
const OFFSETS_RETRY_FIRST_MS = 10;
const OFFSETS_RETRY_MAX_MS = 500;

/** Whether kafkajs calls an error retriable (its own flag; the wrapper of exhausted retries is not). */
function isRetriable(err: unknown): boolean {
  const e = err as { retriable?: unknown; name?: unknown } | null;
  return e != null && e.retriable === true && e.name !== 'KafkaJSNumberOfRetriesExceeded';
}

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
  readonly #limits: MessageSizeLimits;
  readonly #onRetry: ((request: string, error: string) => void) | undefined;
  #producer: Producer | undefined;

  constructor(options: {
    kafka: Kafka;
    transactionalId: string;
    transactionTimeoutMs: number;
    logger: Logger;
    limits?: MessageSizeLimits;
    /** Called for every request retried here (not those kafkajs retries inside a send). */
    onRetry?: (request: string, error: string) => void;
  }) {
    this.#kafka = options.kafka;
    this.transactionalId = options.transactionalId;
    this.#transactionTimeoutMs = options.transactionTimeoutMs;
    this.#logger = options.logger;
    this.#limits = options.limits ?? DEFAULT_LIMITS;
    this.#onRetry = options.onRetry;
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

  /**
   * Writes a unit of work atomically. On failure the transaction is aborted (if still possible) and the
   * error rethrown; a failed EndTxn(commit) is rethrown as CommitOutcomeUnknownError.
   */
  async commit(
    records: readonly OutgoingRecord[],
    changelog: { topic: string; messages: Message[] } | undefined,
    offsets: TransactionOffsets | undefined,
  ): Promise<void> {
    const producer = this.#producer;
    if (producer === undefined) throw new Error(`producer ${this.transactionalId} is not initialised`);
    const transaction = await producer.transaction();
    try {
      const messages: Array<{ topic: string; message: Message }> = records.map((r) => ({
        topic: r.topic,
        message:
          r.partition === undefined
            ? { key: r.key, value: r.value, headers: r.headers }
            : { key: r.key, value: r.value, headers: r.headers, partition: r.partition },
      }));
      if (changelog !== undefined)
        for (const message of changelog.messages) messages.push({ topic: changelog.topic, message });
      for (const chunk of this.#chunks(messages)) await transaction.sendBatch({ topicMessages: chunk });
      if (offsets !== undefined) await this.#sendOffsets(transaction, offsets);
    } catch (err) {
      if (!isFenced(err) && transaction.isActive()) {
        await transaction.abort().catch((abortErr) => {
          this.#logger.debug({ err: abortErr }, 'abort failed too; the producer will be re-initialised');
        });
      }
      throw err;
    }
    try {
      await transaction.commit();
    } catch (err) {
      if (isFenced(err)) throw err;
      throw new CommitOutcomeUnknownError(err);
    }
  }

  /**
   * Splits records into sends of one partition each, whose records fit the topic's max.message.bytes in
   * one batch, in order within each partition. A record too large to fit at all goes alone (the broker
   * refuses it; the host isolates it).
   *
   * One partition per send, because kafkajs (2.2.4, sendMessages.js) sends a send's partitions to their
   * leaders in parallel and retries when any request fails — also to a leader whose request is still in
   * flight, with its records' sequence numbers already advanced: the broker appends them a second time
   * (seen as duplicate outputs when a broker of several stopped mid-transaction, broker-chaos.test.ts).
   * With one partition, one leader, one request at a time, a retry resends with the same sequence
   * numbers, which the broker deduplicates.
   */
  #chunks(messages: ReadonlyArray<{ topic: string; message: Message }>) {
    const byPartition = new Map<string, { topic: string; messages: Message[] }>();
    for (const { topic, message } of messages) {
      const slot = `${message.partition}|${topic}`;
      let group = byPartition.get(slot);
      if (group === undefined) {
        group = { topic, messages: [] };
        byPartition.set(slot, group);
      }
      group.messages.push(message);
    }
    const chunks: Array<Array<{ topic: string; messages: Message[] }>> = [];
    for (const { topic, messages: list } of byPartition.values()) {
      const limit = this.#limits.topic(topic);
      let current: Message[] = [];
      let bytes = 0;
      for (const message of list) {
        const size = recordBytes(
          message.key,
          message.value,
          message.headers as Record<string, Buffer | string>,
        );
        if (current.length > 0 && RECORD_BATCH_OVERHEAD + bytes + size > limit) {
          chunks.push([{ topic, messages: current }]);
          current = [];
          bytes = 0;
        }
        current.push(message);
        bytes += size;
      }
      if (current.length > 0) chunks.push([{ topic, messages: current }]);
    }
    return chunks;
  }

  /** sendOffsets, retried on what the coordinator answers while the previous commit completes. */
  async #sendOffsets(transaction: Transaction, offsets: TransactionOffsets): Promise<void> {
    const request = {
      consumerGroupId: offsets.groupId,
      topics: [...offsets.next].map(([topic, next]) => ({
        topic,
        partitions: [{ partition: offsets.partition, offset: next.toString() }],
      })),
    };
    for (let attempt = 0; ; attempt++) {
      try {
        await transaction.sendOffsets(request);
        return;
      } catch (err) {
        if (attempt >= OFFSETS_RETRIES || isFenced(err) || !isRetriable(err) || !transaction.isActive())
          throw err;
        const type = protocolErrorType(err) ?? 'unknown';
        this.#onRetry?.('AddOffsetsToTxn', type);
        this.#logger.debug({ type, attempt }, 'sendOffsets: retrying');
        const delay = Math.min(OFFSETS_RETRY_MAX_MS, OFFSETS_RETRY_FIRST_MS * 2 ** attempt);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  async close(): Promise<void> {
    const producer = this.#producer;
    this.#producer = undefined;
    await producer?.disconnect().catch((err) => this.#logger.debug({ err }, 'disconnecting a producer'));
  }
}
