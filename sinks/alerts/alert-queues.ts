/**
 * The Redis side of alert delivery, shared by the sink, the delivery workers and the `alerts` commands:
 * connections, job names and data, job options, the dead-letter queue and the two small hashes delivery
 * keeps beside BullMQ's keys.
 *
 *   <prefix>:alerts-<receiver>:*          BullMQ queue of a receiver: one job per transition
 *   <prefix>:alerts-dead-letters:*        BullMQ queue of dead letters (never processed: a record)
 *   <prefix>:alerts:<receiver>:newest     sorted set fingerprint → time of the newest transition delivered,
 *                                         bounded: older than keepCompletedMs, and the oldest beyond
 *                                         maxTrackedAnomalies, are dropped (a hash before: `:latest`)
 *   <prefix>:alerts:<receiver>:active     hash fingerprint → firing alert (Alertmanager receivers: re-sent)
 */
import { Queue } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { ERRORS, errorMessage, MeshpipeError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { maskUrl } from '../../lib/mask.ts';
import type { AlertView } from './alert-view.ts';
import type { AlertsSinkConfig } from './config.ts';
import { DEAD_LETTER_QUEUE } from './receivers.ts';

export const TRANSITION_JOB = 'transition';
export const REFRESH_JOB = 'alertmanager-refresh';
export const DEAD_LETTER_JOB = 'dead-letter';
/** The custom backoff strategy's name in job options (the worker defines it: delivery.ts). */
export const BACKOFF_TYPE = 'meshpipe';

export interface AlertJobData {
  receiver: string;
  alert: AlertView;
  /** Where the transition came from, for tracing a delivery back to its record. */
  source: { topic: string; partition: number; offset: string } | null;
}

export interface DeadLetterData {
  receiver: string;
  /** The delivery job's id: `<receiver>.<transitionId>`. */
  jobId: string;
  alert: AlertView;
  code: string;
  reason: string;
  attempts: number;
  /** HTTP status of the last answer, null for none. */
  status: number | null;
  failedAt: string;
}

/**
 * ioredis reconnects by itself; its connection errors are events, and an 'error' event without a listener
 * is printed as unhandled. Report them, once per outage (until the connection is ready again).
 */
function reportErrors(redis: Redis, url: string, logger: Logger | undefined, role: string): Redis {
  let reported = false;
  redis.on('error', (err: Error) => {
    if (reported) return;
    reported = true;
    logger?.warn({ redis: maskUrl(url), role, err: err.message }, 'Redis connection lost; reconnecting');
  });
  redis.on('ready', () => {
    if (reported) logger?.info({ redis: maskUrl(url), role }, 'Redis connection back');
    reported = false;
  });
  return redis;
}

/**
 * A connection for Queue instances that add jobs: commands fail at once while Redis is down (no offline
 * queue), so the sink reports the export as retryable and pauses the topic instead of piling up promises —
 * the BullMQ production guidance for producers.
 */
export function producerConnection(url: string, logger?: Logger): Redis {
  const options: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1 };
  return reportErrors(new Redis(url, options), url, logger, 'producer');
}

/** A connection for workers: BullMQ requires maxRetriesPerRequest null for its blocking commands. */
export function workerConnection(url: string, logger?: Logger): Redis {
  return reportErrors(new Redis(url, { maxRetriesPerRequest: null }), url, logger, 'worker');
}

/** Waits until a connection is ready, or throws ALERTS_REDIS_UNAVAILABLE after `timeoutMs`. */
export async function ready(redis: Redis, url: string, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`not ready after ${timeoutMs} ms (${redis.status})`)),
      timeoutMs,
    );
    const fail = (err: Error) => {
      clearTimeout(timer);
      redis.off('ready', ok);
      reject(
        new MeshpipeError(ERRORS.ALERTS_REDIS_UNAVAILABLE, [maskUrl(url), errorMessage(err)], {
          cause: err,
        }),
      );
    };
    const ok = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', ok);
    redis.once('end', () => fail(new Error('connection closed')));
  });
}

/** Options of every transition job. */
export function transitionJobOptions(config: Pick<AlertsSinkConfig, 'attempts' | 'keepCompletedMs'>) {
  const age = Math.ceil(config.keepCompletedMs / 1000);
  return {
    attempts: config.attempts,
    backoff: { type: BACKOFF_TYPE },
    // Kept by age only: a count limit could evict the id of a recent transition during a burst, and the
    // id is what recognises a transition Kafka delivers again.
    removeOnComplete: { age },
    removeOnFail: { age },
  };
}

export function newestKey(prefix: string, receiver: string): string {
  return `${prefix}:alerts:${receiver}:newest`;
}

/** The unbounded hash earlier versions kept instead of newestKey; removed when delivery starts. */
export function legacyLatestKey(prefix: string, receiver: string): string {
  return `${prefix}:alerts:${receiver}:latest`;
}

export function activeKey(prefix: string, receiver: string): string {
  return `${prefix}:alerts:${receiver}:active`;
}

/**
 * A Queue on a shared connection. BullMQ re-emits the connection's errors on every Queue, and an
 * unheard 'error' ends up on stderr; the connection's own listener already reports each outage once.
 */
export function openQueue<T>(name: string, connection: Redis, prefix: string): Queue<T> {
  const queue = new Queue<T>(name, { connection, prefix });
  queue.on('error', () => {});
  return queue;
}

export function deadLetterQueue(connection: Redis, prefix: string): Queue<DeadLetterData> {
  return openQueue<DeadLetterData>(DEAD_LETTER_QUEUE, connection, prefix);
}

/**
 * Records a transition that will not be delivered. The dead letter's job id is the delivery job's, so
 * recording one twice (a crash between this and moving the job to failed) keeps one.
 */
export async function addDeadLetter(
  queue: Queue<DeadLetterData>,
  data: DeadLetterData,
  keep: number,
): Promise<void> {
  await queue.add(DEAD_LETTER_JOB, data, { jobId: data.jobId });
  const count = await queue.getWaitingCount();
  if (count > keep) {
    // The wait list is newest first: everything past `keep` is the oldest.
    const old = await queue.getWaiting(keep, count - 1);
    await Promise.all(old.map((j) => j.remove().catch(() => {})));
  }
}

export interface Durability {
  appendonly: string;
  appendfsync: string;
  /** What it means for queued alerts. */
  note: string;
}

/**
 * What a Redis restart or crash does to queued alerts, from its persistence settings. Managed Redis often
 * refuses CONFIG: then it is unknown, and said so.
 */
export async function durabilityOf(redis: Redis): Promise<Durability> {
  try {
    const [, appendonly = '?'] = (await redis.call('CONFIG', 'GET', 'appendonly')) as string[];
    const [, appendfsync = '?'] = (await redis.call('CONFIG', 'GET', 'appendfsync')) as string[];
    let note: string;
    if (appendonly !== 'yes') note = 'no append-only file: queued alerts are lost when Redis restarts';
    else if (appendfsync === 'always')
      note = 'every write is fsynced: an enqueued alert survives a crash of Redis or its host';
    else
      note = `appendfsync ${appendfsync}: enqueued alerts survive a Redis restart; a crash of the host can lose the last second`;
    return { appendonly, appendfsync, note };
  } catch (err) {
    return { appendonly: '?', appendfsync: '?', note: `persistence unknown (${errorMessage(err)})` };
  }
}
