/**
 * red-metrics' partition state (the stream `red-metrics/<partition>`), plain data:
 *
 *   meta                  Meta            end of the last closed window (ms, span end time)
 *   r:<series id>         RouteSeries     one route-level histogram series (HTTP or gRPC)
 *   e:<series id>         EdgeSeries      one service-graph edge (its four series)
 *   b:<metric>:<owner>    number          series admitted so far for a service (cardinalityLimit)
 *   b:total               number          series of the partition, every service (maxSeries)
 *
 * A span touches three keys, `meta` (read) and the two series it counts in (written); a new series
 * also its owner's budget and `b:total`. Each written key is one changelog record per transaction, so a
 * series holds what its samples need and no more: cumulative values, the deltas of windows still open,
 * one exemplar per bucket.
 */
import type { Labels, RouteObservation } from './series.ts';

export const META_KEY = 'meta';
/** The partition's series count across services: every series but the global overflow ones. */
export const TOTAL_KEY = 'b:total';

export interface Meta {
  t: 'meta';
  /** End of the last closed window, ms: the start of the first open one. */
  closed: number;
}

/**
 * One exemplar: [trace id, span id, value (s), time (ns since the epoch)]. State written before the
 * time was a bigint holds it as a decimal string (histogram.ts reads both).
 */
export type ExemplarSlot = [traceId: string, spanId: string, value: number, timeUnixNano: bigint];

/** An explicit-bucket histogram (histogram.ts): compact and mergeable. */
export interface Hist {
  /** Observations per bucket (not cumulative); DURATION_BOUNDS.length + 1 entries, the last is +Inf. */
  b: number[];
  /** Count and sum of observations, in seconds. */
  n: number;
  s: number;
  /** The latest exemplar of each bucket, or null. */
  x: Array<ExemplarSlot | null>;
}

export interface SeriesCommon {
  labels: Labels;
  /** Budget key this series counts against (null: an overflow series, outside the budget). */
  budget: string | null;
  /** When the series started accumulating, ns since the epoch (decimal): the samples' startTimeUnixNano. */
  start: string;
  /** Processor time of the last span, ms: for idle expiry. */
  seen: number;
}

export interface RouteSeries extends SeriesCommon {
  t: 'route';
  /** HTTP (`server`, `client`: series.ts) or gRPC (`rpcServer`, `rpcClient`: rpc-series.ts). */
  kind: RouteObservation['kind'];
  cum: Hist;
  /** Deltas of windows not closed yet: [window start ms, delta]. */
  pend: Array<[number, Hist]>;
}

export interface EdgeAgg {
  /** Requests and failed requests counted on this edge. */
  n: number;
  f: number;
  /** Client- and server-side durations; null until a span of that side was seen. */
  c: Hist | null;
  s: Hist | null;
}

export interface EdgeSeries extends SeriesCommon {
  t: 'edge';
  cum: EdgeAgg;
  pend: Array<[number, EdgeAgg]>;
}

export type RedMetricsState = Meta | RouteSeries | EdgeSeries | number;
