/**
 * Which series a span counts in, worked out once per distinct set of the span fields that decide it,
 * not once per span. series.ts says how a span becomes label sets; turning label sets into series (a
 * sorted label string, a SHA-256 series id, the overflow series, the budget key) costs far more than
 * counting the span, and a partition sees the same few hundred combinations over and over. So the
 * answer is kept in a tree of Maps keyed by the raw fields themselves (no key string is built per span),
 * one level per field that series.ts reads:
 *
 *   kind → service → namespace → method → route (or, without one, the path to template) → status code
 *   → [no status code: error type → incomplete reason] → peer service → [CLIENT: host → peer address]
 *
 * A leaf holds both series of the span (its route's and its edge's). Everything here is derived from the
 * fields and the config, never from state: it is a cache, and forgetting it changes no result. It is
 * bounded (MAX_LEAVES; dropped whole when reached, as a stream of unique paths could otherwise grow it).
 */
import type { Span } from '../../schemas/types.ts';
import { seriesIdOf } from '../runtime/processor-metrics.ts';
import { compileRouteTemplater } from '../shared/route-template.ts';
import type { RedMetricsConfig } from './config.ts';
import {
  type EdgeObservation,
  edgeObservation,
  RED_METRICS,
  type RouteObservation,
  routeObservation,
} from './series.ts';
import type { Labels } from './state.ts';

const EDGE_ID_NAME = 'traces.service_graph';
/** Overflow series outside the budget: two for routes (success, error), one for edges. */
const ROUTE_OVERFLOW_SLOTS = 2;
const EDGE_OVERFLOW_SLOTS = 1;
const MAX_LEAVES = 65_536;

/** A series a span counts in, and where it goes instead when its owner's budget is spent. */
export interface SeriesRef {
  /** State key of the series: `r:` or `e:` and the series id. */
  key: string;
  labels: Labels;
  /** Key of the owner's budget (state.ts), and how many series of the budget overflow keeps back. */
  budget: string;
  reserved: number;
  overflowKey: string;
  overflowLabels: Labels;
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
  server: Level;
  client: Level;
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
  prefix: string,
  idName: string,
  budget: string,
  reserved: number,
  labels: Labels,
  overflow: Labels,
) {
  return {
    key: `${prefix}${seriesIdOf(idName, labels)}`,
    labels: Object.freeze(labels),
    budget,
    reserved,
    overflowKey: `${prefix}${seriesIdOf(idName, overflow)}`,
    overflowLabels: Object.freeze(overflow),
  };
}

/** The series of a span, as series.ts defines them, with their keys. */
function resolve(span: Span, config: RedMetricsConfig): SpanSeries {
  const route = routeObservation(span, templaterFor(config));
  const edge = edgeObservation(span, config.unknownClient);
  return {
    route: {
      ...ref(
        'r:',
        RED_METRICS[route.kind].name,
        `b:${route.kind}:${route.service}`,
        ROUTE_OVERFLOW_SLOTS,
        route.labels,
        route.overflow,
      ),
      kind: route.kind,
    },
    edge: {
      ...ref('e:', EDGE_ID_NAME, `b:edge:${edge.client}`, EDGE_OVERFLOW_SLOTS, edge.labels, edge.overflow),
      side: edge.side,
      countsRequest: edge.countsRequest,
      failed: edge.failed,
    },
  };
}

const templaters = new WeakMap<RedMetricsConfig, ReturnType<typeof compileRouteTemplater>>();
function templaterFor(config: RedMetricsConfig) {
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
    index = { server: new Map(), client: new Map(), leaves: 0 };
    indexes.set(config, index);
  }
  const client = span.kind !== 'SERVER';
  const { local, http, peer } = span;
  let level = step(
    step(step(client ? index.client : index.server, local.service), local.namespace),
    http.method,
  );
  // A route is used as it is; a path is templated (so the path itself decides, with a separate level).
  level = http.route !== null ? step(level, http.route) : step(step(level, null), http.path);
  level = step(level, http.statusCode);
  if (http.statusCode === null) level = step(step(level, span.errorType), span.incompleteReason);
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
