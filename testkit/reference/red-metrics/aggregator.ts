/**
 * The red-metrics handlers. State of one input partition (the stream `red-metrics/<partition>`):
 *
 *   meta                  { closed }            end of the last closed window (ms, span end time)
 *   r:<series id>         RouteSeries           one route-level histogram series
 *   e:<edge id>           EdgeSeries            one service-graph edge (its four series)
 *   b:<metric>:<owner>    number                series admitted so far for a service (cardinality)
 *   b:total               number                series of the partition, every service (maxSeries)
 *
 * A span lands in the window of its end time, as a pending delta of its series. A window closes once
 * the processor's clock is `allowedLatenessMs` past its end: the deltas of every closed window are added
 * to the cumulative values, and every live series is emitted with the window end as its time. A span
 * whose window already closed (later than the allowance) joins the first open window instead of being
 * dropped, and one from a clock ahead of ours joins the current window, so nothing waits on a skewed
 * clock. Windows close on the processor's clock, not on span time, so an idle partition still closes
 * its windows and keeps its series alive in the sink.
 *
 * Everything is in keyed state that the host writes to the changelog in the transaction of the emitted
 * samples: after a crash, restart or rebalance the cumulative values continue from exactly what was
 * emitted, under the same stream and start time, so the sink neither loses nor double counts.
 */

import type { RedMetricsConfig } from '../../../processors/red-metrics/config.ts';
import type { InputRecord, ProcessorContext } from '../../../processors/runtime/definition.ts';
import { jsonStore } from '../../../processors/runtime/store-types.ts';
import { compileRouteTemplater, type RouteTemplater } from '../../../processors/shared/route-template.ts';
import { seriesIdOf } from '../../../runtime/metric-definition.ts';
import type { MetricSample, Span } from '../../../schemas/types.ts';
import {
  type ExemplarSlot,
  emptyHist,
  exemplarsOf,
  type Hist,
  histogramOf,
  mergeHist,
  observe,
} from './histogram.ts';
import { RPC_METRICS, rpcObservation } from './rpc-series.ts';
import {
  edgeObservation,
  type Labels,
  type MetricInfo,
  OVERFLOW_VALUE,
  RED_METRICS,
  type RouteObservation,
  routeObservation,
  seriesId,
} from './series.ts';

interface Meta {
  t: 'meta';
  /** End of the last closed window, ms: the start of the first open one. */
  closed: number;
}

interface SeriesCommon {
  labels: Labels;
  /** Budget key this series counts against (null: an overflow series, outside the budget). */
  budget: string | null;
  /** When the series started accumulating, ns since the epoch (decimal): the samples' startTimeUnixNano. */
  start: string;
  /** Processor time of the last span, ms: for idle expiry. */
  seen: number;
}

interface RouteSeries extends SeriesCommon {
  t: 'route';
  kind: RouteObservation['kind'];
  cum: Hist;
  /** Deltas of windows not closed yet: [window start ms, delta]. */
  pend: Array<[number, Hist]>;
}

interface EdgeAgg {
  /** Requests and failed requests counted on this edge. */
  n: number;
  f: number;
  /** Client- and server-side durations; null until a span of that side was seen. */
  c: Hist | null;
  s: Hist | null;
}

interface EdgeSeries extends SeriesCommon {
  t: 'edge';
  cum: EdgeAgg;
  pend: Array<[number, EdgeAgg]>;
}

export type RedMetricsState = Meta | RouteSeries | EdgeSeries | number;
/** The reference keeps its one key space: one store. */
export const referenceStores = { state: jsonStore<RedMetricsState>() };
type Ctx = ProcessorContext<RedMetricsConfig, typeof referenceStores>;

const META = 'meta';
const TOTAL = 'b:total';
/** Overflow series outside the budget: two for routes (success, error), one for edges. */
const ROUTE_OVERFLOW_SLOTS = 2;
const EDGE_OVERFLOW_SLOTS = 1;
const EDGE_ID_NAME = 'traces.service_graph';

// One compiled templater per rules object: handlers are called per span, configs are frozen per run.
const templaters = new WeakMap<object, RouteTemplater>();
function templaterFor(config: RedMetricsConfig): RouteTemplater {
  let t = templaters.get(config);
  if (t === undefined) {
    t = compileRouteTemplater({ rules: config.routeRules, maxSegments: config.routeMaxSegments });
    templaters.set(config, t);
  }
  return t;
}

/** The histogram a route-level series is a series of: HTTP (series.ts) or gRPC (rpc-series.ts). */
function routeMetric(kind: RouteObservation['kind']): MetricInfo {
  return kind === 'server' || kind === 'client' ? RED_METRICS[kind] : RPC_METRICS[kind];
}

function windowStart(ms: number, windowMs: number): number {
  return Math.floor(ms / windowMs) * windowMs;
}

/** The end of the newest window the clock has moved `allowedLatenessMs` past. */
function closableUpTo(ctx: Ctx): number {
  return windowStart(ctx.now() - ctx.config.allowedLatenessMs, ctx.config.windowMs);
}

function meta(ctx: Ctx): Meta {
  const m = ctx.stores.state.get(META) as Meta | undefined;
  if (m !== undefined) return m;
  // A new stream: windows before now are closed already; older spans (a replay) count as late.
  const created: Meta = { t: 'meta', closed: closableUpTo(ctx) };
  ctx.stores.state.set(META, created);
  return created;
}

/** The window a span joins, and whether it came after its own window closed. */
function windowOf(span: Span, m: Meta, ctx: Ctx): { start: number; late: boolean } {
  const { windowMs } = ctx.config;
  const endMs = Number(span.endTimeUnixNano / 1_000_000n);
  let start = Math.min(windowStart(endMs, windowMs), windowStart(ctx.now(), windowMs));
  if (start < m.closed) return { start: m.closed, late: true };
  start = Math.max(start, m.closed);
  return { start, late: false };
}

/**
 * The state key and labels a label set is counted under: its own series if it exists or both the
 * owner's budget and the partition's (maxSeries) allow one more; else the owner's overflow series if it
 * exists or the partition allows it; else the partition's global overflow series. Every series but the
 * global overflow ones counts in `b:total`, so a partition holds at most maxSeries of them, however many
 * services (process names) appear.
 */
function admit(
  ctx: Ctx,
  prefix: string,
  idName: string,
  budgetKey: string,
  reserved: number,
  labels: Labels,
  overflow: Labels,
  globalOverflow: Labels,
): { key: string; labels: Labels; budget: string | null } {
  const key = `${prefix}${seriesIdOf(idName, labels)}`;
  if (ctx.stores.state.has(key)) return { key, labels, budget: budgetKey };
  const total = (ctx.stores.state.get(TOTAL) as number | undefined) ?? 0;
  const room = total < ctx.config.maxSeries;
  const used = (ctx.stores.state.get(budgetKey) as number | undefined) ?? 0;
  if (room && used < ctx.config.cardinalityLimit - reserved) {
    ctx.stores.state.set(budgetKey, used + 1);
    ctx.stores.state.set(TOTAL, total + 1);
    ctx.count('series_created');
    return { key, labels, budget: budgetKey };
  }
  ctx.count('overflow_spans');
  const overflowKey = `${prefix}${seriesIdOf(idName, overflow)}`;
  if (ctx.stores.state.has(overflowKey)) return { key: overflowKey, labels: overflow, budget: null };
  if (room) {
    ctx.stores.state.set(TOTAL, total + 1);
    return { key: overflowKey, labels: overflow, budget: null };
  }
  ctx.count('global_overflow_spans');
  return { key: `${prefix}${seriesIdOf(idName, globalOverflow)}`, labels: globalOverflow, budget: null };
}

/** A global overflow series (outside every budget, `b:total` included). */
function isGlobalOverflow(series: RouteSeries | EdgeSeries): boolean {
  return (series.t === 'route' ? series.labels['service.name'] : series.labels.client) === OVERFLOW_VALUE;
}

/** One less series under a budget key (removed at zero). */
function release(ctx: Ctx, key: string): void {
  const used = ((ctx.stores.state.get(key) as number | undefined) ?? 1) - 1;
  if (used > 0) ctx.stores.state.set(key, used);
  else ctx.stores.state.delete(key);
}

function pendingFor<A>(pend: Array<[number, A]>, start: number, empty: () => A): A {
  for (const entry of pend) if (entry[0] === start) return entry[1];
  const delta = empty();
  pend.push([start, delta]);
  return delta;
}

function emptyEdge(): EdgeAgg {
  return { n: 0, f: 0, c: null, s: null };
}

function startNs(ctx: Ctx): string {
  return (BigInt(Math.trunc(ctx.now())) * 1_000_000n).toString();
}

export function processSpan(record: InputRecord<Span>, ctx: Ctx): void {
  const span = record.value;
  const config = ctx.config;
  const m = meta(ctx);
  const window = windowOf(span, m, ctx);
  ctx.count('spans');
  if (window.late) ctx.count('late_spans');
  const exemplar: ExemplarSlot | null = config.exemplars
    ? [span.traceId, span.spanId, 0, span.endTimeUnixNano.toString()]
    : null;

  const route = span.rpc !== null ? rpcObservation(span) : routeObservation(span, templaterFor(config));
  const metric = routeMetric(route.kind);
  const r = admit(
    ctx,
    'r:',
    metric.name,
    `b:${route.kind}:${route.service}`,
    ROUTE_OVERFLOW_SLOTS,
    route.labels,
    route.overflow,
    route.globalOverflow,
  );
  const rs = (ctx.stores.state.get(r.key) as RouteSeries | undefined) ?? {
    t: 'route',
    kind: route.kind,
    labels: r.labels,
    budget: r.budget,
    start: startNs(ctx),
    seen: 0,
    cum: emptyHist(),
    pend: [],
  };
  if (exemplar !== null) exemplar[2] = route.seconds;
  observe(pendingFor(rs.pend, window.start, emptyHist), route.seconds, exemplar);
  rs.seen = ctx.now();
  ctx.stores.state.set(r.key, rs);

  const edge = edgeObservation(span, config.unknownClient);
  const e = admit(
    ctx,
    'e:',
    EDGE_ID_NAME,
    `b:edge:${edge.client}`,
    EDGE_OVERFLOW_SLOTS,
    edge.labels,
    edge.overflow,
    edge.globalOverflow,
  );
  const es = (ctx.stores.state.get(e.key) as EdgeSeries | undefined) ?? {
    t: 'edge',
    labels: e.labels,
    budget: e.budget,
    start: startNs(ctx),
    seen: 0,
    cum: emptyEdge(),
    pend: [],
  };
  const delta = pendingFor(es.pend, window.start, emptyEdge);
  if (edge.countsRequest) {
    delta.n++;
    if (edge.failed) delta.f++;
  }
  if (edge.side === 'client') {
    delta.c ??= emptyHist();
    observe(delta.c, edge.seconds, exemplar);
  } else {
    delta.s ??= emptyHist();
    observe(delta.s, edge.seconds, exemplar);
  }
  es.seen = ctx.now();
  ctx.stores.state.set(e.key, es);
}

function mergeEdge(into: EdgeAgg, delta: EdgeAgg): void {
  into.n += delta.n;
  into.f += delta.f;
  if (delta.c !== null) {
    into.c ??= emptyHist();
    mergeHist(into.c, delta.c);
  }
  if (delta.s !== null) {
    into.s ??= emptyHist();
    mergeHist(into.s, delta.s);
  }
}

/** Adds the deltas of windows before `upTo` into the cumulative values; true if anything was folded. */
function fold<A>(
  series: { cum: A; pend: Array<[number, A]> },
  upTo: number,
  merge: (into: A, d: A) => void,
): boolean {
  const keep: Array<[number, A]> = [];
  let folded = false;
  for (const entry of series.pend.sort((a, b) => a[0] - b[0])) {
    if (entry[0] < upTo) {
      merge(series.cum, entry[1]);
      folded = true;
    } else {
      keep.push(entry);
    }
  }
  series.pend = keep;
  return folded;
}

function sample(
  metric: MetricInfo,
  labels: Labels,
  stream: string,
  start: string,
  timeUnixNano: bigint,
  value: { counter: number } | { hist: Hist },
): MetricSample {
  const hist = 'hist' in value ? value.hist : null;
  const scale = metric.scale ?? 1;
  return {
    name: metric.name,
    description: metric.description,
    unit: metric.unit,
    type: metric.type,
    labels,
    seriesId: seriesId(metric, labels),
    stream,
    startTimeUnixNano: BigInt(start),
    timeUnixNano,
    value: hist === null ? (value as { counter: number }).counter : hist.s * scale,
    histogram: hist === null ? null : histogramOf(hist, scale),
    exemplars: hist === null ? [] : exemplarsOf(hist, scale),
  };
}

/** Closes the windows the clock is past: folds, expires idle series, emits every live series. */
export function closeWindows(ctx: Ctx): void {
  const m = meta(ctx);
  const upTo = closableUpTo(ctx);
  if (upTo <= m.closed) return;
  const stream = `red-metrics/${ctx.partition}`;
  const time = BigInt(upTo) * 1_000_000n;
  const now = ctx.now();
  const emit = (s: MetricSample) => ctx.emit('metrics', s.seriesId, s);
  for (const key of ctx.stores.state.keys()) {
    if (!key.startsWith('r:') && !key.startsWith('e:')) continue;
    const series = ctx.stores.state.get(key) as RouteSeries | EdgeSeries;
    const folded = series.t === 'route' ? fold(series, upTo, mergeHist) : fold(series, upTo, mergeEdge);
    if (series.pend.length === 0 && now - series.seen > ctx.config.idleSeriesTimeoutMs) {
      ctx.stores.state.delete(key);
      if (series.budget !== null) release(ctx, series.budget);
      if (!isGlobalOverflow(series)) release(ctx, TOTAL);
      ctx.count('series_expired');
      continue;
    }
    if (folded) ctx.stores.state.set(key, series);
    if (series.t === 'route') {
      emit(sample(routeMetric(series.kind), series.labels, stream, series.start, time, { hist: series.cum }));
      continue;
    }
    const { cum, labels, start } = series;
    emit(sample(RED_METRICS.edgeRequests, labels, stream, start, time, { counter: cum.n }));
    emit(sample(RED_METRICS.edgeFailed, labels, stream, start, time, { counter: cum.f }));
    if (cum.c !== null) emit(sample(RED_METRICS.edgeClient, labels, stream, start, time, { hist: cum.c }));
    if (cum.s !== null) emit(sample(RED_METRICS.edgeServer, labels, stream, start, time, { hist: cum.s }));
  }
  ctx.stores.state.set(META, { t: 'meta', closed: upTo });
  ctx.count('windows_closed');
}
