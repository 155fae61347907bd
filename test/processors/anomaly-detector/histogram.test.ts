import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countAbove, histogramQuantile } from '../../../processors/anomaly-detector/histogram.ts';

const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1];

// Expected values follow Prometheus' histogram_quantile(): linear interpolation inside the bucket that
// holds the rank, 0 as the lower edge of the first bucket, the highest finite bound for the +Inf bucket.
const CASES: Array<{ name: string; q: number; counts: number[]; expected: number | undefined }> = [
  { name: 'empty histogram', q: 0.5, counts: [0, 0, 0, 0, 0, 0], expected: undefined },
  { name: 'all in the first bucket', q: 0.5, counts: [10, 0, 0, 0, 0, 0], expected: 0.0025 },
  { name: 'median in the middle of bucket 2', q: 0.5, counts: [25, 0, 50, 25, 0, 0], expected: 0.0175 },
  { name: 'p99 in the +Inf bucket', q: 0.99, counts: [90, 0, 0, 0, 0, 10], expected: 0.1 },
  { name: 'p99 at the top of a finite bucket', q: 0.99, counts: [0, 0, 0, 99, 1, 0], expected: 0.05 },
  { name: 'empty buckets on the way are skipped', q: 0.5, counts: [0, 0, 0, 0, 4, 0], expected: 0.075 },
];

for (const c of CASES) {
  test(`histogramQuantile: ${c.name}`, () => {
    const got = histogramQuantile(c.q, BOUNDS, c.counts);
    if (c.expected === undefined) assert.equal(got, undefined);
    else assert.ok(Math.abs(got! - c.expected) < 1e-12, `${got} != ${c.expected}`);
  });
}

test('countAbove rounds the SLO threshold up to a bucket bound', () => {
  // 0.03 s → bound 0.05: only the 0.1 and +Inf buckets are certainly slower.
  assert.deepEqual(countAbove(0.03, BOUNDS, [1, 2, 3, 4, 5, 6]), { slow: 11, bound: 0.05 });
  assert.deepEqual(countAbove(0.05, BOUNDS, [1, 2, 3, 4, 5, 6]), { slow: 11, bound: 0.05 });
  assert.deepEqual(countAbove(1, BOUNDS, [1, 2, 3, 4, 5, 6]), { slow: 6, bound: 0.1 });
});
