/**
 * Retry as a wrapper around an exporter: `withRetry(exporter, policy)` is an exporter that answers
 * `retryable` results by waiting and trying the same batch again, until the receiver acknowledges it,
 * rejects it for good, the policy's time budget runs out, or the host stops.
 *
 * Waits grow exponentially with "equal jitter" (half the step fixed, half random): a fleet of sinks
 * that lost the same receiver does not reconnect in lock step, and no wait collapses to ~0 the way
 * full jitter can. A delay named by the receiver (gRPC RetryInfo, HTTP Retry-After) replaces the
 * computed one: the receiver knows its own recovery better than our backoff does.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ERRORS, errorMessage, MeshpipeError } from '../../lib/errors.ts';
import { type Exporter, type ExportResult, failed } from './exporter.ts';

export interface RetryPolicy {
  /** Wait before the first retry, ms. */
  initialBackoffMs: number;
  /** Ceiling of the exponential wait, ms. */
  maxBackoffMs: number;
  /** Growth factor of the wait per attempt. */
  multiplier: number;
  /** Give up on a batch after retrying it this long (0: never; the host applies backpressure instead). */
  maxElapsedMs: number;
  /** Ceiling on a receiver-named delay, so a bogus hint cannot park the sink for hours. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  initialBackoffMs: 500,
  maxBackoffMs: 30_000,
  multiplier: 2,
  maxElapsedMs: 0,
  maxRetryAfterMs: 300_000,
};

export type RetryableResult = Extract<ExportResult, { code: 'retryable' }>;

export interface RetryOptions {
  /** Aborting stops waiting: the pending export resolves with its last `retryable` result at once. */
  signal?: AbortSignal;
  /** Called before each wait: `attempt` is the number of the attempt that just failed (1 = first). */
  onRetry?: (info: { attempt: number; delayMs: number; result: RetryableResult }) => void;
  /** Injected for tests; default Math.random. */
  random?: () => number;
}

/** The wait after failed attempt number `attempt` (1-based), without a receiver hint. */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const step = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * policy.multiplier ** (attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

/** The wait after a retryable result: the receiver's hint when it gave one, else the backoff. */
export function retryDelay(
  attempt: number,
  result: RetryableResult,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  if (result.retryAfterMs !== undefined && result.retryAfterMs >= 0) {
    return Math.min(result.retryAfterMs, policy.maxRetryAfterMs);
  }
  return backoffDelay(attempt, policy, random);
}

/** Runs one export and turns a thrown error into a `failed` result: the host only ever sees values. */
export async function settle<T>(exporter: Exporter<T>, items: readonly T[]): Promise<ExportResult> {
  try {
    return await exporter.export(items);
  } catch (err) {
    return failed(err instanceof Error ? err : new Error(errorMessage(err)));
  }
}

export function withRetry<T>(
  exporter: Exporter<T>,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  options: RetryOptions = {},
): Exporter<T> {
  const random = options.random ?? Math.random;
  return {
    async export(items) {
      const started = Date.now();
      for (let attempt = 1; ; attempt++) {
        const result = await settle(exporter, items);
        if (result.code !== 'retryable' || options.signal?.aborted === true) return result;
        const delayMs = retryDelay(attempt, result, policy, random);
        if (policy.maxElapsedMs > 0 && Date.now() + delayMs - started > policy.maxElapsedMs) {
          return failed(
            new MeshpipeError(
              ERRORS.SINK_RETRIES_EXHAUSTED,
              [attempt, Math.round((Date.now() - started) / 1000), result.error.message],
              { cause: result.error },
            ),
          );
        }
        options.onRetry?.({ attempt, delayMs, result });
        try {
          await sleep(delayMs, undefined, options.signal === undefined ? {} : { signal: options.signal });
        } catch {
          return result; // aborted while waiting: the batch stays uncommitted and is redelivered later
        }
      }
    },
    shutdown: () => exporter.shutdown(),
    ...(exporter.forceFlush === undefined ? {} : { forceFlush: () => exporter.forceFlush!() }),
  };
}
