/**
 * `meshpipe alerts test <receiver>`: one test transition through the receiver's real queue — the same job
 * options, worker, signing, payload format, retries and dead letters as a real alert — and its outcome.
 * It is marked (`test: true`, type `TEST`, Alertmanager label meshpipe_test="true") so receivers can tell.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from '../../lib/logger.ts';
import {
  type AlertJobData,
  deadLetterQueue,
  openQueue,
  TRANSITION_JOB,
  transitionJobOptions,
} from './alert-queues.ts';
import type { AlertView } from './alert-view.ts';
import type { AlertsSinkConfig } from './config.ts';
import { AlertDeliveryService } from './delivery.ts';
import { jobIdOf, type ResolvedReceiver } from './receivers.ts';

export function testAlertOf(receiver: string, nowMs: number = Date.now()): AlertView {
  const at = new Date(nowMs).toISOString();
  const id = `test-${nowMs}-${randomBytes(4).toString('hex')}`;
  return {
    fingerprint: `test-${receiver}`,
    transitionId: id,
    status: 'firing',
    type: 'TEST',
    severity: 'info',
    service: 'meshpipe',
    route: null,
    method: null,
    summary: `meshpipe test alert for receiver ${receiver}`,
    description: 'Sent by `meshpipe alerts test`: if you can read this, alerts reach this receiver, signed.',
    evidence: {
      observed: null,
      baseline: null,
      threshold: null,
      unit: '',
      windowStart: at,
      windowEnd: at,
      exampleTraceIds: [],
    },
    startsAt: at,
    endsAt: null,
    labels: { meshpipe_test: 'true' },
    test: true,
  };
}

export interface TestOutcome {
  receiver: string;
  jobId: string;
  /** delivered; failed (dead-lettered: rejected or out of attempts); pending (still retrying at the deadline). */
  outcome: 'delivered' | 'failed' | 'pending';
  attempts: number;
  status: number | null;
  /** The last failure, if any. */
  error: string | null;
  /** The dead letter's error code, when it failed. */
  code: string | null;
  durationMs: number;
}

export async function sendTestAlert(options: {
  receiver: ResolvedReceiver;
  redis: Redis;
  redisUrl: string;
  config: AlertsSinkConfig;
  timeoutMs: number;
  logger: Logger;
}): Promise<TestOutcome> {
  const { receiver, config } = options;
  const started = Date.now();
  const alert = testAlertOf(receiver.name, started);
  const jobId = jobIdOf(receiver.name, alert.transitionId);
  const queue = openQueue<AlertJobData>(receiver.queue, options.redis, config.queuePrefix);
  const deadLetters = deadLetterQueue(options.redis, config.queuePrefix);
  // A worker of our own, so the test works whether or not a sink is running; if one is, either delivers.
  const delivery = await AlertDeliveryService.start({
    redisUrl: options.redisUrl,
    receivers: [receiver],
    settings: config,
    logger: options.logger,
  });
  try {
    await queue.add(
      TRANSITION_JOB,
      { receiver: receiver.name, alert, source: null },
      { ...transitionJobOptions(config), jobId },
    );
    for (;;) {
      // The state first, then the job: a job read while it was active and found completed a moment
      // later would report the attempt and the HTTP status of before (none).
      const state = await queue.getJobState(jobId);
      const job = await queue.getJob(jobId);
      const base = {
        receiver: receiver.name,
        jobId,
        attempts: job?.attemptsMade ?? 0,
        durationMs: Date.now() - started,
      };
      if (state === 'completed') {
        const result = job?.returnvalue as { status?: number; attempt?: number } | null | undefined;
        return {
          ...base,
          attempts: result?.attempt ?? base.attempts,
          outcome: 'delivered',
          status: result?.status ?? null,
          error: null,
          code: null,
        };
      }
      if (state === 'failed') {
        const letter = await deadLetters.getJob(jobId);
        return {
          ...base,
          attempts: letter?.data.attempts ?? base.attempts,
          outcome: 'failed',
          status: letter?.data.status ?? null,
          error: letter?.data.reason ?? job?.failedReason ?? 'failed',
          code: letter?.data.code ?? null,
        };
      }
      if (Date.now() - started >= options.timeoutMs) {
        // Not delivered in time: take it back, so a test alert does not turn up hours later.
        await job?.remove().catch(() => {});
        return {
          ...base,
          outcome: 'pending',
          status: null,
          error: job?.failedReason || 'no attempt finished yet',
          code: null,
        };
      }
      await sleep(100);
    }
  } finally {
    await delivery.stop();
    await queue.close();
    await deadLetters.close();
  }
}
