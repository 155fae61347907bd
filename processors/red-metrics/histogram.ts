/**
 * Explicit-bucket histograms as red-metrics keeps them in state (`Hist`, state.ts): compact (short keys,
 * plain numbers) and mergeable, with at most one exemplar per bucket.
 *
 * Bucket boundaries are the OpenTelemetry HTTP semantic conventions' advice for
 * `http.server.request.duration` and `http.client.request.duration`
 * (https://opentelemetry.io/docs/specs/semconv/http/http-metrics/): upper bounds, inclusive, in seconds.
 * The service-graph histograms use the same ones, so a route's latency and its edge's compare bucket by
 * bucket.
 */
import type { Exemplar, Span } from '../../schemas/types.ts';
import type { ExemplarSlot, Hist } from './state.ts';

export const DURATION_BOUNDS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

export function emptyHist(): Hist {
  const size = DURATION_BOUNDS.length + 1;
  return {
    b: new Array<number>(size).fill(0),
    n: 0,
    s: 0,
    x: new Array<ExemplarSlot | null>(size).fill(null),
  };
}

/**
 * The bucket of a value: the first bound it does not exceed (bounds are inclusive upper bounds), found
 * by binary search; past every bound, the last (+Inf) bucket. NaN exceeds no bound: the first bucket.
 */
export function bucketOf(value: number): number {
  if (Number.isNaN(value)) return 0;
  let lo = 0;
  let hi = DURATION_BOUNDS.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value > DURATION_BOUNDS[mid]!) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Counts a value (seconds); with `exemplarOf`, the span becomes its bucket's exemplar (the slot is
 * rewritten in place, so a span allocates nothing once every bucket had one).
 */
export function observe(h: Hist, value: number, exemplarOf: Span | null): void {
  const i = bucketOf(value);
  h.b[i]!++;
  h.n++;
  h.s += value;
  if (exemplarOf === null) return;
  const slot = h.x[i];
  if (slot == null) {
    h.x[i] = {
      traceId: exemplarOf.traceId,
      spanId: exemplarOf.spanId,
      value,
      timeUnixNano: exemplarOf.endTimeUnixNano,
    };
    return;
  }
  slot.traceId = exemplarOf.traceId;
  slot.spanId = exemplarOf.spanId;
  slot.value = value;
  slot.timeUnixNano = exemplarOf.endTimeUnixNano;
}

/**
 * Adds `delta` into `into`; the delta's exemplars are newer, so they win. Copied, never shared: a slot
 * is rewritten in place by observe().
 */
export function mergeHist(into: Hist, delta: Hist): void {
  for (let i = 0; i < into.b.length; i++) {
    into.b[i]! += delta.b[i] ?? 0;
    const x = delta.x[i];
    if (x !== null && x !== undefined)
      into.x[i] = { traceId: x.traceId, spanId: x.spanId, value: x.value, timeUnixNano: x.timeUnixNano };
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
    out.push({ traceId: x.traceId, spanId: x.spanId, value: x.value * scale, timeUnixNano: x.timeUnixNano });
  }
  return out;
}
