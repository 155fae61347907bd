/**
 * red-metrics' partition state (the stream `red-metrics/<partition>`), plain data, in three stores:
 *
 *   store    key                value
 *   windows  meta               Meta            end of the last closed window (ms, span end time)
 *   series   <series id>        RouteSeries     one route-level histogram series (HTTP or gRPC)
 *                               EdgeSeries      one service-graph edge (its four series)
 *   budgets  <metric>:<owner>   number          series admitted so far for a service (cardinalityLimit)
 *            total              number          series of the partition, every service (maxSeries)
 *
 * A span touches three keys, `meta` (read) and the two series it counts in (written); a new series
 * also its owner's budget and `total`. Each written key is one changelog record per transaction, so a
 * series holds what its samples need and no more: cumulative values, the deltas of windows still open,
 * one exemplar per bucket.
 */
import type { LegacyEntry } from '../runtime/definition.ts';
import { jsonStateCodec } from '../runtime/state-codec.ts';
import { jsonStore } from '../runtime/store-types.ts';
import type { Labels, RouteObservation } from './series.ts';

export const META_KEY = 'meta';
/** The partition's series count across services: every series but the global overflow ones. */
export const TOTAL_KEY = 'total';

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

/**
 * The state stores (processors/runtime/store-types.ts). JSON: a histogram's exemplars are tuples, which
 * an Avro type would spell as records (a change of the values, left for when it is measured).
 */
export const redMetricsStores = {
  windows: jsonStore<Meta>(),
  series: jsonStore<RouteSeries | EdgeSeries>(),
  budgets: jsonStore<number>(),
};

const json = jsonStateCodec<Meta | RouteSeries | EdgeSeries | number>();

/** A changelog record of the releases before stores (one key space, by key prefix), as it is now. */
export function legacyRedMetricsState(key: string, bytes: Buffer): LegacyEntry<typeof redMetricsStores> {
  const value = json.decode(bytes);
  if (key === 'meta') return { store: 'windows', key: META_KEY, value: value as Meta };
  if (key === 'b:total') return { store: 'budgets', key: TOTAL_KEY, value: value as number };
  if (key.startsWith('b:')) return { store: 'budgets', key: key.slice(2), value: value as number };
  if (key.startsWith('r:') || key.startsWith('e:')) {
    const series = value as RouteSeries | EdgeSeries;
    // Budget keys lost their `b:` with the stores.
    if (series.budget?.startsWith('b:')) series.budget = series.budget.slice(2);
    return { store: 'series', key: key.slice(2), value: series };
  }
  throw new Error(`not a key of red-metrics' state: ${key}`);
}
