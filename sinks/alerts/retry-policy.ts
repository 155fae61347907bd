/**
 * When a failed delivery is tried again. Exponential backoff with "equal jitter" (half the delay fixed,
 * half random: https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/), so sinks that
 * failed together — a receiver outage fails everyone at once — do not retry in lockstep, yet no retry
 * comes absurdly early. A receiver's Retry-After wins: it said when it can take more.
 */

export interface RetryPolicy {
  initialBackoffMs: number;
  maxBackoffMs: number;
  maxRetryAfterMs: number;
}

/** Delay before the attempt after `attemptsMade` failed ones (1 = after the first failure). */
export function backoffDelay(
  attemptsMade: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** The receiver's Retry-After, kept within [1 ms, maxRetryAfterMs]. */
export function honouredRetryAfter(retryAfterMs: number, policy: RetryPolicy): number {
  return Math.min(Math.max(1, retryAfterMs), policy.maxRetryAfterMs);
}
