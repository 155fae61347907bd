/**
 * When a failed attempt is tried again, for every component that retries: a sink's exports
 * (sinks/runtime/retry.ts), alert deliveries (sinks/alerts/delivery.ts), a processor's aborted
 * transactions (processors/runtime/host.ts).
 *
 * Waits grow exponentially with "equal jitter" (half the step fixed, half random:
 * https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/): components that failed
 * together — a receiver or broker outage fails everyone at once — do not retry in lock step, and no wait
 * collapses to ~0 the way full jitter can. A delay named by the receiver (gRPC RetryInfo, HTTP
 * Retry-After) replaces the computed one: the receiver knows its own recovery better than our backoff.
 */

export interface RetryPolicy {
  /** Wait before the first retry, ms. */
  initialBackoffMs: number;
  /** Ceiling of the exponential wait, ms. */
  maxBackoffMs: number;
  /** Growth factor of the wait per attempt (default 2). */
  multiplier?: number;
  /** Give up after retrying this long, ms (0 or absent: never; a sink applies backpressure instead). */
  maxElapsedMs?: number;
  /** Ceiling on a receiver-named delay, so a bogus hint cannot park a component for hours (default 5 min). */
  maxRetryAfterMs?: number;
}

const DEFAULT_MAX_RETRY_AFTER_MS = 300_000;

/** The wait after failed attempt number `attempt` (1 = after the first failure), without a receiver hint. */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const growth = (policy.multiplier ?? 2) ** Math.max(0, attempt - 1);
  const step = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * growth);
  return Math.round(step / 2 + random() * (step / 2));
}

/**
 * The receiver's delay, kept within [1 ms, maxRetryAfterMs]: at least 1 ms because a zero delay means
 * "no delay at all" to some schedulers (BullMQ's rate limit) rather than "as soon as you like".
 */
export function honouredRetryAfter(retryAfterMs: number, policy: RetryPolicy): number {
  return Math.min(Math.max(1, retryAfterMs), policy.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS);
}
