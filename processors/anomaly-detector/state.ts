/**
 * What the detector keeps in partition state, one store per kind of entry (the host writes every
 * change to its changelog in the transaction of the outputs, so a restart resumes exactly where the
 * committed anomalies left off).
 *
 *   store     key                            value (Avro type)
 *   meta      meta                           Meta          the partition's watermark and input clock
 *                                            (meta.avsc)
 *   windows   <window start ms>|<route key>  WindowAcc     what a route gained in a window still open
 *                                            (window-acc.avsc)
 *   routes    <route key>                    RouteState    baselines, known status classes, checks
 *                                            (route-state.avsc)
 *   services  <service>                      ServiceState  SLO window ring and burn-rate checks
 *                                            (service-state.avsc)
 *
 * The stores and their codecs are declared in stores.ts: each value is Avro of the type named above (the
 * JSON the releases before wrote still restores: json-state.ts). (The series cursors are anomaly-deltas'
 * state: processors/anomaly-deltas/state.ts.)
 *
 * A route key is `<service>\u0001<method>\u0001<route>`: service names, methods and routes never contain
 * the control characters, and sorting keys sorts routes by service (output order must not depend on the
 * order keys happened to be restored in). Every service also has a service-wide "route", `<service>\u0001
 * \u0002`, holding the sum of its routes: it feeds the SLOs, and its detectors catch what no single
 * route can show (routes too sparse for a baseline, e.g. paths that were not templated).
 */
import type { Severity } from './config.ts';
import { type CheckState, initialCheck } from './hysteresis.ts';

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
  checks: Record<string, Check>;
}

/** A check's hysteresis, and the severity it fired with: kept, so that its resolution says the same. */
export interface Check extends CheckState {
  /** Null until it fires. */
  severity: Severity | null;
}

export function newCheck(): Check {
  return { ...initialCheck(), severity: null };
}

/**
 * One window of a service in the SLO ring: requests, server errors, and requests slower than the SLO. A
 * record, not a tuple: an Avro array could not say it has three counts, nor which is which.
 */
export interface SloWindow {
  total: number;
  bad: number;
  slow: number;
}

export interface ServiceState {
  service: string;
  /** Newest last, one entry per window, as long as the longest burn-rate window. */
  ring: SloWindow[];
  windows: number;
  checks: Record<string, Check>;
}
