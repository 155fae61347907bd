/**
 * Explicit-bucket histograms as red-metrics keeps them in state: compact (short keys, plain numbers, a
 * JSON changelog record per series) and mergeable, with at most one exemplar per bucket.
 *
 * Bucket boundaries are the OpenTelemetry HTTP semantic conventions' advice for
 * `http.server.request.duration` and `http.client.request.duration`
 * (https://opentelemetry.io/docs/specs/semconv/http/http-metrics/): upper bounds, inclusive, in seconds.
 * The service-graph histograms use the same ones, so a route's latency and its edge's compare bucket by
 * bucket.
 */
import type { Exemplar } from '../../../schemas/types.ts';

export const DURATION_BOUNDS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

/** One exemplar slot: [trace id, span id, value (s), time (ns, decimal string)]. */
export type ExemplarSlot = [string, string, number, string];

export interface Hist {
  /** Observations per bucket (not cumulative); DURATION_BOUNDS.length + 1 entries, the last is +Inf. */
  b: number[];
  /** Count and sum of observations. */
  n: number;
  s: number;
  /** The latest exemplar of each bucket, or null. */
  x: Array<ExemplarSlot | null>;
}

export function emptyHist(): Hist {
  const size = DURATION_BOUNDS.length + 1;
  return {
    b: new Array<number>(size).fill(0),
    n: 0,
    s: 0,
    x: new Array<ExemplarSlot | null>(size).fill(null),
  };
}

/** The bucket of a value: the first bound it does not exceed (bounds are inclusive upper bounds). */
export function bucketOf(value: number): number {
  let i = 0;
  while (i < DURATION_BOUNDS.length && value > DURATION_BOUNDS[i]!) i++;
  return i;
}

export function observe(h: Hist, value: number, exemplar: ExemplarSlot | null): void {
  const i = bucketOf(value);
  h.b[i]!++;
  h.n++;
  h.s += value;
  if (exemplar !== null) h.x[i] = exemplar;
}

/** Adds `delta` into `into`; the delta's exemplars are newer, so they win. */
export function mergeHist(into: Hist, delta: Hist): void {
  for (let i = 0; i < into.b.length; i++) {
    into.b[i]! += delta.b[i] ?? 0;
    const x = delta.x[i];
    if (x !== null && x !== undefined) into.x[i] = x;
  }
  into.n += delta.n;
  into.s += delta.s;
}

/** The histogram part of a MetricSample; `scale` converts from seconds (1000: milliseconds). */
export function histogramOf(
  h: Hist,
  scale = 1,
): {
  count: bigint;
  sum: number;
  bounds: number[];
  bucketCounts: bigint[];
} {
  return {
    count: BigInt(h.n),
    sum: h.s * scale,
    bounds: scale === 1 ? [...DURATION_BOUNDS] : DURATION_BOUNDS.map((b) => b * scale),
    bucketCounts: h.b.map((c) => BigInt(c)),
  };
}

export function exemplarsOf(h: Hist, scale = 1): Exemplar[] {
  const out: Exemplar[] = [];
  for (const x of h.x) {
    if (x === null) continue;
    out.push({ traceId: x[0], spanId: x[1], value: x[2] * scale, timeUnixNano: BigInt(x[3]) });
  }
  return out;
}
