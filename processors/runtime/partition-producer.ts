/**
 * The transactional producer of one task (one input partition).
 *
 * One producer per input partition, with `transactionalId = <group>-<first input topic>-<partition>`,
 * and the consumed offsets sent with the consumer's group metadata (KIP-447). Whoever is assigned
 * partition N initialises that id before touching the partition; the broker then
 *
 *   - bumps the producer epoch, so the previous owner (a zombie that has not noticed the rebalance,
 *     or an instance killed mid-transaction) fails its next send or commit with ERR__FENCED instead of
 *     committing stale work, and
 *   - completes the previous owner's open transaction first (aborting it, or finishing a commit
 *     already decided), so the committed offsets and the changelog are stable when the new owner reads
 *     them — at once, without waiting for the transaction timeout.
 *
 * The group metadata adds a second fence: offsets from a member of an older generation (one the group
 * has expelled) are refused, whatever producer sends them.
 *
 * A unit of work — outputs, dead letters, changelog records, and the consumed offsets — commits or
 * aborts as a whole. librdkafka batches its records per partition up to `maxBatchBytes`, the smallest
 * max.message.bytes among the topics this task writes (message-size.ts), so a transaction larger than
 * a topic's limit goes out in several batches that each fit. It also retries by itself what the
 * coordinator answers while the markers of the previous transaction are being written
 * (CONCURRENT_TRANSACTIONS).
 *
 * What a failure means for the work (librdkafka's flags, lib/kafka/kafka-error.ts):
 *   - before the commit, or a commit that failed `abortable` (a record the broker refused, a request
 *     that failed for good): the transaction is aborted, nothing of it is visible, ever — the caller
 *     rolls back and may try again;
 *   - fenced (ERR__FENCED and its kin, below): another instance owns the partition;
 *   - the commit failed otherwise (retried until it timed out, or the producer failed fatally during
 *     it): the broker may or may not have committed it. The error says so (`outcomeUnknown`); only
 *     reading back what Kafka holds tells, which is what the host does: it rebuilds the task from the
 *     changelog and committed offsets.
 */
import {
  findKafkaError,
  type GroupConsumer,
  type KafkaClient,
  type OutgoingMessage,
  type TransactionalProducer,
} from '../../lib/kafka.ts';
import type { Logger } from '../../lib/logger.ts';
import { DEFAULT_LIMITS, type MessageSizeLimits, RECORD_BATCH_OVERHEAD } from './message-size.ts';
import type { OutgoingRecord } from './partition-task.ts';

/** Offsets to commit with the transaction: the next offset to read, per input topic. */
export interface TransactionOffsets {
  /** The group member that consumed them: its group metadata goes with the offsets. */
  consumer: GroupConsumer;
  partition: number;
  next: ReadonlyMap<string, bigint>;
}

/**
 * Errors after which this producer may never commit again: another producer holds the transactional
 * id, or the group no longer counts this member in (it was expelled: the partition is another's).
 */
const FENCED = [
  'ERR__FENCED',
  'ERR_PRODUCER_FENCED',
  'ERR_INVALID_PRODUCER_EPOCH',
  'ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'ERR_ILLEGAL_GENERATION',
  'ERR_UNKNOWN_MEMBER_ID',
  'ERR_FENCED_INSTANCE_ID',
];

/**
 * Errors the broker (or the client, before sending) answers for what a record holds, not for the state
 * of the cluster: no retry cures them, and the same records fail again. The host then finds the
 * record that causes it (host.ts).
 */
const REJECTED = [
  'ERR_MSG_SIZE_TOO_LARGE',
  'ERR_RECORD_LIST_TOO_LARGE',
  'ERR_INVALID_RECORD',
  'ERR_INVALID_MSG', // CORRUPT_MESSAGE
  'ERR_INVALID_TIMESTAMP',
];

function hasCode(err: unknown, names: readonly string[]): boolean {
  const type = findKafkaError(err)?.type;
  return type !== undefined && names.includes(type);
}

/** librdkafka's name of the error's code (`ERR_MSG_SIZE_TOO_LARGE`...), if it is a Kafka error. */
export function kafkaErrorType(err: unknown): string | undefined {
  return findKafkaError(err)?.type;
}

/** Whether the broker refused the records themselves (see REJECTED). */
export function isRejected(err: unknown): boolean {
  return hasCode(err, REJECTED);
}

export function isFenced(err: unknown): boolean {
  return hasCode(err, FENCED);
}

/** The commit failed and whether the transaction committed is not known (see the file comment). */
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

function message(r: OutgoingRecord): OutgoingMessage {
  const m: OutgoingMessage = { key: r.key, value: r.value };
  if (Object.keys(r.headers).length > 0) m.headers = r.headers;
  if (r.partition !== undefined) m.partition = r.partition;
  return m;
}

export class PartitionProducer {
  readonly transactionalId: string;
  readonly #kafka: KafkaClient;
  readonly #transactionTimeoutMs: number;
  readonly #logger: Logger;
  readonly #limits: MessageSizeLimits;
  #producer: TransactionalProducer | undefined;

  constructor(options: {
    kafka: KafkaClient;
    transactionalId: string;
    transactionTimeoutMs: number;
    logger: Logger;
    limits?: MessageSizeLimits;
  }) {
    this.#kafka = options.kafka;
    this.transactionalId = options.transactionalId;
    this.#transactionTimeoutMs = options.transactionTimeoutMs;
    this.#logger = options.logger;
    this.#limits = options.limits ?? DEFAULT_LIMITS;
  }

  /**
   * A new producer for the transactional id, registered with the coordinator (InitProducerId), fencing
   * every earlier holder of the id. Also used to start over after a failed transaction, and to pick up
   * changed topic limits.
   */
  async init(): Promise<void> {
    await this.close();
    const producer = this.#kafka.transactionalProducer({
      transactionalId: this.transactionalId,
      transactionTimeoutMs: this.#transactionTimeoutMs,
      // A batch's bytes as the broker counts them include its header: keep it under the limit.
      maxBatchBytes: this.#limits.smallest() - RECORD_BATCH_OVERHEAD,
      maxMessageBytes: this.#limits.largest(),
    });
    this.#producer = producer;
    try {
      await producer.init();
    } catch (err) {
      if (this.#producer === producer) this.#producer = undefined;
      throw err;
    }
    if (this.#producer !== producer) {
      // Closed while initialising (the partition was revoked meanwhile): do not leave it connected.
      await producer.close();
      throw new Error(`producer ${this.transactionalId} was closed while it initialised`);
    }
  }

  /**
   * Writes a unit of work atomically. On failure the transaction is aborted (if still possible) and the
   * error rethrown; a commit whose outcome is unknown is rethrown as CommitOutcomeUnknownError.
   */
  async commit(
    records: readonly OutgoingRecord[],
    changelog: { topic: string; messages: OutgoingMessage[] } | undefined,
    offsets: TransactionOffsets | undefined,
  ): Promise<void> {
    const producer = this.#producer;
    if (producer === undefined) throw new Error(`producer ${this.transactionalId} is not initialised`);
    await producer.begin();
    try {
      for (const r of records) await producer.send(r.topic, [message(r)]);
      if (changelog !== undefined && changelog.messages.length > 0)
        await producer.send(changelog.topic, changelog.messages);
      if (offsets !== undefined) {
        const next = [...offsets.next].map(([topic, offset]) => ({
          topic,
          partition: offsets.partition,
          offset,
        }));
        await producer.sendOffsets(next, offsets.consumer);
      }
    } catch (err) {
      await this.#abort(producer, err);
      throw err;
    }
    try {
      await producer.commit();
    } catch (err) {
      const e = findKafkaError(err);
      if (isFenced(err)) throw err;
      if (e?.abortable === true) {
        // librdkafka knows the transaction cannot have committed (a record failed): abort it.
        await this.#abort(producer, err);
        throw err;
      }
      throw new CommitOutcomeUnknownError(err);
    }
  }

  async #abort(producer: TransactionalProducer, cause: unknown): Promise<void> {
    if (isFenced(cause) || findKafkaError(cause)?.fatal === true) return; // nothing left to abort with
    await producer.abort().catch((abortErr) => {
      this.#logger.debug({ err: abortErr }, 'abort failed too; the producer will be re-initialised');
    });
  }

  async close(): Promise<void> {
    const producer = this.#producer;
    this.#producer = undefined;
    await producer?.close().catch((err) => this.#logger.debug({ err }, 'closing a producer'));
  }
}
