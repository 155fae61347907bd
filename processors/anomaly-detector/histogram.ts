/**
 * Quantiles from explicit-bucket histograms, computed the way Prometheus' histogram_quantile() does, so
 * an anomaly's "observed p99" is the number a Grafana panel over the same buckets shows:
 * find the bucket holding the q-th observation and interpolate linearly inside it, assuming
 * observations are spread evenly there. The lowest bucket starts at 0 (durations are never negative);
 * a quantile in the +Inf bucket is reported as the highest finite bound, the most the histogram can say.
 * https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile
 */

/** The q-quantile (0..1) of `counts` over `bounds` (counts has one more entry: +Inf), or undefined if empty. */
export function histogramQuantile(
  q: number,
  bounds: readonly number[],
  counts: readonly number[],
): number | undefined {
  let total = 0;
  for (const c of counts) total += c;
  if (total <= 0 || bounds.length === 0) return undefined;
  const rank = q * total;
  let cumulative = 0;
  for (let i = 0; i < counts.length; i++) {
    const inBucket = counts[i]!;
    if (cumulative + inBucket >= rank && inBucket > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1]!;
      const upper = bounds[i]!;
      const lower = i === 0 ? Math.min(0, upper) : bounds[i - 1]!;
      return lower + (upper - lower) * ((rank - cumulative) / inBucket);
    }
    cumulative += inBucket;
  }
  return bounds[bounds.length - 1]!;
}

/**
 * Observations above `threshold`, for latency SLOs. The threshold is rounded up to a bucket bound: an
 * observation counts as slow when its whole bucket lies above the threshold's bound, which is all a
 * histogram can tell. Returns the bound used too.
 */
export function countAbove(
  threshold: number,
  bounds: readonly number[],
  counts: readonly number[],
): { slow: number; bound: number } {
  let index = bounds.findIndex((b) => b >= threshold);
  if (index < 0) index = bounds.length - 1;
  let slow = 0;
  for (let i = index + 1; i < counts.length; i++) slow += counts[i]!;
  return { slow, bound: bounds[index] ?? threshold };
}

/** Whether two bound lists are the same (a series re-bucketed upstream cannot be summed with the old one). */
export function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
