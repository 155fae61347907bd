/**
 * The red-metrics handlers, on the state of one input partition (the stream `red-metrics/<partition>`,
 * state.ts). A span lands in the window of its end time, as a pending delta of its series. A window
 * closes once the processor's clock is `allowedLatenessMs` past its end: the deltas of every closed
 * window are added to the cumulative values, and every live series is emitted with the window end as
 * its time. A span whose window already closed (later than the allowance) joins the first open window
 * instead of being dropped, and one from a clock ahead of ours joins the current window, so nothing
 * waits on a skewed clock. Windows close on the processor's clock, not on span time, so an idle
 * partition still closes its windows and keeps its series alive in the sink.
 *
 * Everything is in keyed state that the host writes to the changelog in the transaction of the emitted
 * samples: after a crash, restart or rebalance the cumulative values continue from exactly what was
 * emitted, under the same stream and start time, so the sink neither loses nor double counts.
 */

import type { MetricSample, Span } from '../../schemas/types.ts';
import type { InputRecord, PartitionState, ProcessorContext } from '../runtime/definition.ts';
import type { RedMetricsConfig } from './config.ts';
import { emptyHist, exemplarsOf, histogramOf, mergeHist, observe } from './histogram.ts';
import {
  durationSeconds,
  type Labels,
  type MetricInfo,
  OVERFLOW_VALUE,
  RED_METRICS,
  seriesId,
} from './series.ts';
import { routeMetric, type SeriesRef, seriesOf } from './series-index.ts';
import {
  type EdgeAgg,
  type EdgeSeries,
  type Hist,
  META_KEY,
  type Meta,
  type Pending,
  type RouteSeries,
  type redMetricsStores,
  TOTAL_KEY,
} from './state.ts';

type Ctx = ProcessorContext<RedMetricsConfig, typeof redMetricsStores>;

const MS = 1_000_000n;

function windowStart(ms: number, windowMs: number): number {
  return Math.floor(ms / windowMs) * windowMs;
}

/** The end of the newest window the clock has moved `allowedLatenessMs` past. */
function closableUpTo(ctx: Ctx): number {
  return windowStart(ctx.now() - ctx.config.allowedLatenessMs, ctx.config.windowMs);
}

function meta(ctx: Ctx): Meta {
  const m = ctx.stores.windows.get(META_KEY);
  if (m !== undefined) return m;
  // A new stream: windows before now are closed already; older spans (a replay) count as late.
  const created: Meta = { closed: closableUpTo(ctx) };
  ctx.stores.windows.set(META_KEY, created);
  return created;
}

// The window of the last span's end, in ns: consecutive spans mostly end in the same window, and
// comparing BigInts allocates nothing where dividing them does.
let lastWindow = { windowMs: 0, fromNs: 0n, toNs: -1n, startMs: 0 };

/** The start (ms) of the window a span's end time falls in. */
function spanWindowStart(endNs: bigint, windowMs: number): number {
  const w = lastWindow;
  if (w.windowMs === windowMs && endNs >= w.fromNs && endNs < w.toNs) return w.startMs;
  const startMs = windowStart(Number(endNs / MS), windowMs);
  lastWindow = { windowMs, fromNs: BigInt(startMs) * MS, toNs: BigInt(startMs + windowMs) * MS, startMs };
  return startMs;
}

/**
 * The series a span counts in: its own if it exists or both its owner's budget and the partition's
 * (maxSeries) allow one more; else the owner's overflow series if it exists or the partition allows
 * it; else the partition's global overflow series. Every series but the global overflow ones counts in
 * the budget `total`, so a partition holds at most maxSeries of them, however many services (process names)
 * appear. `series` is the store of the span's kind of series (routes or edges). Returns its state key
 * and the series (the stored one, or a new one).
 */
function admit<S>(
  ctx: Ctx,
  series: PartitionState<S>,
  ref: SeriesRef,
  create: (labels: Labels, budget: string | null) => S,
): [key: string, series: S] {
  const budgets = ctx.stores.budgets;
  const own = series.get(ref.key);
  if (own !== undefined) return [ref.key, own];
  const total = budgets.get(TOTAL_KEY)?.used ?? 0;
  const room = total < ctx.config.maxSeries;
  const used = budgets.get(ref.budget)?.used ?? 0;
  if (room && used < ctx.config.cardinalityLimit - ref.reserved) {
    budgets.set(ref.budget, { used: used + 1 });
    budgets.set(TOTAL_KEY, { used: total + 1 });
    ctx.count('series_created');
    return [ref.key, create(ref.labels, ref.budget)];
  }
  ctx.count('overflow_spans');
  const overflow = series.get(ref.overflowKey);
  if (overflow !== undefined) return [ref.overflowKey, overflow];
  if (room) {
    budgets.set(TOTAL_KEY, { used: total + 1 });
    return [ref.overflowKey, create(ref.overflowLabels, null)];
  }
  ctx.count('global_overflow_spans');
  const global = series.get(ref.globalOverflowKey);
  return [ref.globalOverflowKey, global ?? create(ref.globalOverflowLabels, null)];
}

/** One less series under a budget key (removed at zero). */
function release(ctx: Ctx, key: string): void {
  const budgets = ctx.stores.budgets;
  const used = (budgets.get(key)?.used ?? 1) - 1;
  if (used > 0) budgets.set(key, { used });
  else budgets.delete(key);
}

function pendingFor<A>(pend: Array<Pending<A>>, start: number, empty: () => A): A {
  for (let i = 0; i < pend.length; i++) if (pend[i]!.start === start) return pend[i]!.delta;
  const delta = empty();
  pend.push({ start, delta });
  return delta;
}

function emptyEdge(): EdgeAgg {
  return { n: 0, f: 0, c: null, s: null };
}

function startNs(ctx: Ctx): string {
  return (BigInt(Math.trunc(ctx.now())) * MS).toString();
}

export function processSpan(record: InputRecord<Span>, ctx: Ctx): void {
  const span = record.value;
  const config = ctx.config;
  const now = ctx.now();
  const m = meta(ctx);
  ctx.count('spans');
  // The window of its end time; one that closed already (later than the allowance) gives the first
  // open window, and a clock ahead of ours the current one.
  let window = Math.min(
    spanWindowStart(span.endTimeUnixNano, config.windowMs),
    windowStart(now, config.windowMs),
  );
  if (window < m.closed) {
    window = m.closed;
    ctx.count('late_spans');
  }
  const exemplar = config.exemplars ? span : null;
  const seconds = durationSeconds(span);
  const { route, edge } = seriesOf(span, config);

  const [routeKey, rs] = admit<RouteSeries>(ctx, ctx.stores.routes, route, (labels, budget) => ({
    kind: route.kind,
    labels,
    budget,
    start: startNs(ctx),
    seen: 0,
    cum: emptyHist(),
    pend: [],
  }));
  observe(pendingFor(rs.pend, window, emptyHist), seconds, exemplar);
  rs.seen = now;
  ctx.stores.routes.set(routeKey, rs);

  const [edgeKey, es] = admit<EdgeSeries>(ctx, ctx.stores.edges, edge, (labels, budget) => ({
    labels,
    budget,
    start: startNs(ctx),
    seen: 0,
    cum: emptyEdge(),
    pend: [],
  }));
  const delta = pendingFor(es.pend, window, emptyEdge);
  if (edge.countsRequest) {
    delta.n++;
    if (edge.failed) delta.f++;
  }
  if (edge.side === 'client') {
    delta.c ??= emptyHist();
    observe(delta.c, seconds, exemplar);
  } else {
    delta.s ??= emptyHist();
    observe(delta.s, seconds, exemplar);
  }
  es.seen = now;
  ctx.stores.edges.set(edgeKey, es);
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
  series: { cum: A; pend: Array<Pending<A>> },
  upTo: number,
  merge: (into: A, d: A) => void,
): boolean {
  if (!series.pend.some((entry) => entry.start < upTo)) return false;
  // Oldest window first: sums are added in the same order every time, and newer exemplars win.
  const keep: Array<Pending<A>> = [];
  for (const entry of [...series.pend].sort((a, b) => a.start - b.start)) {
    if (entry.start < upTo) merge(series.cum, entry.delta);
    else keep.push(entry);
  }
  series.pend = keep;
  return true;
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

/**
 * Expires a series idle past the timeout at `now` with nothing pending: deleted, and its budgets released (a
 * global overflow series, `globalOverflow`, counts in none). True if it was.
 */
function expired<S extends RouteSeries | EdgeSeries>(
  ctx: Ctx,
  store: PartitionState<S>,
  key: string,
  series: S,
  now: number,
  globalOverflow: boolean,
): boolean {
  if (series.pend.length > 0 || now - series.seen <= ctx.config.idleSeriesTimeoutMs) return false;
  store.delete(key);
  if (series.budget !== null) release(ctx, series.budget);
  if (!globalOverflow) release(ctx, TOTAL_KEY);
  ctx.count('series_expired');
  return true;
}

/**
 * Closes the windows the clock is past: folds, expires idle series, emits every live series — the
 * route series, then the edges (two stores; each in its own order).
 */
export function closeWindows(ctx: Ctx): void {
  const m = meta(ctx);
  const upTo = closableUpTo(ctx);
  if (upTo <= m.closed) return;
  const stream = `red-metrics/${ctx.partition}`;
  const time = BigInt(upTo) * MS;
  const now = ctx.now();
  const emit = (s: MetricSample) => ctx.emit('metrics', s.seriesId, s);
  const { routes, edges } = ctx.stores;
  for (const key of routes.keys()) {
    const series = routes.get(key)!;
    const folded = fold(series, upTo, mergeHist);
    if (expired(ctx, routes, key, series, now, series.labels['service.name'] === OVERFLOW_VALUE)) continue;
    if (folded) routes.set(key, series);
    emit(sample(routeMetric(series.kind), series.labels, stream, series.start, time, { hist: series.cum }));
  }
  for (const key of edges.keys()) {
    const series = edges.get(key)!;
    const folded = fold(series, upTo, mergeEdge);
    if (expired(ctx, edges, key, series, now, series.labels.client === OVERFLOW_VALUE)) continue;
    if (folded) edges.set(key, series);
    const { cum, labels, start } = series;
    emit(sample(RED_METRICS.edgeRequests, labels, stream, start, time, { counter: cum.n }));
    emit(sample(RED_METRICS.edgeFailed, labels, stream, start, time, { counter: cum.f }));
    if (cum.c !== null) emit(sample(RED_METRICS.edgeClient, labels, stream, start, time, { hist: cum.c }));
    if (cum.s !== null) emit(sample(RED_METRICS.edgeServer, labels, stream, start, time, { hist: cum.s }));
  }
  ctx.stores.windows.set(META_KEY, { closed: upTo });
  ctx.count('windows_closed');
}
