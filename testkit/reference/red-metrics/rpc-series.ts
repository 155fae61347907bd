/**
 * What a gRPC span contributes to (the RPC counterpart of series.ts's route level), by the OpenTelemetry
 * RPC metric conventions (https://opentelemetry.io/docs/specs/semconv/rpc/rpc-metrics/):
 *   rpc.server.duration  SERVER spans   service.name, service.namespace, rpc.system, rpc.service,
 *   rpc.client.duration  CLIENT spans   rpc.method, rpc.grpc.status_code, error.type, peer.service
 *                                       (+ server.address on the client side)
 * in milliseconds, as those conventions define them (Prometheus: `rpc_server_duration_milliseconds`).
 * `_count` is the call rate, `error.type` (the status name, or a reset's HTTP/2 error code) marks the
 * calls that failed by the gRPC rules the span's status already applied: a server fails on UNKNOWN,
 * DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and DATA_LOSS, a client on any code but OK.
 * Service-graph edges take gRPC spans as they take HTTP ones (series.ts).
 */
import type { Span } from '../../../schemas/types.ts';
import {
  durationSeconds,
  errorTypeOf,
  type Labels,
  type MetricInfo,
  OVERFLOW_ATTRIBUTE,
  OVERFLOW_VALUE,
  type RouteObservation,
  serverAddressOf,
} from './series.ts';

export const RPC_METRICS = {
  rpcServer: {
    name: 'rpc.server.duration',
    type: 'HISTOGRAM',
    unit: 'ms',
    description: 'Measures the duration of inbound RPC.',
    scale: 1000,
  },
  rpcClient: {
    name: 'rpc.client.duration',
    type: 'HISTOGRAM',
    unit: 'ms',
    description: 'Measures the duration of outbound RPC.',
    scale: 1000,
  },
} as const satisfies Record<RpcKind, MetricInfo>;

/** The route-level kinds this file observes (series.ts names them, so it needs no import from here). */
export type RpcKind = Extract<RouteObservation['kind'], 'rpcServer' | 'rpcClient'>;

export function rpcObservation(span: Span): RouteObservation {
  const rpc = span.rpc!;
  const kind: RpcKind = span.kind === 'SERVER' ? 'rpcServer' : 'rpcClient';
  const service = span.local.service;
  const errorType = errorTypeOf(span);
  const labels: Labels = { 'service.name': service };
  if (span.local.namespace !== null && span.local.namespace !== '')
    labels['service.namespace'] = span.local.namespace;
  labels['rpc.system'] = rpc.system;
  // A path that is not /service/method (not a well-formed call) still gets a series, without names.
  labels['rpc.service'] = rpc.service ?? '';
  labels['rpc.method'] = rpc.method ?? '';
  if (rpc.grpcStatusCode !== null) labels['rpc.grpc.status_code'] = String(rpc.grpcStatusCode);
  if (errorType !== null) labels['error.type'] = errorType;
  if (span.peer.service !== null && span.peer.service !== '') labels['peer.service'] = span.peer.service;
  if (kind === 'rpcClient') labels['server.address'] = serverAddressOf(span);
  const overflow: Labels = {
    'service.name': service,
    'rpc.method': OVERFLOW_VALUE,
    [OVERFLOW_ATTRIBUTE]: 'true',
  };
  if (errorType !== null) overflow['error.type'] = '_OTHER';
  // Past the global limit (many services), one series, as for HTTP (series.ts).
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
