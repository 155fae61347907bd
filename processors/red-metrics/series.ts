/**
 * What one span contributes to, as label sets: its route-level RED series and its service-graph edge.
 *
 * Route level (OpenTelemetry HTTP metrics, https://opentelemetry.io/docs/specs/semconv/http/http-metrics/):
 *   http.server.request.duration  SERVER spans   service.name, service.namespace, http.request.method,
 *   http.client.request.duration  CLIENT spans   http.route, http.response.status_code, error.type,
 *                                                peer.service (+ server.address on the client side),
 *                                                k8s.<kind>.name (the Kubernetes workload, when known)
 * Their `_count` is the request rate; `error.type` is set on errors only, so `{error_type!=""}` selects
 * them. Errors follow the conventions: a SERVER span errs with a 5xx or without a response; a CLIENT
 * span with a 4xx, a 5xx, or without a response (refused, reset, timed out: the reason is error.type).
 * The span kind is in the metric name, so it is not a label.
 *
 * Service graph (Grafana Tempo's metric names, so Grafana's node graph and service-graph views read
 * them unchanged; https://grafana.com/docs/tempo/latest/metrics-generator/service_graphs/): one edge per
 * (client, server) with the labels `client`, `server` and, for a node meshpipe did not capture,
 * `connection_type="virtual_node"`. Every span of a call is on the same partition (spans are keyed by
 * trace id) but pairing them would mean holding one until the other arrives, so each side adds what it
 * knows instead:
 *   CLIENT span → request total, failed total, client-side duration (server: the peer's service, or
 *                 the address it called when the peer is not known: a virtual node);
 *   SERVER span → server-side duration; and, when its caller is unknown (not captured), the request
 *                 and failed totals as well, from the `user` virtual node (Tempo's convention).
 * So every request is counted once, by the side that was captured first in the chain.
 */

import { seriesIdOf } from '../../runtime/metric-definition.ts';
import type { MetricType, Span } from '../../schemas/types.ts';
import { workloadAttribute } from '../../schemas/workload-kind.ts';
import type { RouteTemplater } from '../shared/route-template.ts';

export interface MetricInfo {
  name: string;
  type: MetricType;
  unit: string;
  description: string;
  /**
   * Durations are observed in seconds (one set of bucket bounds, DURATION_BOUNDS); a metric whose unit is
   * another multiplies its samples' bounds, sums and exemplar values by this (`ms`: 1000).
   */
  scale?: number;
}

export const RED_METRICS = {
  server: {
    name: 'http.server.request.duration',
    type: 'HISTOGRAM',
    unit: 's',
    description: 'Duration of HTTP server requests.',
  },
  client: {
    name: 'http.client.request.duration',
    type: 'HISTOGRAM',
    unit: 's',
    description: 'Duration of HTTP client requests.',
  },
  edgeRequests: {
    name: 'traces.service_graph.request',
    type: 'COUNTER',
    unit: '{request}',
    description: 'Total count of requests between two nodes.',
  },
  edgeFailed: {
    name: 'traces.service_graph.request.failed',
    type: 'COUNTER',
    unit: '{request}',
    description: 'Total count of failed requests between two nodes.',
  },
  edgeServer: {
    name: 'traces.service_graph.request.server',
    type: 'HISTOGRAM',
    unit: 's',
    description: 'Time for a request between two nodes as seen from the server.',
  },
  edgeClient: {
    name: 'traces.service_graph.request.client',
    type: 'HISTOGRAM',
    unit: 's',
    description: 'Time for a request between two nodes as seen from the client.',
  },
} as const satisfies Record<string, MetricInfo>;

/** The value of http.route (and server, for edges) in overflow series. */
export const OVERFLOW_VALUE = '__overflow__';
/** The OpenTelemetry SDK convention for the series that collects what exceeded a cardinality limit. */
export const OVERFLOW_ATTRIBUTE = 'otel.metric.overflow';

export type Labels = Record<string, string>;

/** A span's contribution to one route-level histogram. */
export interface RouteObservation {
  /** HTTP (`server`, `client`) or gRPC (`rpcServer`, `rpcClient`: rpc-series.ts). */
  kind: 'server' | 'client' | 'rpcServer' | 'rpcClient';
  /** The service whose cardinality budget the series counts against. */
  service: string;
  labels: Labels;
  /** Where the span goes when the budget is spent. */
  overflow: Labels;
  /** Where it goes when the partition's global budget (every service) is spent. */
  globalOverflow: Labels;
  seconds: number;
  error: boolean;
}

/** A span's contribution to one service-graph edge. */
export interface EdgeObservation {
  /** The client node: whose budget the edge counts against. */
  client: string;
  labels: Labels;
  overflow: Labels;
  globalOverflow: Labels;
  side: 'client' | 'server';
  /** Whether this span counts the request (and its failure) on the edge. */
  countsRequest: boolean;
  failed: boolean;
  seconds: number;
}

/** error.type per the HTTP conventions for the span's kind (gRPC: its status), or null for a success. */
export function errorTypeOf(span: Span): string | null {
  // gRPC: the span's status already applied the RPC rules (an error for the side that failed).
  if (span.rpc !== null) return span.status === 'ERROR' ? (span.errorType ?? '_OTHER') : null;
  const code = span.http.statusCode;
  if (code === null) return span.errorType ?? span.incompleteReason ?? '_OTHER';
  const threshold = span.kind === 'SERVER' ? 500 : 400;
  return code >= threshold ? String(code) : null;
}

/** server.address of a CLIENT span: the Host header without its port, else the address it connected to. */
export function serverAddressOf(span: Span): string {
  const host = span.http.host?.trim();
  if (host !== undefined && host !== '') {
    if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1) || host;
    const colon = host.lastIndexOf(':');
    return colon > 0 && /^\d+$/.test(host.slice(colon + 1)) ? host.slice(0, colon) : host;
  }
  return span.peer.address;
}

export function durationSeconds(span: Span): number {
  const ns = span.endTimeUnixNano - span.startTimeUnixNano;
  return ns > 0n ? Number(ns) / 1e9 : 0;
}

export function routeObservation(span: Span, templateRoute: RouteTemplater): RouteObservation {
  const kind = span.kind === 'SERVER' ? 'server' : 'client';
  const service = span.local.service;
  const errorType = errorTypeOf(span);
  const labels: Labels = { 'service.name': service };
  if (span.local.namespace !== null && span.local.namespace !== '')
    labels['service.namespace'] = span.local.namespace;
  // The workload in Kubernetes terms (k8s.deployment.name...): as bounded as the service name.
  const workloadLabel = workloadAttribute(span.local.workloadKind ?? null);
  if (workloadLabel !== null && span.local.workload !== null) labels[workloadLabel] = span.local.workload;
  labels['http.request.method'] = span.http.method;
  labels['http.route'] = span.http.route ?? templateRoute(span.http.path);
  if (span.http.statusCode !== null) labels['http.response.status_code'] = String(span.http.statusCode);
  if (errorType !== null) labels['error.type'] = errorType;
  if (span.peer.service !== null && span.peer.service !== '') labels['peer.service'] = span.peer.service;
  if (kind === 'client') labels['server.address'] = serverAddressOf(span);
  // The overflow series keeps what identifies the budget (the service) and, so that error ratios stay
  // right under a cardinality attack, whether the request failed (`_OTHER`: the conventions' fallback).
  const overflow: Labels = {
    'service.name': service,
    'http.route': OVERFLOW_VALUE,
    [OVERFLOW_ATTRIBUTE]: 'true',
  };
  if (errorType !== null) overflow['error.type'] = '_OTHER';
  // Past the global limit (many services: a service name falls back to the process name), one series.
  const globalOverflow: Labels = { ...overflow, 'service.name': OVERFLOW_VALUE };
  return {
    kind,
    service,
    labels,
    overflow,
    globalOverflow,
    seconds: durationSeconds(span),
    error: errorType !== null,
  };
}

export function edgeObservation(span: Span, unknownClient: string): EdgeObservation {
  const seconds = durationSeconds(span);
  const failed = errorTypeOf(span) !== null;
  const peer = span.peer.service !== null && span.peer.service !== '' ? span.peer.service : null;
  let client: string;
  let server: string;
  let virtual: boolean;
  let countsRequest: boolean;
  if (span.kind === 'CLIENT') {
    client = span.local.service;
    server = peer ?? serverAddressOf(span);
    virtual = peer === null;
    countsRequest = true;
  } else {
    client = peer ?? unknownClient;
    server = span.local.service;
    virtual = peer === null;
    countsRequest = peer === null;
  }
  const labels: Labels = { client, server };
  if (virtual) labels.connection_type = 'virtual_node';
  const overflow: Labels = { client, server: OVERFLOW_VALUE, [OVERFLOW_ATTRIBUTE]: 'true' };
  const globalOverflow: Labels = { ...overflow, client: OVERFLOW_VALUE };
  return {
    client,
    labels,
    overflow,
    globalOverflow,
    side: span.kind === 'CLIENT' ? 'client' : 'server',
    countsRequest,
    failed,
    seconds,
  };
}

/** The series id of a metric and label set (the metrics topic's key; the sink's identity of a series). */
export function seriesId(metric: MetricInfo, labels: Labels): string {
  return seriesIdOf(metric.name, labels);
}
