/**
 * Which series a span counts in, worked out once per distinct set of the span fields that decide it,
 * not once per span. series.ts and rpc-series.ts say how a span becomes label sets; turning label sets
 * into series (a sorted label string, a SHA-256 series id, the overflow series, the budget key) costs
 * far more than counting the span, and a partition sees the same few hundred combinations over and
 * over. So the answer is kept in a tree of Maps keyed by the raw fields themselves (no key string is
 * built per span), one level per field those rules read:
 *
 *   HTTP  kind → service → namespace → workload kind → workload → method → route (or, without one, the
 *         path to template) → status code → [no status code: error type → incomplete reason]
 *         → peer service → [CLIENT: host → peer address]
 *   gRPC  kind → service → namespace → rpc.system → rpc.service → rpc.method → gRPC status code
 *         → span status → error type → peer service → [CLIENT: host → peer address]
 *
 * A leaf holds both series of the span (its route's and its edge's), each with the overflow series it
 * falls back to. Everything here is derived from the fields and the config, never from state: it is a
 * cache, and forgetting it changes no result. It is bounded (MAX_LEAVES; dropped whole when reached, as
 * a stream of unique paths could otherwise grow it). A field a rule starts reading needs its level here
 * (the equivalence test against the reference implementation catches a missing one).
 */
import { seriesIdOf } from '../../runtime/metric-definition.ts';
import type { Span } from '../../schemas/types.ts';
import { compileRouteTemplater, type RouteTemplater } from '../shared/route-template.ts';
import type { RedMetricsConfig } from './config.ts';
import { RPC_METRICS, rpcObservation } from './rpc-series.ts';
import {
  type EdgeObservation,
  edgeObservation,
  type Labels,
  type MetricInfo,
  RED_METRICS,
  type RouteObservation,
  routeObservation,
} from './series.ts';

const EDGE_ID_NAME = 'traces.service_graph';
/** Overflow series outside the budget: two for routes (success, error), one for edges. */
const ROUTE_OVERFLOW_SLOTS = 2;
const EDGE_OVERFLOW_SLOTS = 1;
const MAX_LEAVES = 65_536;

/** The histogram a route-level series is a series of: HTTP (series.ts) or gRPC (rpc-series.ts). */
export function routeMetric(kind: RouteObservation['kind']): MetricInfo {
  return kind === 'server' || kind === 'client' ? RED_METRICS[kind] : RPC_METRICS[kind];
}

/**
 * A series a span counts in, and where it goes instead: its owner's overflow series when the owner's
 * budget is spent, the partition's global overflow series when maxSeries is (aggregator.ts).
 */
export interface SeriesRef {
  /** Key of the series in the `series` store: its series id. */
  key: string;
  labels: Labels;
  /** Key of the owner's budget in the `budgets` store (state.ts), and how many series of the budget overflow keeps back. */
  budget: string;
  reserved: number;
  overflowKey: string;
  overflowLabels: Labels;
  globalOverflowKey: string;
  globalOverflowLabels: Labels;
}

export interface RouteRef extends SeriesRef {
  kind: RouteObservation['kind'];
}

export interface EdgeRef extends SeriesRef {
  side: EdgeObservation['side'];
  countsRequest: boolean;
  failed: boolean;
}

export interface SpanSeries {
  route: RouteRef;
  edge: EdgeRef;
}

type Level = Map<unknown, Level | SpanSeries>;

interface Index {
  http: Level;
  rpc: Level;
  leaves: number;
}

const indexes = new WeakMap<RedMetricsConfig, Index>();

function step(level: Level, key: unknown): Level {
  let next = level.get(key) as Level | undefined;
  if (next === undefined) {
    next = new Map();
    level.set(key, next);
  }
  return next;
}

function ref(
  idName: string,
  budget: string,
  reserved: number,
  observation: { labels: Labels; overflow: Labels; globalOverflow: Labels },
): SeriesRef {
  const id = (labels: Labels) => seriesIdOf(idName, labels);
  return {
    key: id(observation.labels),
    labels: Object.freeze(observation.labels),
    budget,
    reserved,
    overflowKey: id(observation.overflow),
    overflowLabels: Object.freeze(observation.overflow),
    globalOverflowKey: id(observation.globalOverflow),
    globalOverflowLabels: Object.freeze(observation.globalOverflow),
  };
}

/** The series of a span, as series.ts and rpc-series.ts define them, with their keys. */
function resolve(span: Span, config: RedMetricsConfig): SpanSeries {
  const route = span.rpc !== null ? rpcObservation(span) : routeObservation(span, templaterFor(config));
  const edge = edgeObservation(span, config.unknownClient);
  return {
    route: {
      ...ref(routeMetric(route.kind).name, `${route.kind}:${route.service}`, ROUTE_OVERFLOW_SLOTS, route),
      kind: route.kind,
    },
    edge: {
      ...ref(EDGE_ID_NAME, `edge:${edge.client}`, EDGE_OVERFLOW_SLOTS, edge),
      side: edge.side,
      countsRequest: edge.countsRequest,
      failed: edge.failed,
    },
  };
}

// One compiled templater per config: configs are frozen per run.
const templaters = new WeakMap<RedMetricsConfig, RouteTemplater>();
function templaterFor(config: RedMetricsConfig): RouteTemplater {
  let t = templaters.get(config);
  if (t === undefined) {
    t = compileRouteTemplater({ rules: config.routeRules, maxSegments: config.routeMaxSegments });
    templaters.set(config, t);
  }
  return t;
}

/** The route and edge series a span counts in. */
export function seriesOf(span: Span, config: RedMetricsConfig): SpanSeries {
  let index = indexes.get(config);
  if (index === undefined || index.leaves >= MAX_LEAVES) {
    index = { http: new Map(), rpc: new Map(), leaves: 0 };
    indexes.set(config, index);
  }
  const { local, http, peer, rpc } = span;
  // Anything but a SERVER span reads server.address (series.ts): the Host header and the peer address.
  const client = span.kind !== 'SERVER';
  let level = step(step(rpc === null ? index.http : index.rpc, span.kind), local.service);
  level = step(level, local.namespace);
  if (rpc === null) {
    level = step(step(step(level, local.workloadKind), local.workload), http.method);
    // A route is used as it is; a path is templated (so the path itself decides, with a separate level).
    const route = http.route ?? null;
    level = route !== null ? step(level, route) : step(step(level, null), http.path);
    level = step(level, http.statusCode);
    if (http.statusCode === null) level = step(step(level, span.errorType), span.incompleteReason);
  } else {
    level = step(step(step(step(level, rpc.system), rpc.service), rpc.method), rpc.grpcStatusCode);
    level = step(step(level, span.status), span.errorType);
  }
  const last = client ? step(step(level, peer.service), http.host) : level;
  const leafKey = client ? peer.address : peer.service;
  let leaf = last.get(leafKey) as SpanSeries | undefined;
  if (leaf === undefined) {
    leaf = resolve(span, config);
    last.set(leafKey, leaf);
    index.leaves++;
  }
  return leaf;
}
