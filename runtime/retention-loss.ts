/**
 * Records a reader never read because retention deleted them first: a processor or sink that fell
 * behind by more than its input topic's retention.ms. Kafka answers a fetch below the log start offset
 * with OFFSET_OUT_OF_RANGE and the client jumps to the oldest record left (or the newest): without
 * this the only trace would be a client log line, and the loss would count nowhere.
 *
 * A reader reports where it expected its next record and where the next batch actually started. A jump
 * forward is not loss by itself — transaction markers and aborted records occupy offsets a reader never
 * sees — so the partition's log start offset decides: when it is past where the reader was, the client
 * was sent out of range, and the whole jump is loss (to the oldest record left: deleted; to the newest,
 * for a reader that starts from `latest`: deleted or skipped). Offsets, not records, are counted: on a
 * topic written in transactions, markers among them count too (one per transaction and partition), so
 * the count can be slightly high, never low.
 *
 * Jumps are checked asynchronously, one log-start-offset request per topic at a time (a busy
 * transactional input jumps past a marker after most batches: the checks coalesce).
 */

import { ERRORS, errorMessage, MeshpipeError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';

export interface RetentionLossOptions {
  /** Log start offset of every partition of a topic (e.g. Admin.fetchTopicOffsets' `low`). */
  logStartOffsets(topic: string): Promise<Map<number, bigint>>;
  /** Called with the offsets deleted before they were read (positive). */
  onLoss(topic: string, partition: number, offsets: number): void;
  /** Who reads (a processor or sink name), for the log. */
  reader: string;
  logger: Logger;
}

interface Jump {
  partition: number;
  expected: bigint;
  got: bigint;
}

export class RetentionLoss {
  readonly #options: RetentionLossOptions;
  readonly #pending = new Map<string, Jump[]>();
  readonly #checking = new Set<string>();

  constructor(options: RetentionLossOptions) {
    this.#options = options;
  }

  /** The next batch of `partition` started at `got` where the reader expected `expected`. */
  jumped(topic: string, partition: number, expected: bigint, got: bigint): void {
    if (got <= expected || expected < 0n) return;
    const list = this.#pending.get(topic) ?? [];
    list.push({ partition, expected, got });
    this.#pending.set(topic, list);
    if (!this.#checking.has(topic)) void this.#check(topic);
  }

  /**
   * The reader's committed offset is below the log start offset: it starts at `startsAt` (the oldest
   * record left, or the newest for `latest`) instead.
   */
  startsAbove(topic: string, partition: number, committed: bigint, startsAt: bigint): void {
    if (committed >= 0n && committed < startsAt) this.#count(topic, partition, startsAt - committed);
  }

  async #check(topic: string): Promise<void> {
    this.#checking.add(topic);
    try {
      while ((this.#pending.get(topic)?.length ?? 0) > 0) {
        const jumps = this.#pending.get(topic)!;
        this.#pending.set(topic, []);
        let starts: Map<number, bigint>;
        try {
          starts = await this.#options.logStartOffsets(topic);
        } catch (err) {
          // Unknown now; the next jump asks again. Not counted rather than guessed.
          this.#options.logger.debug({ topic, err: errorMessage(err) }, 'log start offsets not available');
          return;
        }
        for (const j of jumps) {
          const start = starts.get(j.partition);
          if (start === undefined || start <= j.expected) continue;
          this.#count(topic, j.partition, j.got - j.expected);
        }
      }
    } finally {
      this.#checking.delete(topic);
    }
  }

  #count(topic: string, partition: number, offsets: bigint): void {
    const n = Number(offsets);
    const error = new MeshpipeError(ERRORS.KAFKA_LAG_PAST_RETENTION, [
      this.#options.reader,
      n,
      `${topic}[${partition}]`,
    ]);
    this.#options.logger.warn({ code: error.code, topic, partition, offsets: n }, error.message);
    this.#options.onLoss(topic, partition, n);
  }
}
