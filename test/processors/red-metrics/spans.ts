/**
 * Spans for red-metrics tests: a complete, valid Span from the few fields a metric depends on, with
 * deterministic ids, so tests state exactly what they count.
 */
import { createHash } from 'node:crypto';
import { grpcStatusName } from '../../../protocols/http2/grpc.ts';
import type { Span } from '../../../schemas/types.ts';

export interface SpanOptions {
  service: string;
  kind?: 'SERVER' | 'CLIENT';
  method?: string;
  /** The span's http.route; null leaves it to red-metrics to template `path`. */
  route?: string | null;
  path?: string;
  /** null: no response was seen. */
  status?: number | null;
  errorType?: string | null;
  /** The other end's service (null: unknown to meshpipe). */
  peer?: string | null;
  host?: string | null;
  durationMs: number;
  /** End time, ms since the epoch. */
  endMs: number;
  /** Makes ids unique and deterministic. */
  seq: number;
  namespace?: string | null;
  /** A gRPC call: its names and status code (null: none seen, e.g. a reset stream). */
  grpc?: { service: string; method: string; code: number | null };
}

const GRPC_SERVER_ERRORS = new Set([2, 4, 12, 13, 14, 15]);

function hex(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

export function makeSpan(o: SpanOptions): Span {
  const kind = o.kind ?? 'SERVER';
  const status = o.status === undefined ? 200 : o.status;
  const endNs = BigInt(Math.round(o.endMs * 1000)) * 1000n;
  const startNs = endNs - BigInt(Math.round(o.durationMs * 1e6));
  const path = o.path ?? (o.route ?? '/').replace(/\{id\}/g, String(o.seq));
  const grpc = o.grpc;
  const failed =
    grpc !== undefined
      ? grpc.code === null || (kind === 'SERVER' ? GRPC_SERVER_ERRORS.has(grpc.code) : grpc.code !== 0)
      : status === null || status >= (kind === 'SERVER' ? 500 : 400);
  return {
    traceId: hex(`trace-${o.seq}`, 32),
    spanId: hex(`span-${o.seq}-${kind}`, 16),
    parentSpanId: null,
    traceState: null,
    name:
      grpc !== undefined ? `${grpc.service}/${grpc.method}` : `${o.method ?? 'GET'} ${o.route ?? ''}`.trim(),
    kind,
    startTimeUnixNano: startNs,
    endTimeUnixNano: endNs,
    status: failed ? 'ERROR' : 'UNSET',
    statusMessage: null,
    local: {
      service: o.service,
      namespace: o.namespace ?? null,
      pod: o.service,
      workload: null,
      node: 'node-a',
      pid: 100,
      tid: 100,
      comm: 'node',
      exe: null,
      containerId: null,
      address: '10.240.0.2',
      port: kind === 'SERVER' ? 8080 : 40000,
      podUid: null,
      container: null,
      workloadKind: null,
    },
    peer: {
      service: o.peer ?? null,
      pod: o.peer ?? null,
      namespace: null,
      address: '10.240.0.3',
      port: kind === 'SERVER' ? 40000 : 8080,
      workload: null,
      workloadKind: null,
    },
    http: {
      method: o.method ?? 'GET',
      target: path,
      path,
      route: o.route === undefined ? null : o.route,
      protocolVersion: '1.1',
      statusCode: status,
      requestBodySize: 0n,
      responseBodySize: 0n,
      requestSize: 0n,
      responseSize: 0n,
      host: o.host === undefined ? (kind === 'CLIENT' ? `${o.peer ?? 'upstream'}:8080` : null) : o.host,
      userAgent: null,
    },
    errorType:
      o.errorType !== undefined
        ? o.errorType
        : grpc !== undefined
          ? failed
            ? grpcStatusName(grpc.code ?? 2)
            : null
          : status === null
            ? 'connection_closed'
            : failed
              ? String(status)
              : null,
    incomplete: status === null,
    incompleteReason: status === null ? 'connection_closed' : null,
    link: { method: 'NONE', confidence: 0 },
    connectionKey: '10.240.0.2:40000|10.240.0.3:8080',
    attributes: {},
    rpc:
      grpc === undefined
        ? null
        : {
            system: 'grpc',
            service: grpc.service,
            method: grpc.method,
            grpcStatusCode: grpc.code,
            requestMessages: 1,
            responseMessages: 1,
            messagesExact: true,
          },
  };
}
