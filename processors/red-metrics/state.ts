/**
 * red-metrics' partition state (the stream `red-metrics/<partition>`), plain data, in four stores, each
 * of a declared Avro type (the .avsc files beside this one):
 *
 *   store    key                value          schema               what
 *   windows  meta               Meta           meta.avsc            end of the last closed window (ms, span end time)
 *   routes   <series id>        RouteSeries    route-series.avsc    one route-level histogram series (HTTP or gRPC)
 *   edges    <series id>        EdgeSeries     edge-series.avsc     one service-graph edge (its four series)
 *   budgets  <metric>:<owner>   SeriesBudget   series-budget.avsc   series admitted so far for a service (cardinalityLimit)
 *            total              SeriesBudget                        series of the partition, every service (maxSeries)
 *
 * A span touches three keys, `meta` (read), its route series and its edge (written); a new series also
 * its owner's budget and `total`. Each written key is one changelog record per transaction, so a series
 * holds what its samples need and no more: cumulative values, the deltas of windows still open, one
 * exemplar per bucket.
 *
 * The types below are what the Avro records decode to: a nullable field reads back as null, never
 * absent, and an Avro long as a BigInt, so counts and times in ms are doubles (exact integers) and only
 * an exemplar's ns time is a long.
 *
 * Upgrade: the releases before stores wrote one key space (`meta`, `b:total`, `b:<metric>:<owner>`,
 * `r:<id>`, `e:<id>`) of JSON values (state-codec.ts) in older shapes: exemplars and pending deltas as
 * tuples, a `t` tag on every value, budgets as bare numbers, an exemplar time of the oldest ones as a
 * decimal string. legacyRedMetricsState places each record in its store and brings its value up to date;
 * each store reads a JSON value of its own the same way (`legacy`), so nothing written as JSON is read
 * in an older shape.
 */
import type { LegacyEntry } from '../runtime/definition.ts';
import { jsonStateCodec, type StateCodec } from '../runtime/state-codec.ts';
import { avroStore } from '../runtime/store-types.ts';
import type { Labels, RouteObservation } from './series.ts';

export const META_KEY = 'meta';
/** The partition's series count across services: every series but the global overflow ones. */
export const TOTAL_KEY = 'total';

export interface Meta {
  /** End of the last closed window, ms: the start of the first open one. */
  closed: number;
}

/** The latest exemplar of a bucket: a span that fell in it, its duration (s) and end (ns since the epoch). */
export interface ExemplarSlot {
  traceId: string;
  spanId: string;
  value: number;
  timeUnixNano: bigint;
}

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

/** The delta of one window not closed yet. */
export interface Pending<A> {
  /** Window start, ms. */
  start: number;
  delta: A;
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
  /** HTTP (`server`, `client`: series.ts) or gRPC (`rpcServer`, `rpcClient`: rpc-series.ts). */
  kind: RouteObservation['kind'];
  cum: Hist;
  pend: Array<Pending<Hist>>;
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
  cum: EdgeAgg;
  pend: Array<Pending<EdgeAgg>>;
}

export interface SeriesBudget {
  /** Series counted against the budget. */
  used: number;
}

// The JSON releases' shapes, as far as they differ (`t` tags are dropped by the conversions below).
type JsonExemplar = [traceId: string, spanId: string, value: number, timeUnixNano: bigint | string];
type JsonHist = Omit<Hist, 'x'> & { x: Array<JsonExemplar | ExemplarSlot | null> };
type JsonPending<A> = [start: number, delta: A] | Pending<A>;

function exemplarOf(x: JsonExemplar | ExemplarSlot | null): ExemplarSlot | null {
  if (x === null || !Array.isArray(x)) return x;
  // BigInt(): the oldest state wrote the time as a decimal string.
  return { traceId: x[0], spanId: x[1], value: x[2], timeUnixNano: BigInt(x[3]) };
}

function histOf(h: JsonHist): Hist {
  return { b: h.b, n: h.n, s: h.s, x: h.x.map(exemplarOf) };
}

function edgeAggOf(a: EdgeAgg): EdgeAgg {
  return {
    n: a.n,
    f: a.f,
    c: a.c === null || a.c === undefined ? null : histOf(a.c),
    s: a.s === null || a.s === undefined ? null : histOf(a.s),
  };
}

function pendingOf<J, A>(pend: Array<JsonPending<J>>, convert: (delta: J) => A): Array<Pending<A>> {
  return pend.map((p) =>
    Array.isArray(p) ? { start: p[0], delta: convert(p[1]) } : { start: p.start, delta: convert(p.delta) },
  );
}

function commonOf(s: SeriesCommon): SeriesCommon {
  // Budget keys lost their `b:` with the stores.
  const budget = s.budget?.startsWith('b:') ? s.budget.slice(2) : (s.budget ?? null);
  return { labels: s.labels, budget, start: s.start, seen: s.seen };
}

/** A route series as a JSON release wrote it (or as now), in the current shape. */
export function routeSeriesOf(value: RouteSeries): RouteSeries {
  return {
    ...commonOf(value),
    kind: value.kind,
    cum: histOf(value.cum),
    pend: pendingOf(value.pend, histOf),
  };
}

/** An edge as a JSON release wrote it (or as now), in the current shape. */
export function edgeSeriesOf(value: EdgeSeries): EdgeSeries {
  return { ...commonOf(value), cum: edgeAggOf(value.cum), pend: pendingOf(value.pend, edgeAggOf) };
}

function metaOf(value: Meta): Meta {
  return { closed: value.closed };
}

/** A budget as a JSON release wrote it (a bare number), or as now. */
function seriesBudgetOf(value: SeriesBudget | number): SeriesBudget {
  return typeof value === 'number' ? { used: value } : { used: value.used };
}

/** JSON values of a store's type, read in the current shape (the store's `legacy` codec). */
function jsonRelease<T, J = T>(convert: (value: J) => T): StateCodec<T> {
  const json = jsonStateCodec<J>();
  return {
    encode: (value) => json.encode(value as unknown as J),
    decode: (bytes) => convert(json.decode(bytes)),
  };
}

/** The state stores (processors/runtime/store-types.ts), each of its declared Avro type. */
export const redMetricsStores = {
  windows: avroStore<Meta>(new URL('./meta.avsc', import.meta.url), { legacy: jsonRelease(metaOf) }),
  routes: avroStore<RouteSeries>(new URL('./route-series.avsc', import.meta.url), {
    legacy: jsonRelease(routeSeriesOf),
  }),
  edges: avroStore<EdgeSeries>(new URL('./edge-series.avsc', import.meta.url), {
    legacy: jsonRelease(edgeSeriesOf),
  }),
  budgets: avroStore<SeriesBudget>(new URL('./series-budget.avsc', import.meta.url), {
    legacy: jsonRelease(seriesBudgetOf),
  }),
};

const json = jsonStateCodec<unknown>();

/** A changelog record of the releases before stores (one key space, by key prefix), as it is now. */
export function legacyRedMetricsState(key: string, bytes: Buffer): LegacyEntry<typeof redMetricsStores> {
  const value = json.decode(bytes);
  if (key === 'meta') return { store: 'windows', key: META_KEY, value: metaOf(value as Meta) };
  if (key === 'b:total') return { store: 'budgets', key: TOTAL_KEY, value: seriesBudgetOf(value as number) };
  if (key.startsWith('b:'))
    return { store: 'budgets', key: key.slice(2), value: seriesBudgetOf(value as number) };
  if (key.startsWith('r:'))
    return { store: 'routes', key: key.slice(2), value: routeSeriesOf(value as RouteSeries) };
  if (key.startsWith('e:'))
    return { store: 'edges', key: key.slice(2), value: edgeSeriesOf(value as EdgeSeries) };
  throw new Error(`not a key of red-metrics' state: ${key}`);
}
