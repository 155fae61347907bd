/**
 * What `meshpipe alerts status` reports, read from Redis alone (it works whether or not a sink runs):
 * per receiver the BullMQ job counts, whether a 429 pause is on, and the recent failures with their
 * reasons (jobs retrying after a failed attempt, and jobs that failed for good); and the dead letters.
 */
import type { Redis } from 'ioredis';
import { maskUrl } from '../../lib/mask.ts';
import {
  type DeadLetterData,
  type Durability,
  deadLetterQueue,
  durabilityOf,
  openQueue,
} from './alert-queues.ts';
import type { AlertsSinkConfig } from './config.ts';
import { queueNameOf } from './receivers.ts';

export interface FailureView {
  jobId: string;
  transitionId: string;
  /** `retrying`: delayed for another attempt; `failed`: no attempt left, or rejected. */
  state: 'retrying' | 'failed';
  attempts: number;
  reason: string;
  at: string | null;
}

export interface ReceiverStatus {
  name: string;
  type: string;
  url: string;
  counts: { waiting: number; active: number; delayed: number; completed: number; failed: number };
  /** A receiver's 429 (or the rate limit) holds the queue for this long, ms; 0 when it does not. */
  rateLimitedForMs: number;
  recentFailures: FailureView[];
}

export interface DeadLetterView {
  jobId: string;
  receiver: string;
  transitionId: string;
  summary: string;
  code: string;
  reason: string;
  attempts: number;
  status: number | null;
  failedAt: string;
}

export interface AlertsStatus {
  redis: { url: string } & Durability;
  receivers: ReceiverStatus[];
  deadLetters: { total: number; recent: DeadLetterView[] };
}

export async function alertsStatus(
  redis: Redis,
  redisUrl: string,
  config: Pick<AlertsSinkConfig, 'receivers' | 'queuePrefix'>,
  options: { limit?: number } = {},
): Promise<AlertsStatus> {
  const limit = options.limit ?? 10;
  const prefix = config.queuePrefix;
  const receivers: ReceiverStatus[] = [];
  for (const r of config.receivers) {
    const queue = openQueue(queueNameOf(r.name), redis, prefix);
    try {
      const c = await queue.getJobCounts(
        'waiting',
        'prioritized',
        'active',
        'delayed',
        'completed',
        'failed',
      );
      const failures: FailureView[] = [];
      for (const job of await queue.getDelayed(0, limit - 1)) {
        if (job.attemptsMade === 0) continue;
        failures.push({
          jobId: job.id ?? '',
          transitionId: (job.data as { alert?: { transitionId?: string } }).alert?.transitionId ?? '',
          state: 'retrying',
          attempts: job.attemptsMade,
          reason: job.failedReason ?? '',
          at: job.processedOn === undefined ? null : new Date(job.processedOn).toISOString(),
        });
      }
      for (const job of await queue.getFailed(0, limit - 1)) {
        failures.push({
          jobId: job.id ?? '',
          transitionId: (job.data as { alert?: { transitionId?: string } }).alert?.transitionId ?? '',
          state: 'failed',
          attempts: job.attemptsMade,
          reason: job.failedReason ?? '',
          at: job.finishedOn === undefined ? null : new Date(job.finishedOn).toISOString(),
        });
      }
      failures.sort((a, b) => (b.at ?? '').localeCompare(a.at ?? ''));
      receivers.push({
        name: r.name,
        type: r.type,
        url: maskUrl(r.url),
        counts: {
          waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
          active: c.active ?? 0,
          delayed: c.delayed ?? 0,
          completed: c.completed ?? 0,
          failed: c.failed ?? 0,
        },
        rateLimitedForMs: Math.max(0, await queue.getRateLimitTtl(r.rateLimit.max)),
        recentFailures: failures.slice(0, limit),
      });
    } finally {
      await queue.close();
    }
  }
  const dlq = deadLetterQueue(redis, prefix);
  try {
    const total = await dlq.getWaitingCount();
    const recent = (await dlq.getWaiting(0, limit - 1)).map((job) => {
      const d = job.data as DeadLetterData;
      return {
        jobId: d.jobId,
        receiver: d.receiver,
        transitionId: d.alert.transitionId,
        summary: d.alert.summary,
        code: d.code,
        reason: d.reason,
        attempts: d.attempts,
        status: d.status,
        failedAt: d.failedAt,
      };
    });
    return {
      redis: { url: redisUrl, ...(await durabilityOf(redis)) },
      receivers,
      deadLetters: { total, recent },
    };
  } finally {
    await dlq.close();
  }
}
