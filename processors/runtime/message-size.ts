/**
 * How large a record may be: the broker checks every record batch it is sent against the topic's
 * `max.message.bytes` (the broker's `message.max.bytes` unless the topic overrides it; 1 MiB + 12 by
 * default) and answers MESSAGE_TOO_LARGE, which no retry cures. The limit bounds both a single record
 * and the batch a producer builds of a partition's records.
 *
 * The host learns each topic's limit at start (DescribeConfigs). A record is measured when it is made —
 * an emit, a state value, a dead letter — so one that can never be written fails the handler call that
 * made it (partition-task.ts), and a task's producer builds batches no larger than the smallest limit
 * of the topics it writes (partition-producer.ts).
 *
 * Sizes are upper bounds of the v2 record format (https://kafka.apache.org/documentation/#recordbatch),
 * uncompressed: 61 bytes of batch header, and per record its fields with the varints at full width.
 */
import type { KafkaAdmin } from '../../lib/kafka.ts';
import type { Logger } from '../../lib/logger.ts';

/** The v2 record batch header (baseOffset through the record count). */
export const RECORD_BATCH_OVERHEAD = 61;

/**
 * The limit assumed for a topic whose configuration could not be read: a little under 1 MB, below the
 * broker's default (1 048 588) whatever overhead a batch carries.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_000_000;

type Bytes = Buffer | string | null | undefined;

const length = (b: Bytes) => (b == null ? 0 : typeof b === 'string' ? Buffer.byteLength(b) : b.length);

/**
 * An upper bound of one record's size in a batch: length, attributes, timestamp and offset deltas, key,
 * value and header count at their widest varints, and per header its key and value lengths.
 */
export function recordBytes(key: Bytes, value: Bytes, headers?: Record<string, Bytes>): number {
  let size = 5 + 1 + 10 + 5 + 5 + length(key) + 5 + length(value) + 5;
  if (headers !== undefined) {
    for (const [name, v] of Object.entries(headers)) size += 10 + Buffer.byteLength(name) + length(v);
  }
  return size;
}

/** Whether a batch holding only this record fits under `limit`. */
export function fitsAlone(limit: number, bytes: number): boolean {
  return RECORD_BATCH_OVERHEAD + bytes <= limit;
}

/** The largest record batch each topic accepts. */
export interface MessageSizeLimits {
  /** `max.message.bytes` of the topic (full name). */
  topic(name: string): number;
  /** The same for the processor's changelog. */
  changelog(): number;
  /** The smallest limit of the topics written (the largest batch a producer may build). */
  smallest(): number;
  /** The largest limit of the topics written (the largest single record a producer may send). */
  largest(): number;
}

/** Limits of a run without a broker (replay, unit tests): the default for every topic. */
export const DEFAULT_LIMITS: MessageSizeLimits = {
  topic: () => DEFAULT_MAX_MESSAGE_BYTES,
  changelog: () => DEFAULT_MAX_MESSAGE_BYTES,
  smallest: () => DEFAULT_MAX_MESSAGE_BYTES,
  largest: () => DEFAULT_MAX_MESSAGE_BYTES,
};

/** Limits read from the brokers, per topic; the default for topics not read (or not readable). */
export class TopicSizeLimits implements MessageSizeLimits {
  readonly #limits = new Map<string, number>();
  #changelog = '';

  setChangelog(name: string): void {
    this.#changelog = name;
  }

  topic(name: string): number {
    return this.#limits.get(name) ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  changelog(): number {
    return this.topic(this.#changelog);
  }

  smallest(): number {
    return Math.min(DEFAULT_MAX_MESSAGE_BYTES, ...this.#limits.values());
  }

  largest(): number {
    return Math.max(DEFAULT_MAX_MESSAGE_BYTES, ...this.#limits.values());
  }

  set(name: string, bytes: number): void {
    this.#limits.set(name, bytes);
  }

  /**
   * Reads `max.message.bytes` of `topics`. A topic whose configuration cannot be read (no
   * DescribeConfigs permission, say) keeps the default, which is logged once.
   */
  async learn(admin: KafkaAdmin, topics: readonly string[], logger: Logger): Promise<void> {
    try {
      const configs = await admin.describeConfigs(topics, ['max.message.bytes']);
      for (const [topic, entries] of configs) {
        const value = Number(entries.get('max.message.bytes'));
        if (Number.isSafeInteger(value) && value > RECORD_BATCH_OVERHEAD) this.#limits.set(topic, value);
      }
    } catch (err) {
      logger.warn(
        { err, assumedBytes: DEFAULT_MAX_MESSAGE_BYTES },
        'cannot read max.message.bytes of the output topics; assuming the default',
      );
    }
  }
}
