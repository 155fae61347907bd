/**
 * What the detector keeps in partition state, one store per kind of entry (the host writes every
 * change to its changelog in the transaction of the outputs, so a restart resumes exactly where the
 * committed anomalies left off).
 *
 *   store     key                            value
 *   meta      meta                           Meta          the partition's watermark and input clock
 *   windows   <window start ms>|<route key>  WindowAcc     what a route gained in a window still open
 *   routes    <route key>                    RouteState    baselines, known status classes, checks
 *   services  <service>                      ServiceState  SLO window ring and burn-rate checks
 *
 * (The series cursors are anomaly-deltas' state: processors/anomaly-deltas/state.ts.)
 *
 * A route key is `<service>\u0001<method>\u0001<route>`: service names, methods and routes never contain
 * the control characters, and sorting keys sorts routes by service (output order must not depend on the
 * order keys happened to be restored in). Every service also has a service-wide "route", `<service>\u0001
 * \u0002`, holding the sum of its routes: it feeds the SLOs, and its detectors catch what no single
 * route can show (routes too sparse for a baseline, e.g. paths that were not templated).
 */
import type { LegacyEntry } from '../runtime/definition.ts';
import { jsonStateCodec } from '../runtime/state-codec.ts';
import { jsonStore } from '../runtime/store-types.ts';
import type { CheckState } from './hysteresis.ts';

export const META_KEY = 'meta';

const SEP = '\u0001';

const SERVICE_WIDE = '\u0002';

export interface RouteId {
  service: string;
  method: string | null;
  route: string | null;
}

export function routeKeyOf(id: RouteId): string {
  return [id.service, id.method ?? '', id.route ?? ''].join(SEP);
}

export function serviceWideKeyOf(service: string): string {
  return `${service}${SEP}${SERVICE_WIDE}`;
}

export function isServiceWide(routeKey: string): boolean {
  return routeKey.endsWith(`${SEP}${SERVICE_WIDE}`);
}

export function routeIdOf(routeKey: string): RouteId & { serviceWide: boolean } {
  const [service = '', method = '', route = ''] = routeKey.split(SEP);
  if (method === SERVICE_WIDE) return { service, method: null, route: null, serviceWide: true };
  return {
    service,
    method: method === '' ? null : method,
    route: route === '' ? null : route,
    serviceWide: false,
  };
}

export function floorTo(ms: number, size: number): number {
  return Math.floor(ms / size) * size;
}

/**
 * The window a delta counts in. A cumulative sample at time T covers what happened before T (red-metrics
 * stamps each window's samples with the window's end), so a sample exactly on a boundary belongs to the
 * window that ends there.
 */
export function windowOf(endMs: number, windowMs: number): number {
  return floorTo(endMs - 1, windowMs);
}

/** Window starts are padded so that keys sort by time. */
export function windowKey(startMs: number, routeKey: string): string {
  return `${String(startMs).padStart(15, '0')}|${routeKey}`;
}

export function parseWindowKey(key: string): { startMs: number; routeKey: string } {
  const bar = key.indexOf('|');
  return { startMs: Number(key.slice(0, bar)), routeKey: key.slice(bar + 1) };
}

export interface Meta {
  /** Windows starting before this are closed (evaluated). */
  closedUpToMs: number;
  /** Latest event time seen (the end of the newest delta), ms. */
  maxEventMs: number;
  /** Wall clock of the last input record, ms. */
  lastInputWallMs: number;
  /** Wall clock minus event time at the last input: how far behind real time the data runs. */
  eventLagMs: number;
  /** Routes in state (bounded by maxRoutes). */
  routes: number;
}

export interface Example {
  traceId: string;
  value: number;
}

/** What one route gained in one window. */
export interface WindowAcc {
  count: number;
  errors: number;
  sum: number;
  bounds: number[];
  buckets: number[];
  /** Observations in `buckets` (deltas with other bounds are counted, but not bucketed). */
  bucketed: number;
  /** Requests per status class, e.g. {"2xx": 120, "5xx": 3}; "none" for requests without a response. */
  classes: Record<string, number>;
  /** Slowest exemplars. */
  slowest: Example[];
  /** Exemplars of server errors. */
  failing: Example[];
  /** Exemplars per status class (a few each). */
  byClass: Record<string, Example[]>;
}

export interface RouteHistory {
  rate: number[];
  p50: number[];
  p99: number[];
  errorRatio: number[];
}

export interface RouteState {
  service: string;
  method: string | null;
  route: string | null;
  /** Windows evaluated since the route was first seen. */
  windows: number;
  /** Windows with at least minRequests requests: a route must have this many before its first 5xx is news. */
  busyWindows: number;
  /** Consecutive windows without a request. */
  idleWindows: number;
  history: RouteHistory;
  /** Status classes seen so far. */
  knownClasses: string[];
  /** Hysteresis per check, by check name (`LATENCY_P99`, `NEW_STATUS_CLASS:5xx`...). */
  checks: Record<string, CheckState & { severity?: string }>;
}

/** One window of a service in the SLO ring: requests, server errors, and requests slower than the SLO. */
export type SloWindow = [total: number, bad: number, slow: number];

export interface ServiceState {
  service: string;
  /** Newest last, one entry per window, as long as the longest burn-rate window. */
  ring: SloWindow[];
  windows: number;
  checks: Record<string, CheckState & { severity?: string }>;
}

/**
 * The state stores (processors/runtime/store-types.ts). JSON: the SLO ring is tuples and checks are
 * maps of records, which an Avro type would spell otherwise (a change of the values, not made here).
 */
export const detectorStores = {
  meta: jsonStore<Meta>(),
  windows: jsonStore<WindowAcc>(),
  routes: jsonStore<RouteState>(),
  services: jsonStore<ServiceState>(),
};

const json = jsonStateCodec<unknown>();

/** The key prefix of each store in the releases before stores (one key space). */
const LEGACY_PREFIXES = [
  ['w|', 'windows'],
  ['r|', 'routes'],
  ['s|', 'services'],
] as const;

/**
 * A changelog record of the releases before stores (one key space, by key prefix), as it is now. Those
 * releases ran both stages in this processor: the series cursors (`c|`, `pruned`) are anomaly-deltas'
 * now, which starts them afresh from the next sample of each series, so they are dropped here.
 */
export function legacyDetectorState(
  key: string,
  bytes: Buffer,
): LegacyEntry<typeof detectorStores> | undefined {
  if (key.startsWith('c|') || key === 'pruned') return undefined;
  const value = json.decode(bytes) as never;
  if (key === META_KEY) return { store: 'meta', key, value };
  for (const [prefix, store] of LEGACY_PREFIXES)
    if (key.startsWith(prefix)) return { store, key: key.slice(prefix.length), value };
  throw new Error(`not a key of anomaly-detector's state: ${key}`);
}
