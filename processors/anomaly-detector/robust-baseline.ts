/**
 * Baselines that outliers cannot drag: the median of the last windows and their median absolute
 * deviation (MAD). Half the windows in the history would have to be anomalous before the median moved
 * to them (a 50% breakdown point, against 0% for a mean and a standard deviation, which one spike
 * inflates). 1.4826 × MAD estimates the standard deviation of normally distributed data, so thresholds
 * read as "k sigma" while staying robust.
 * https://en.wikipedia.org/wiki/Median_absolute_deviation
 *
 * Thresholds add floors: bucketed quantiles and rare errors often give a MAD of 0, and "any change at all
 * is an anomaly" would page on bucket jitter. Each detector takes the larger (for increases) or smaller
 * (for decreases) of the statistical threshold and its relative/absolute floors.
 */

/** MAD → standard deviation of a normal distribution. */
export const MAD_TO_SIGMA = 1.4826;

export interface Baseline {
  /** Median of the history. */
  median: number;
  /** Robust standard deviation: 1.4826 × MAD. */
  sigma: number;
  /** Values it was computed from. */
  n: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function baselineOf(history: readonly number[]): Baseline {
  const m = median(history);
  const mad = median(history.map((v) => Math.abs(v - m)));
  return { median: m, sigma: MAD_TO_SIGMA * mad, n: history.length };
}

/** Appends `value`, keeping the newest `capacity` values. */
export function remember(history: number[], value: number, capacity: number): void {
  history.push(value);
  if (history.length > capacity) history.splice(0, history.length - capacity);
}

/**
 * Thresholds of a detector that fires on increases: fire above `fire`, resolve at or below `resolve`.
 * `fire` is the largest of median + k·sigma and the floors; `resolve` sits `resolveFraction` of the way
 * from the median to `fire`, leaving a dead band in which a firing anomaly stays firing and a quiet one
 * stays quiet.
 */
export function upperThresholds(
  b: Baseline,
  k: number,
  floors: readonly number[],
  resolveFraction: number,
): { fire: number; resolve: number } {
  const fire = Math.max(b.median + k * b.sigma, ...floors);
  return { fire, resolve: b.median + (fire - b.median) * resolveFraction };
}

/** The mirror image for decreases: fire below `fire`, resolve at or above `resolve`. */
export function lowerThresholds(
  b: Baseline,
  k: number,
  ceilings: readonly number[],
  resolveFraction: number,
): { fire: number; resolve: number } {
  const fire = Math.max(0, Math.min(b.median - k * b.sigma, ...ceilings));
  return { fire, resolve: b.median - (b.median - fire) * resolveFraction };
}
