/**
 * Retry as a wrapper around an exporter: `withRetry(exporter, policy)` is an exporter that answers
 * `retryable` results by waiting and trying the same batch again, until the receiver acknowledges it,
 * rejects it for good, the policy's time budget (`maxElapsedMs`) runs out, or the host stops. The waits
 * are the one retry policy of every component (runtime/retry-policy.ts: exponential, equal jitter, a
 * receiver-named delay wins).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ERRORS, errorMessage, MeshpipeError } from '../../lib/errors.ts';
import { backoffDelay, honouredRetryAfter, type RetryPolicy } from '../../runtime/retry-policy.ts';
import { type Exporter, type ExportResult, failed } from './exporter.ts';

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

/** The wait after a retryable result: the receiver's hint when it gave one, else the backoff. */
export function retryDelay(
  attempt: number,
  result: RetryableResult,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  if (result.retryAfterMs !== undefined && result.retryAfterMs >= 0) {
    return honouredRetryAfter(result.retryAfterMs, policy);
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
        const maxElapsedMs = policy.maxElapsedMs ?? 0;
        if (maxElapsedMs > 0 && Date.now() + delayMs - started > maxElapsedMs) {
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
