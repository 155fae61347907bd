/**
 * One task (input partition) while it is assigned to this instance: its partition task (state and
 * handler calls), its transactional producer, the committed position of each input, and a queue that
 * runs its jobs — a batch, a punctuation — one at a time, so a punctuation never interleaves with a
 * batch of the same partition and a revocation can wait for the job in flight.
 *
 *   starting ──restored, seeked──► running ◄──producer re-initialised── retrying
 *      │                              │  └──transaction failed───────────►  │
 *      └──────────── revoked, lost, stopped ─────────────────────────────► closed
 */
import type { PartitionProducer } from './partition-producer.ts';
import type { PartitionTask } from './partition-task.ts';

export type TaskStatus = 'starting' | 'running' | 'retrying' | 'closed';

export class AssignedTask {
  readonly partition: number;
  readonly core: PartitionTask;
  readonly producer: PartitionProducer;
  /** Next offset to process per input topic: the committed position, advanced by each commit. */
  readonly positions = new Map<string, bigint>();
  /** Last known lag per input topic. */
  readonly lag = new Map<string, number>();
  status: TaskStatus = 'starting';
  /** Consecutive failed transactions, for the retry back-off. */
  failures = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #punctuation: NodeJS.Timeout | undefined;
  #punctuationQueued = false;

  constructor(partition: number, core: PartitionTask, producer: PartitionProducer) {
    this.partition = partition;
    this.core = core;
    this.producer = producer;
  }

  /** Runs `job` after every job queued before it. */
  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(job);
    this.#queue = result.catch(() => {});
    return result;
  }

  /** Resolves when the queued jobs are done. */
  drained(): Promise<void> {
    return this.#queue.then(() => {});
  }

  /**
   * Queues `job` every `intervalMs` of wall-clock time. At most one punctuation waits in the queue: a
   * partition behind on its batches gets one punctuation when it catches up, not a backlog of them.
   */
  startPunctuation(intervalMs: number, job: () => Promise<void>): void {
    this.stopPunctuation();
    this.#punctuation = setInterval(() => {
      if (this.#punctuationQueued || this.status !== 'running') return;
      this.#punctuationQueued = true;
      void this.run(async () => {
        this.#punctuationQueued = false;
        if (this.status === 'running') await job();
      });
    }, intervalMs);
  }

  stopPunctuation(): void {
    if (this.#punctuation !== undefined) clearInterval(this.#punctuation);
    this.#punctuation = undefined;
  }

  totalLag(): number {
    let sum = 0;
    for (const n of this.lag.values()) sum += n;
    return sum;
  }
}
