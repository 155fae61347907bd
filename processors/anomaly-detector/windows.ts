/**
 * Stage 2: deltas → windows → detectors. Windows are event-time tumbling windows aligned to multiples
 * of `windowMs`; each delta counts in the window its end time falls in. All windows of a partition close
 * together, when the partition's watermark passes their end:
 *
 *   watermark = (latest delta end seen) − allowedLatenessMs                     while input flows
 *             = max(latest end, now − last seen event lag) − allowedLatenessMs   after idleTimeoutMs of silence
 *
 * The second line is what makes traffic that stopped entirely visible: no samples means no event time,
 * so after the idle timeout the partition assumes event time goes on at the pace it last had, and the
 * windows close empty. A delta that arrives for a window already closed is counted in the oldest open
 * window instead (`late_deltas`): its requests are not lost, only shifted.
 *
 * Closing a window evaluates every route of the partition (an empty window is evidence too: a drop),
 * then every service's SLO from its routes' sums, in sorted key order so replays emit identical records.
 */

import type { WindowDelta } from '../../schemas/types.ts';
import type { ProcessorContext } from '../runtime/definition.ts';
import { anomalyOf, type TransitionSpec } from './anomaly-events.ts';
import type { DetectorConfig } from './config.ts';
import { sameBounds } from './histogram.ts';
import { emptyAcc, evaluateRouteWindow, newRoute, resolveAllRouteChecks } from './route-detectors.ts';
import {
  addRouteWindow,
  evaluateServiceWindow,
  mergeExamples,
  newService,
  resolveAllServiceChecks,
  type ServiceWindow,
} from './slo-burn.ts';
import {
  floorTo,
  isServiceWide,
  META_KEY,
  type Meta,
  parseWindowKey,
  type RouteState,
  routeIdOf,
  routeKeyOf,
  type ServiceState,
  serviceWideKeyOf,
  type WindowAcc,
  windowKey,
  windowOf,
} from './state.ts';
import type { detectorStores } from './stores.ts';

type Ctx = ProcessorContext<DetectorConfig, typeof detectorStores>;

const NS_PER_MS = 1_000_000n;

/**
 * Server errors per the OpenTelemetry HTTP conventions, as red-metrics labels them: `error.type` is set
 * on errors only (a 5xx, or no response at all: refused, reset, timed out); a 5xx without it is one too.
 */
export function isServerError(statusCode: number, errorType: string | null): boolean {
  return errorType !== null || statusCode >= 500;
}

/** `2xx`...`5xx`; `none` for an error without a response; null when the series says nothing about it. */
export function statusClassOf(statusCode: number, errorType: string | null): string | null {
  if (statusCode >= 100) return `${Math.floor(statusCode / 100)}xx`;
  return errorType !== null ? 'none' : null;
}

/** Adds a delta to an open window's accumulator. */
export function addDelta(acc: WindowAcc, delta: WindowDelta, maxExamples: number): void {
  const count = Number(delta.count);
  if (count === 0) return;
  const cls = statusClassOf(delta.statusCode, delta.errorType);
  const error = isServerError(delta.statusCode, delta.errorType);
  acc.count += count;
  acc.sum += delta.sum;
  if (cls !== null) acc.classes[cls] = (acc.classes[cls] ?? 0) + count;
  if (error) acc.errors += count;
  if (acc.bounds.length === 0 && delta.bounds.length > 0) {
    acc.bounds = [...delta.bounds];
    acc.buckets = new Array<number>(delta.bounds.length + 1).fill(0);
  }
  if (sameBounds(acc.bounds, delta.bounds) && delta.bucketCounts.length === acc.buckets.length) {
    for (let i = 0; i < acc.buckets.length; i++) acc.buckets[i]! += Number(delta.bucketCounts[i]!);
    acc.bucketed += count;
  }
  const examples = delta.exemplars.map((e) => ({ traceId: e.traceId, value: e.value }));
  mergeExamples(acc.slowest, examples, maxExamples, true);
  if (error) mergeExamples(acc.failing, examples, maxExamples);
  if (cls !== null) {
    acc.byClass[cls] ??= [];
    mergeExamples(acc.byClass[cls], examples, maxExamples);
  }
}

export function processDelta(delta: WindowDelta, ctx: Ctx): void {
  const { config } = ctx;
  const endMs = Number(delta.endUnixNano / NS_PER_MS);
  const now = ctx.now();
  const meta: Meta = ctx.stores.meta.get(META_KEY) ?? {
    // The first window ever evaluated is the one the first delta falls in.
    closedUpToMs: windowOf(endMs, config.windowMs),
    maxEventMs: endMs,
    lastInputWallMs: now,
    eventLagMs: now - endMs,
    routes: 0,
  };
  meta.lastInputWallMs = now;
  if (endMs >= meta.maxEventMs) {
    meta.maxEventMs = endMs;
    meta.eventLagMs = now - endMs;
  }
  if (delta.count > 0n) {
    let start = windowOf(endMs, config.windowMs);
    if (start < meta.closedUpToMs) {
      ctx.count('late_deltas');
      start = meta.closedUpToMs;
    }
    // The service-wide route always (SLOs are summed from it), the route itself if routes are a level.
    const keys = [serviceWideKeyOf(delta.service)];
    if (config.levels.includes('route')) keys.push(routeKeyOf(delta));
    for (const routeKey of keys) {
      const key = windowKey(start, routeKey);
      const acc = ctx.stores.windows.get(key) ?? emptyAcc();
      addDelta(acc, delta, config.maxExampleTraces);
      ctx.stores.windows.set(key, acc);
    }
  }
  closeWindows(ctx, meta, floorTo(meta.maxEventMs - config.allowedLatenessMs, config.windowMs));
  ctx.stores.meta.set(META_KEY, meta);
}

/** Punctuation: close windows on the wall clock when the input went silent. */
export function punctuateDetector(ctx: Ctx): void {
  const { config } = ctx;
  const now = ctx.now();
  const meta = ctx.stores.meta.get(META_KEY);
  if (meta !== undefined && now - meta.lastInputWallMs >= config.idleTimeoutMs) {
    const eventNow = Math.max(meta.maxEventMs, now - meta.eventLagMs);
    const before = meta.closedUpToMs;
    closeWindows(ctx, meta, floorTo(eventNow - config.allowedLatenessMs, config.windowMs));
    if (meta.closedUpToMs !== before) {
      ctx.count('idle_windows_closed', (meta.closedUpToMs - before) / config.windowMs);
      ctx.stores.meta.set(META_KEY, meta);
    }
  }
}

/** Closes every window that starts before `boundaryMs` (a multiple of windowMs). Updates `meta`. */
export function closeWindows(ctx: Ctx, meta: Meta, boundaryMs: number): void {
  const { config } = ctx;
  const size = config.windowMs;
  if (boundaryMs <= meta.closedUpToMs) return;
  // After a long outage, evaluating thousands of empty windows one by one would say nothing more than
  // the last historyWindows of them do.
  const oldest = boundaryMs - config.historyWindows * size;
  if (meta.closedUpToMs < oldest) {
    ctx.count('windows_skipped', (oldest - meta.closedUpToMs) / size);
    meta.closedUpToMs = oldest;
  }

  const stores = ctx.stores;
  const accs = new Map<string, Map<number, WindowAcc>>();
  for (const key of stores.windows.keys()) {
    const { startMs, routeKey } = parseWindowKey(key);
    if (startMs >= boundaryMs) continue;
    const acc = stores.windows.get(key)!;
    stores.windows.delete(key);
    if (startMs < meta.closedUpToMs) continue; // skipped above
    let byStart = accs.get(routeKey);
    if (byStart === undefined) {
      byStart = new Map();
      accs.set(routeKey, byStart);
    }
    byStart.set(startMs, acc);
  }

  const routes = new Map<string, RouteState>();
  for (const routeKey of stores.routes.keys()) routes.set(routeKey, stores.routes.get(routeKey)!);
  const services = new Map<string, ServiceState>();
  for (const name of stores.services.keys()) services.set(name, stores.services.get(name)!);

  const emit = (spec: TransitionSpec) => {
    const anomaly = anomalyOf(spec);
    ctx.emit('anomalies', anomaly.fingerprint, anomaly);
    ctx.count(`transitions_${anomaly.status.toLowerCase()}`);
  };
  const newRoutes = [...accs.keys()].filter((k) => !routes.has(k)).sort();
  const ordered = [...routes.keys()].sort();

  for (let start = meta.closedUpToMs; start < boundaryMs; start += size) {
    // Routes first seen in this window join from it on (earlier windows said nothing about them).
    for (const routeKey of newRoutes) {
      if (routes.has(routeKey) || !accs.get(routeKey)!.has(start)) continue;
      if (meta.routes >= config.maxRoutes) {
        ctx.count('routes_over_limit');
        accs.delete(routeKey);
        continue;
      }
      const id = routeIdOf(routeKey);
      routes.set(routeKey, newRoute(id.service, id.method, id.route));
      meta.routes++;
      ordered.push(routeKey);
      ordered.sort();
    }
    const totals = new Map<string, ServiceWindow>();
    for (const routeKey of ordered) {
      const route = routes.get(routeKey);
      if (route === undefined) continue; // expired earlier in this pass
      const acc = accs.get(routeKey)?.get(start) ?? emptyAcc();
      const serviceWide = isServiceWide(routeKey);
      evaluateRouteWindow(
        route,
        acc,
        start,
        config,
        emit,
        config.levels.includes(serviceWide ? 'service' : 'route'),
      );
      if (serviceWide) {
        const sum: ServiceWindow = { total: 0, bad: 0, slow: 0, failing: [], slowest: [] };
        addRouteWindow(sum, acc, route.service, config);
        totals.set(route.service, sum);
      }
      if (route.idleWindows >= config.routeExpiryWindows) {
        resolveAllRouteChecks(route, start, config, emit);
        routes.delete(routeKey);
        stores.routes.delete(routeKey);
        meta.routes = Math.max(0, meta.routes - 1);
        ctx.count('routes_expired');
      }
    }
    for (const name of [...new Set([...services.keys(), ...totals.keys()])].sort()) {
      const sum = totals.get(name);
      let service = services.get(name);
      if (sum === undefined) {
        // The service has been idle long enough to be forgotten.
        if (service !== undefined) resolveAllServiceChecks(service, start, config, emit);
        services.delete(name);
        stores.services.delete(name);
        continue;
      }
      if (service === undefined) {
        service = newService(name);
        services.set(name, service);
      }
      evaluateServiceWindow(service, sum, start, config, emit);
    }
  }
  for (const [routeKey, route] of routes) stores.routes.set(routeKey, route);
  for (const [name, service] of services) stores.services.set(name, service);
  ctx.count('windows_closed', (boundaryMs - meta.closedUpToMs) / size);
  meta.closedUpToMs = boundaryMs;
}
