/**
 * Delivery of one receiver's queue: a BullMQ worker in manual mode
 * (https://docs.bullmq.io/patterns/manually-fetching-jobs), because a request may carry several jobs.
 *
 *   getNextJob (blocking) ──► first job of a burst: wait until it has waited groupWindowMs
 *        │                    (only on its first attempt; retries come back as a group already)
 *        ▼
 *   getNextJob (non-blocking) × (groupLimit − 1): the rest of the burst, each locked with our token
 *        ▼
 *   drop superseded transitions (older than what the receiver already got for that fingerprint)
 *        ▼
 *   one signed request ──► 2xx: every job completed
 *                    ├──► retry (5xx, 408, network, 429/503): every job failed with one DeliveryError —
 *                    │    BullMQ's attempts and our backoff strategy schedule the retry; the delay is the
 *                    │    receiver's Retry-After when it gave one (and a 429 also pauses the whole queue
 *                    │    with queue.rateLimit, so no other job hits the receiver meanwhile), else
 *                    │    exponential backoff with jitter, one draw for the group so it comes back together.
 *                    │    The attempt that exhausts `attempts` dead-letters the job.
 *                    └──► reject (other 4xx, 3xx): every job dead-lettered, failed as UnrecoverableError
 *
 * Rate limiting is BullMQ's limiter on the queue (shared by every worker of the receiver, in any process):
 * its unit is the job, so a grouped request of five transitions spends five.
 *
 * Locks: a job fetched here is locked for `lockDuration`, set above the longest a group can take (group
 * window plus request timeout, twice), so locks never need renewing. If Redis restarts while a request is
 * out, its outcome is recorded once Redis is back, as long as the lock lasts (#settle); a process that
 * dies mid-request leaves its jobs to BullMQ's stalled check, which puts them back: at-least-once, with
 * the idempotency keys to make it once for the receiver.
 */
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Job, type Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { ERRORS, errorMessage, MeshpipeError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { backoffDelay, honouredRetryAfter, type RetryPolicy } from '../../runtime/retry-policy.ts';
import {
  type AlertJobData,
  activeKey,
  addDeadLetter,
  type DeadLetterData,
  deadLetterQueue,
  legacyLatestKey,
  newestKey,
  openQueue,
  REFRESH_JOB,
  ready,
  workerConnection,
} from './alert-queues.ts';
import { transitionTimeOf } from './alert-view.ts';
import { DeliveryError } from './delivery-error.ts';
import { renderAlertmanager } from './payloads/alertmanager.ts';
import { renderGeneric } from './payloads/generic.ts';
import type { DeliveryItem, RenderInput } from './payloads/payload.ts';
import { renderSlack } from './payloads/slack.ts';
import type { ResolvedReceiver } from './receivers.ts';
import { type DeliveryOutcome, sendWebhook } from './webhook-request.ts';

export interface DeliveryOptions {
  receiver: ResolvedReceiver;
  /** A connection with maxRetriesPerRequest null (BullMQ duplicates it for its blocking reads). */
  connection: Redis;
  prefix: string;
  policy: RetryPolicy;
  /** Dead letters go here. */
  deadLetters: Queue<DeadLetterData>;
  keepDeadLetters: number;
  externalUrl: string;
  /** Re-send interval of firing alerts to Alertmanager. */
  alertmanagerResendMs: number;
  /** How long a transition can still be delivered (the jobs' idempotency window). */
  keepCompletedMs: number;
  /** Fingerprints whose newest transition is remembered at most (see #remember). */
  maxTrackedAnomalies: number;
  logger: Logger;
}

export interface DeliveryTotals {
  requests: number;
  delivered: number;
  retried: number;
  deadLettered: number;
  superseded: number;
  /** Fingerprints forgotten because more than maxTrackedAnomalies were remembered. */
  forgotten: number;
  lastError: string | null;
}

const RENDERERS: Record<ResolvedReceiver['type'], (input: RenderInput) => string> = {
  generic: renderGeneric,
  slack: renderSlack,
  alertmanager: renderAlertmanager,
};

/** The Idempotency-Key of a request: its transition's key, or one derived from all of a group's keys. */
export function requestKeyOf(keys: readonly string[]): string {
  if (keys.length === 1) return keys[0]!;
  const digest = createHash('sha256')
    .update([...keys].sort().join('\n'))
    .digest('hex');
  return `group-${digest.slice(0, 32)}`;
}

export class ReceiverDelivery {
  readonly receiver: ResolvedReceiver;
  readonly totals: DeliveryTotals = {
    requests: 0,
    delivered: 0,
    retried: 0,
    deadLettered: 0,
    superseded: 0,
    forgotten: 0,
    lastError: null,
  };
  readonly #options: DeliveryOptions;
  readonly #worker: Worker<AlertJobData>;
  readonly #queue: Queue<AlertJobData>;
  readonly #logger: Logger;
  readonly #stop = new AbortController();
  readonly #lockDuration: number;
  #loop: Promise<void> | undefined;

  constructor(options: DeliveryOptions) {
    this.#options = options;
    this.receiver = options.receiver;
    this.#logger = options.logger.child({ receiver: options.receiver.name });
    const r = options.receiver;
    const lockDuration = Math.max(30_000, 2 * (r.groupWindowMs + r.timeoutMs) + 5_000);
    this.#lockDuration = lockDuration;
    this.#queue = openQueue<AlertJobData>(r.queue, options.connection, options.prefix);
    this.#worker = new Worker<AlertJobData>(r.queue, null, {
      connection: options.connection,
      prefix: options.prefix,
      autorun: false,
      limiter: { max: r.rateLimit.max, duration: r.rateLimit.durationMs },
      lockDuration,
      stalledInterval: Math.min(30_000, lockDuration),
      // A Redis restart or a killed sink can stall a job more than once before it is delivered.
      maxStalledCount: 5,
      drainDelay: 2,
      settings: {
        backoffStrategy: (attemptsMade, _type, err) =>
          err instanceof DeliveryError ? err.retryDelayMs : backoffDelay(attemptsMade, options.policy),
      },
    });
    // BullMQ reports connection trouble here on every retry; one line per outage is enough.
    let failing = false;
    this.#worker.on('error', (err) => {
      if (!failing) this.#logger.warn({ err: errorMessage(err) }, 'delivery worker error; BullMQ retries');
      failing = true;
    });
    this.#worker.on('ready', () => {
      failing = false;
    });
  }

  /** Starts fetching and delivering; returns once the worker is connected. */
  async start(): Promise<void> {
    await this.#worker.waitUntilReady();
    // Earlier versions remembered fingerprints in a hash that only grew; the sorted set replaces it.
    await this.#options.connection.del(legacyLatestKey(this.#options.prefix, this.receiver.name));
    await this.#worker.startStalledCheckTimer();
    if (this.receiver.type === 'alertmanager') {
      // One scheduler per queue whatever the number of sink processes: BullMQ keeps a single next job.
      await this.#queue.upsertJobScheduler(
        REFRESH_JOB,
        { every: this.#options.alertmanagerResendMs },
        { name: REFRESH_JOB, opts: { attempts: 1, removeOnComplete: true, removeOnFail: 100 } },
      );
    }
    this.#loop = this.#run();
  }

  /** Finishes the request in flight, then closes the worker. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    await this.#worker.close();
    await this.#queue.close();
    this.#logger.info({ ...this.totals }, 'delivery stopped');
  }

  /**
   * Records what happened to a job (completed, failed, dead-lettered) once the request is over. Redis may
   * be restarting just then: the answer is known, so keep trying while the job's lock lasts — giving up
   * would let the stalled check hand the job out again, and the receiver would get it twice.
   */
  async #settle(what: string, operation: () => Promise<unknown>): Promise<void> {
    const deadline = Date.now() + this.#lockDuration - 2_000;
    for (let attempt = 1; ; attempt++) {
      try {
        await operation();
        return;
      } catch (err) {
        const message = errorMessage(err);
        // The lock is gone (expired, or the job was taken back): the outcome is no longer ours to record.
        if (/lock/i.test(message) || Date.now() >= deadline) throw err;
        if (attempt === 1) this.#logger.warn({ err: message }, `cannot record ${what} yet; retrying`);
        await sleep(Math.min(250 * attempt, 2_000));
      }
    }
  }

  async #pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.#stop.signal }).catch(() => {});
  }

  async #run(): Promise<void> {
    const r = this.receiver;
    while (!this.#stop.signal.aborted) {
      const token = randomUUID();
      let first: Job<AlertJobData> | undefined;
      try {
        first = await this.#worker.getNextJob(token, { block: true });
      } catch (err) {
        if (this.#stop.signal.aborted) break;
        this.#logger.warn({ err: errorMessage(err) }, 'cannot fetch jobs; retrying');
        await this.#pause(1_000);
        continue;
      }
      if (first === undefined) {
        // Nothing due, or the queue is rate limited: then wait out the limit rather than spin.
        const ttl = await this.#queue.getRateLimitTtl(r.rateLimit.max).catch(() => 0);
        await this.#pause(Math.max(50, Math.min(ttl, 60_000)));
        continue;
      }
      const refreshes: Array<Job<AlertJobData>> = [];
      const group: Array<Job<AlertJobData>> = [];
      if (first.name === REFRESH_JOB) refreshes.push(first);
      else group.push(first);
      try {
        if (group.length > 0 && r.groupWindowMs > 0 && first.attemptsMade === 0) {
          const wait = first.timestamp + r.groupWindowMs - Date.now();
          if (wait > 0) await this.#pause(Math.min(wait, r.groupWindowMs));
        }
        while (group.length > 0 && group.length < r.groupLimit) {
          const next = await this.#worker.getNextJob(token, { block: false });
          if (next === undefined) break;
          if (next.name === REFRESH_JOB) refreshes.push(next);
          else group.push(next);
        }
        if (group.length > 0) await this.#deliver(group, token);
        for (const job of refreshes) await this.#refresh(job, token);
      } catch (err) {
        // Redis went away mid-delivery: the jobs stay locked and BullMQ's stalled check returns them to
        // the queue when the lock expires. The receiver may get them twice; the keys make that visible.
        this.totals.lastError = errorMessage(err);
        this.#logger.warn(
          { err: errorMessage(err), jobs: group.length },
          'delivery interrupted; the jobs will be retried',
        );
        await this.#pause(1_000);
      }
    }
  }

  async #deliver(jobs: Array<Job<AlertJobData>>, token: string): Promise<void> {
    const { connection, prefix } = this.#options;
    const r = this.receiver;
    // A transition older than one this receiver already got for the same anomaly (a retry overtaken by
    // the next transition) would undo it: a late FIRING after the RESOLVED. It is completed unsent.
    const fingerprints = [...new Set(jobs.map((j) => j.data.alert.fingerprint))];
    const latest = await connection.zmscore(newestKey(prefix, r.name), ...fingerprints);
    const newest = new Map(fingerprints.map((f, i) => [f, Number(latest[i] ?? Number.NEGATIVE_INFINITY)]));
    const fresh: Array<Job<AlertJobData>> = [];
    for (const job of jobs) {
      if (transitionTimeOf(job.data.alert) < newest.get(job.data.alert.fingerprint)!) {
        await this.#settle('a superseded transition', () =>
          job.moveToCompleted({ superseded: true }, token, false),
        );
        this.totals.superseded++;
      } else {
        fresh.push(job);
      }
    }
    if (fresh.length === 0) return;
    fresh.sort(
      (a, b) =>
        transitionTimeOf(a.data.alert) - transitionTimeOf(b.data.alert) ||
        a.data.alert.transitionId.localeCompare(b.data.alert.transitionId),
    );
    const items: DeliveryItem[] = fresh.map((j) => ({ key: j.id!, alert: j.data.alert }));
    const outcome = await this.#send(items);
    if (outcome.kind === 'delivered') {
      for (const job of fresh) {
        await job.moveToCompleted(
          {
            status: outcome.status,
            durationMs: outcome.durationMs,
            attempt: job.attemptsMade + 1,
            group: fresh.length,
          },
          token,
          false,
        );
      }
      await this.#remember(items);
      this.totals.delivered += fresh.length;
      return;
    }
    await this.#failed(fresh, token, outcome);
  }

  async #send(items: DeliveryItem[], nowMs = Date.now()): Promise<DeliveryOutcome> {
    const r = this.receiver;
    const requestKey = requestKeyOf(items.map((i) => i.key));
    const body = RENDERERS[r.type]({
      receiver: r.name,
      requestKey,
      items,
      externalUrl: this.#options.externalUrl,
      nowMs,
      validForMs: 4 * this.#options.alertmanagerResendMs,
    });
    this.totals.requests++;
    return sendWebhook({
      url: r.endpoint,
      body,
      key: r.signatures.includes('meshpipe') ? r.key : null,
      standardKey: r.standardKey,
      idempotencyKey: requestKey,
      headers: r.headers,
      timeoutMs: r.timeoutMs,
    });
  }

  /**
   * What the receiver now has: the newest transition per fingerprint, and (Alertmanager) what fires.
   * Bounded: a transition older than the idempotency window (keepCompletedMs) cannot be delivered any
   * more, so neither can one it supersedes, and beyond maxTrackedAnomalies the oldest are forgotten.
   */
  async #remember(items: DeliveryItem[]): Promise<void> {
    const { connection, prefix, keepCompletedMs, maxTrackedAnomalies } = this.#options;
    const r = this.receiver;
    const newest = newestKey(prefix, r.name);
    const multi = connection.multi();
    for (const { key, alert } of items) {
      multi.zadd(newest, transitionTimeOf(alert), alert.fingerprint);
      if (r.type !== 'alertmanager' || alert.test) continue;
      if (alert.status === 'firing')
        multi.hset(activeKey(prefix, r.name), alert.fingerprint, JSON.stringify({ key, alert }));
      else multi.hdel(activeKey(prefix, r.name), alert.fingerprint);
    }
    multi.zremrangebyscore(newest, '-inf', `(${Date.now() - keepCompletedMs}`);
    multi.zremrangebyrank(newest, 0, -(maxTrackedAnomalies + 1));
    const results = await multi.exec();
    const forgotten = Number(results?.at(-1)?.[1] ?? 0);
    if (forgotten > 0) {
      if (this.totals.forgotten === 0)
        this.#logger.warn(
          { receiver: r.name, maxTrackedAnomalies },
          'more anomalies than sinks.alerts.maxTrackedAnomalies: the oldest are forgotten (a retry of theirs overtaken by a newer transition would be sent)',
        );
      this.totals.forgotten += forgotten;
    }
  }

  async #failed(
    jobs: Array<Job<AlertJobData>>,
    token: string,
    outcome: Exclude<DeliveryOutcome, { kind: 'delivered' }>,
  ): Promise<void> {
    const r = this.receiver;
    const { policy } = this.#options;
    this.totals.lastError = outcome.error;
    if (outcome.kind === 'reject') {
      const error = new MeshpipeError(ERRORS.ALERTS_RECEIVER_REJECTED, [r.name, outcome.error]);
      this.#logger.error({ status: outcome.status, jobs: jobs.length, code: error.code }, error.message);
      for (const job of jobs) {
        await this.#deadLetter(job, error, outcome.status);
        await this.#settle('a rejection', () =>
          job.moveToFailed(new UnrecoverableError(error.message), token, false),
        );
      }
      return;
    }
    const attempt = Math.max(...jobs.map((j) => j.attemptsMade)) + 1;
    let delay = backoffDelay(attempt, policy);
    if (outcome.retryAfterMs !== undefined) {
      delay = honouredRetryAfter(outcome.retryAfterMs, policy);
      if (outcome.status === 429) {
        // The receiver is throttling us, not just this request: hold the whole queue.
        await this.#queue.rateLimit(delay);
      }
    }
    const error = new DeliveryError(outcome.error, { retryDelayMs: delay, status: outcome.status });
    if (attempt === 1 || Number.isInteger(Math.log2(attempt))) {
      this.#logger.warn(
        { attempt, delayMs: delay, status: outcome.status, error: outcome.error },
        'delivery failed; retrying',
      );
    }
    for (const job of jobs) {
      if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
        const exhausted = new MeshpipeError(ERRORS.ALERTS_RETRIES_EXHAUSTED, [
          r.name,
          job.attemptsMade + 1,
          outcome.error,
        ]);
        await this.#deadLetter(job, exhausted, outcome.status);
      } else {
        this.totals.retried++;
      }
      await this.#settle('a failed attempt', () => job.moveToFailed(error, token, false));
    }
  }

  async #deadLetter(job: Job<AlertJobData>, error: MeshpipeError, status: number | null): Promise<void> {
    this.totals.deadLettered++;
    const letter: DeadLetterData = {
      receiver: this.receiver.name,
      jobId: job.id!,
      alert: job.data.alert,
      code: error.code,
      reason: error.message,
      attempts: job.attemptsMade + 1,
      status,
      failedAt: new Date().toISOString(),
    };
    await this.#settle('a dead letter', () =>
      addDeadLetter(this.#options.deadLetters, letter, this.#options.keepDeadLetters),
    );
    this.#logger.error(
      { jobId: job.id, code: error.code, attempts: job.attemptsMade + 1 },
      `alert dead-lettered: ${error.message}`,
    );
  }

  /** Alertmanager: re-post every firing alert, so it stays active there (and reappears after its restart). */
  async #refresh(job: Job<AlertJobData>, token: string): Promise<void> {
    const { connection, prefix } = this.#options;
    const stored = await connection.hvals(activeKey(prefix, this.receiver.name));
    const items = stored.map((s) => JSON.parse(s) as DeliveryItem);
    if (items.length === 0) {
      await job.moveToCompleted({ refreshed: 0 }, token, false);
      return;
    }
    const outcome = await this.#send(items);
    if (outcome.kind === 'delivered') await job.moveToCompleted({ refreshed: items.length }, token, false);
    else
      await job.moveToFailed(
        new Error(`refresh of ${items.length} firing alerts: ${outcome.error}`),
        token,
        false,
      );
  }
}

/** The settings delivery takes from `sinks.alerts`. */
export type DeliverySettings = RetryPolicy & {
  queuePrefix: string;
  keepDeadLetters: number;
  externalUrl: string;
  alertmanagerResendMs: number;
  keepCompletedMs: number;
  maxTrackedAnomalies: number;
};

/**
 * The delivery workers of a set of receivers, with the connection and dead-letter queue they share: what
 * the sink runs beside its enqueuer, and what `meshpipe alerts test` starts for one receiver.
 */
export class AlertDeliveryService {
  readonly deliveries: readonly ReceiverDelivery[];
  readonly #connection: Redis;
  readonly #deadLetters: Queue<DeadLetterData>;

  private constructor(deliveries: ReceiverDelivery[], connection: Redis, deadLetters: Queue<DeadLetterData>) {
    this.deliveries = deliveries;
    this.#connection = connection;
    this.#deadLetters = deadLetters;
  }

  static async start(options: {
    redisUrl: string;
    receivers: readonly ResolvedReceiver[];
    settings: DeliverySettings;
    logger: Logger;
  }): Promise<AlertDeliveryService> {
    const { settings } = options;
    const connection = workerConnection(options.redisUrl, options.logger);
    const deadLetters = deadLetterQueue(connection, settings.queuePrefix);
    const deliveries: ReceiverDelivery[] = [];
    const service = new AlertDeliveryService(deliveries, connection, deadLetters);
    try {
      await ready(connection, options.redisUrl);
      for (const receiver of options.receivers) {
        const delivery = new ReceiverDelivery({
          receiver,
          connection,
          prefix: settings.queuePrefix,
          policy: settings,
          deadLetters,
          keepDeadLetters: settings.keepDeadLetters,
          externalUrl: settings.externalUrl,
          alertmanagerResendMs: settings.alertmanagerResendMs,
          keepCompletedMs: settings.keepCompletedMs,
          maxTrackedAnomalies: settings.maxTrackedAnomalies,
          logger: options.logger,
        });
        await delivery.start();
        deliveries.push(delivery);
      }
    } catch (err) {
      await service.stop();
      throw err;
    }
    return service;
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.deliveries.map((d) => d.stop()));
    await this.#deadLetters.close().catch(() => {});
    await this.#connection.quit().catch(() => this.#connection.disconnect());
  }
}
