import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, honouredRetryAfter, type RetryPolicy } from '../../runtime/retry-policy.ts';

const POLICY: RetryPolicy = { initialBackoffMs: 100, maxBackoffMs: 1000, multiplier: 2, maxRetryAfterMs: 50 };

describe('backoffDelay', () => {
  it('grows exponentially to the ceiling, with equal jitter between half and the full step', () => {
    const cases: Array<[attempt: number, step: number]> = [
      [1, 100],
      [2, 200],
      [3, 400],
      [4, 800],
      [5, 1000],
      [30, 1000],
    ];
    for (const [attempt, step] of cases) {
      assert.equal(
        backoffDelay(attempt, POLICY, () => 0),
        step / 2,
        `attempt ${attempt}, lowest jitter`,
      );
      assert.equal(
        backoffDelay(attempt, POLICY, () => 1),
        step,
        `attempt ${attempt}, highest jitter`,
      );
    }
  });

  it('doubles when no multiplier is given, and treats attempt 0 (none made yet, BullMQ) as the first', () => {
    const { multiplier: _, ...doubling } = POLICY;
    assert.equal(
      backoffDelay(3, doubling, () => 1),
      400,
    );
    assert.equal(
      backoffDelay(0, doubling, () => 1),
      100,
    );
  });

  it('grows by the multiplier', () => {
    assert.equal(
      backoffDelay(3, { ...POLICY, multiplier: 3 }, () => 1),
      900,
    );
  });
});

describe('honouredRetryAfter', () => {
  it("keeps the receiver's delay within [1 ms, maxRetryAfterMs]", () => {
    assert.equal(honouredRetryAfter(30, POLICY), 30);
    assert.equal(honouredRetryAfter(0, POLICY), 1);
    assert.equal(honouredRetryAfter(86_400_000, POLICY), 50);
  });

  it('caps at five minutes when the policy names no ceiling', () => {
    assert.equal(honouredRetryAfter(86_400_000, { initialBackoffMs: 1, maxBackoffMs: 2 }), 300_000);
  });
});
