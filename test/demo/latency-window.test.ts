import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LatencyWindow } from '../../demo/latency-window.ts';

describe('LatencyWindow', () => {
  it('is empty at first', () => {
    assert.deepEqual(new LatencyWindow().summary(), { p50Ms: null, p99Ms: null });
  });

  it('computes nearest-rank percentiles', () => {
    const w = new LatencyWindow(100);
    for (let v = 100; v >= 1; v--) w.add(v);
    assert.equal(w.percentile(50), 50);
    assert.equal(w.percentile(99), 99);
    assert.equal(w.percentile(100), 100);
    assert.equal(w.percentile(0), 1);
  });

  it('keeps only the most recent values', () => {
    const w = new LatencyWindow(10);
    for (let i = 0; i < 10; i++) w.add(1000);
    for (let i = 0; i < 10; i++) w.add(5);
    assert.deepEqual(w.summary(), { p50Ms: 5, p99Ms: 5 });
  });
});
