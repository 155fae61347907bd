import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CaptureClock } from '../../../collectors/build/clock.ts';

describe('CaptureClock', () => {
  it('converts monotonic to Unix nanoseconds exactly, with the latest clock pair', () => {
    const clock = new CaptureClock();
    clock.update(1_000_000_000_001n, 1_796_000_000_123_456_789n);
    // Far beyond 2^53: a float would be off by hundreds of nanoseconds.
    assert.equal(clock.toUnixNs(1_000_000_000_002n), 1_796_000_000_123_456_790n);
    assert.equal(clock.toUnixNs(999_999_999_999n), 1_796_000_000_123_456_787n);
    // NTP stepped the wall clock by 5 ms: later conversions follow the new pair.
    clock.update(2_000_000_000_000n, 1_796_000_001_128_456_788n);
    assert.equal(clock.toUnixNs(2_000_000_000_001n), 1_796_000_001_128_456_789n);
  });

  it("before any pair, uses this host's own clocks (the same CLOCK_MONOTONIC)", () => {
    const clock = new CaptureClock();
    assert.equal(clock.ready, false);
    const unix = clock.toUnixNs(process.hrtime.bigint());
    const skewMs = Math.abs(Number(unix / 1_000_000n) - Date.now());
    assert.ok(skewMs < 1000, `${skewMs} ms`);
  });
});
