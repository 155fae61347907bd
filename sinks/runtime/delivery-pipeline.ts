/**
 * The part of the sink host between the Kafka consumer and the offset commit: records go into size-or-
 * linger batches, batches are delivered one at a time, in order, through the retrying exporter, and
 * each batch ends in exactly one of two ways before its offsets are committed — acknowledged by the
 * receiver, or dead-lettered. While too much waits in memory, the host is told to pause consumption.
 *
 * One batch in flight is deliberate: it makes "commit one past the last offset of the batch" correct
 * without tracking gaps, and a receiver that cannot keep up with one request at a time is what
 * backpressure is for.
 */
import { ERRORS, isMeshpipeError, MeshpipeError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { FailedItem } from '../../runtime/dead-letter.ts';
import type { DeadLetterWriter } from '../../runtime/dead-letter-writer.ts';
import type { SourceRecord } from '../../runtime/input-record.ts';
import type { RetryPolicy } from '../../runtime/retry-policy.ts';
import { type Batch, Batcher } from './batcher.ts';
import { type Exporter, errorTypeOf } from './exporter.ts';
import { withRetry } from './retry.ts';
import type { SinkMetrics } from './sink-metrics.ts';
import type { SinkSnapshot } from './status.ts';

/**
 * One consumed value — a record's, or one of a batch record's (`index`, and `last` for the record's last
 * value, which is what lets its offset be committed) — prepared for the exporter, or with the error that
 * dead-letters it.
 */
export type Entry<T> = { source: SourceRecord; failed?: FailedItem; last?: boolean } & (
  | { item: T; error?: undefined }
  | { error: MeshpipeError }
);

export interface DeliveryPipelineOptions<T> {
  sink: string;
  batchSize: number;
  lingerMs: number;
  /** Pause consumption at this many records in memory; resume at half. */
  maxBuffered: number;
  exporter: Exporter<T>;
  retry: RetryPolicy;
  deadLetters: Pick<DeadLetterWriter, 'write'>;
  /** Commits what these entries acknowledge (the host filters partitions it no longer owns). */
  commit(entries: ReadonlyArray<Entry<T>>): Promise<void>;
  /** Backpressure: stop and restart fetching. */
  pause(): void;
  resume(): void;
  metrics: SinkMetrics;
  logger: Logger;
  /** Aborted when the host gives up on what is left (shutdown budget spent, fatal error). */
  signal: AbortSignal;
}

export class DeliveryPipeline<T> {
  readonly #o: DeliveryPipelineOptions<T>;
  readonly #delivery: Exporter<T>;
  readonly #batcher: Batcher<Entry<T>>;
  readonly #queue: Array<Batch<Entry<T>>> = [];
  #inFlight: Batch<Entry<T>> | undefined;
  #paused = false;
  #closing = false;
  #wake: () => void = () => {};
  #retrying: SinkSnapshot['retrying'] = null;

  constructor(options: DeliveryPipelineOptions<T>) {
    this.#o = options;
    this.#batcher = new Batcher<Entry<T>>(
      { maxSize: options.batchSize, lingerMs: options.lingerMs },
      (batch) => {
        this.#queue.push(batch);
        this.#wake();
      },
    );
    this.#delivery = withRetry(options.exporter, options.retry, {
      signal: options.signal,
      onRetry: ({ attempt, delayMs, result }) => {
        const errorType = errorTypeOf(result.error);
        options.metrics.retried(errorType);
        this.#retrying = {
          attempts: attempt,
          sinceMs: this.#retrying?.sinceMs ?? Date.now(),
          errorType,
          error: result.error.message,
        };
        // The first failure, then sparsely: an outage of hours must not flood the logs.
        if (attempt === 1 || Number.isInteger(Math.log2(attempt)))
          options.logger.warn(
            { attempt, delayMs, errorType, error: result.error.message },
            'export failed; retrying',
          );
      },
    });
  }

  /** Records in memory: batching, queued and in flight. */
  get buffered(): number {
    return (
      this.#batcher.size +
      this.#queue.reduce((n, b) => n + b.entries.length, 0) +
      (this.#inFlight?.entries.length ?? 0)
    );
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Set while the in-flight batch is being retried. */
  get retrying(): SinkSnapshot['retrying'] {
    return this.#retrying;
  }

  add(entry: Entry<T>): void {
    this.#batcher.add(entry);
  }

  /** Called after intake: pauses or resumes consumption around the buffer limit. */
  applyBackpressure(): void {
    if (this.#closing) return;
    const waiting = this.buffered;
    if (!this.#paused && waiting >= this.#o.maxBuffered) {
      this.#paused = true;
      this.#o.pause();
      this.#o.logger.info({ buffered: waiting }, 'receiver is behind; pausing consumption');
    } else if (this.#paused && waiting <= this.#o.maxBuffered / 2) {
      this.#paused = false;
      this.#o.resume();
      this.#o.logger.info({ buffered: waiting }, 'resuming consumption');
    }
    this.#o.metrics.paused(this.#paused);
  }

  /** Forgets everything not in flight: it will be read again from the committed offsets. */
  discard(why: string): void {
    const dropped = this.#batcher.clear() + this.#queue.splice(0).reduce((n, b) => n + b.entries.length, 0);
    if (dropped > 0)
      this.#o.logger.info({ dropped, why }, 'dropped buffered records; they will be read again');
  }

  /** No more intake: the open batch is closed, and `run()` ends once the queue is delivered. */
  close(): void {
    this.#closing = true;
    this.#batcher.flush();
    this.#wake();
  }

  /**
   * The delivery loop. Resolves when closed and drained, or when aborted; rejects (the sink must stop)
   * only when dead letters cannot be written.
   */
  async run(): Promise<void> {
    for (;;) {
      if (this.#o.signal.aborted) return;
      const batch = this.#queue.shift();
      if (batch === undefined) {
        if (this.#closing) return;
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        continue;
      }
      this.#inFlight = batch;
      try {
        await this.#deliver(batch);
      } finally {
        this.#inFlight = undefined;
        this.applyBackpressure();
      }
    }
  }

  async #deliver(batch: Batch<Entry<T>>): Promise<void> {
    const { metrics, logger } = this.#o;
    const rejected = batch.entries.filter((e) => e.error !== undefined);
    const ready = batch.entries.filter((e): e is Entry<T> & { item: T } => e.error === undefined);
    if (ready.length > 0) {
      const result = await this.#delivery.export(ready.map((e) => e.item));
      // Given up (shutdown budget spent, fatal error): whatever the answer, commit nothing more.
      if (result.code === 'retryable' || this.#o.signal.aborted) return;
      metrics.exportDuration((Date.now() - batch.openedAt) / 1000);
      this.#retrying = null;
      if (result.code === 'success') {
        metrics.exported(ready.length);
      } else {
        const error = isMeshpipeError(result.error)
          ? result.error
          : new MeshpipeError(ERRORS.SINK_EXPORT_FAILED, [this.#o.sink, result.error.message], {
              cause: result.error,
            });
        metrics.failed(error.code);
        logger.error(
          { records: ready.length, code: error.code, error: error.message },
          'receiver rejected a batch; dead-lettering its records',
        );
        for (const e of ready) rejected.push({ ...e, error });
      }
    }
    if (rejected.length > 0) {
      // Throws SINK_DEAD_LETTER_FAILED: without the dead letters, the offsets must not move.
      await this.#o.deadLetters.write(
        rejected.map((e) => ({
          source: e.source,
          error: e.error!,
          ...(e.failed === undefined ? {} : { item: e.failed }),
        })),
      );
      for (const e of rejected) metrics.deadLettered(1, e.error!.code);
    }
    await this.#o.commit(batch.entries);
  }
}
