/**
 * The alerts sink's exporter: a batch of anomaly transitions → one BullMQ job per (receiver, transition),
 * added atomically per receiver (Queue.addBulk is one MULTI). It reports success only once every job is in
 * Redis, and only then does the sink host commit the Kafka offsets: a crash before that re-reads the
 * records, and re-adding them is harmless — a job id that exists is not added again (BullMQ's
 * idempotent add), so a receiver never gets a transition twice because Kafka delivered it twice.
 *
 * Delivery itself (receivers, retries, grouping) is not here: it is the workers' (delivery.ts), which this
 * process runs too unless `deliver` is off.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { type Exporter, type ExportResult, retryable, SUCCESS } from '../runtime/exporter.ts';
import { type AlertJobData, openQueue, TRANSITION_JOB, transitionJobOptions } from './alert-queues.ts';
import { type AlertView, atLeast } from './alert-view.ts';
import type { AlertsSinkConfig } from './config.ts';
import { jobIdOf, type ResolvedReceiver } from './receivers.ts';

/** What `prepare` makes of a record. */
export interface AlertTransition {
  alert: AlertView;
  source: AlertJobData['source'];
}

export interface EnqueueOptions {
  receivers: readonly ResolvedReceiver[];
  /** A producer connection (no offline queue): producerConnection() in alert-queues.ts. */
  connection: Redis;
  config: Pick<AlertsSinkConfig, 'queuePrefix' | 'attempts' | 'keepCompletedMs'>;
  logger: Logger;
  /** Called on shutdown, after the queues closed (the delivery workers, the connections). */
  onShutdown?: () => Promise<void>;
}

export class AlertEnqueuer implements Exporter<AlertTransition> {
  readonly #options: EnqueueOptions;
  readonly #queues: Map<string, Queue<AlertJobData>>;

  constructor(options: EnqueueOptions) {
    this.#options = options;
    this.#queues = new Map(
      options.receivers.map((r) => [
        r.name,
        openQueue<AlertJobData>(r.queue, options.connection, options.config.queuePrefix),
      ]),
    );
  }

  async export(items: readonly AlertTransition[]): Promise<ExportResult> {
    const jobOptions = transitionJobOptions(this.#options.config);
    try {
      await Promise.all(
        this.#options.receivers.map(async (r) => {
          const jobs = items
            .filter((i) => atLeast(i.alert, r.minSeverity))
            .map((i) => ({
              name: TRANSITION_JOB,
              data: { receiver: r.name, alert: i.alert, source: i.source },
              opts: { ...jobOptions, jobId: jobIdOf(r.name, i.alert.transitionId) },
            }));
          if (jobs.length > 0) await this.#queues.get(r.name)!.addBulk(jobs);
        }),
      );
    } catch (err) {
      // Redis down or refusing writes: nothing is committed, the host retries the batch (the jobs that
      // did get in are recognised by their ids when it does).
      const error = new Error(`cannot enqueue alerts: ${errorMessage(err)}`);
      (error as Error & { errorType: string }).errorType = 'redis';
      return retryable(error);
    }
    return SUCCESS;
  }

  async shutdown(): Promise<void> {
    await Promise.allSettled([...this.#queues.values()].map((q) => q.close()));
    await this.#options.onShutdown?.();
  }
}
