/**
 * One side of one HTTP/2 exchange → a Span. Plain HTTP/2 follows the HTTP semantic conventions as
 * HTTP/1.x does (span-builder.ts), with `network.protocol.version` 2. A gRPC call (content-type
 * application/grpc*) follows the RPC conventions
 * (https://opentelemetry.io/docs/specs/semconv/rpc/grpc/): the name is `{rpc.service}/{rpc.method}`,
 * `rpc` carries system, service, method and `rpc.grpc.status_code`, and the status is the gRPC rule —
 * a SERVER span errs on UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and
 * DATA_LOSS (the server failed), a CLIENT span on any code but OK. Either way a reset stream is an
 * error named by its HTTP/2 error code (`CANCEL`, `REFUSED_STREAM`...): the call did not end normally.
 */
import { HTTP1_METHODS } from '../../protocols/http1/index.ts';
import {
  fieldValue,
  GRPC_SERVER_ERROR_CODES,
  grpcStatusName,
  type Http2Exchange,
  type Http2ExchangeIncompleteReason,
  http2ErrorName,
} from '../../protocols/http2/index.ts';
import type { Span, SpanStatus } from '../../schemas/types.ts';
import type { RouteTemplater } from '../shared/route-template.ts';
import { localEndpoint, peerEndpoint, type SpanIdentity, spanName } from './span-builder.ts';
import type { SideState } from './state.ts';

const KNOWN_METHODS: ReadonlySet<string> = new Set(HTTP1_METHODS);

/**
 * The span's `incompleteReason`: meshpipe did not see the exchange whole. A reset stream and a stream
 * GOAWAY left unprocessed ended that way for real: errors, not incomplete.
 */
const INCOMPLETE: Record<Http2ExchangeIncompleteReason, string | null> = {
  'connection-closed': 'connection_closed',
  timeout: 'timeout',
  'orphan-response': 'no_request',
  gap: 'capture_gap',
  reset: null,
  goaway: null,
};

/** Reasons that mean the other end never answered, as opposed to meshpipe not seeing the answer. */
const NO_ANSWER = new Set(['timeout', 'connection_closed']);

function pathOnly(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}

export function buildHttp2Span(
  x: Http2Exchange,
  side: SideState,
  id: SpanIdentity,
  connectionKey: string,
  templater: RouteTemplater,
): Span {
  const attributes: Record<string, string> = { 'meshpipe.h2.stream_id': String(x.streamId) };
  let method = '_OTHER';
  if (x.method !== null) {
    method = KNOWN_METHODS.has(x.method) ? x.method : '_OTHER';
    if (method === '_OTHER') attributes['http.request.method_original'] = x.method;
  }
  const target = x.path ?? '';
  const path = x.path === null ? null : pathOnly(target);
  const grpc = x.grpc;
  const route = grpc !== null || path === null ? null : templater(path);
  const reason = x.complete || x.incompleteReason === undefined ? null : INCOMPLETE[x.incompleteReason];

  let status: SpanStatus = 'UNSET';
  let errorType: string | null = null;
  let statusMessage: string | null = null;
  const fail = (type: string, message: string | null) => {
    status = 'ERROR';
    errorType = type;
    statusMessage = message;
  };
  const grpcCode = grpc?.statusCode ?? null;
  if (x.reset !== undefined) {
    const name = http2ErrorName(x.reset.errorCode);
    fail(name, `stream reset by the ${x.reset.by}: ${name} (0x${x.reset.errorCode.toString(16)})`);
  } else if (x.incompleteReason === 'goaway') {
    fail('goaway', 'the server went away (GOAWAY) without processing the stream');
  } else if (grpcCode !== null) {
    if (id.kind === 'CLIENT' ? grpcCode !== 0 : GRPC_SERVER_ERROR_CODES.has(grpcCode))
      fail(grpcStatusName(grpcCode), grpc?.message ?? null);
  } else if (x.status !== null && (x.status >= 500 || (id.kind === 'CLIENT' && x.status >= 400))) {
    // Plain HTTP/2, or a gRPC call answered by something that is not a gRPC server (a proxy's 503).
    fail(String(x.status), null);
  } else if (reason !== null && reason !== 'no_request' && (grpc !== null || x.status === null)) {
    // No final answer seen: as for HTTP/1.x, the client's call failed; the server's only if the peer
    // demonstrably went silent (not when meshpipe missed the answer).
    if (id.kind === 'CLIENT' || NO_ANSWER.has(reason))
      fail(reason, `no response: ${reason.replace('_', ' ')}`);
  }

  if (side.roleInferred) attributes['meshpipe.role_inferred'] = 'true';
  const unresolved = (x.request?.unresolved ?? 0) + (x.response?.unresolved ?? 0);
  if (unresolved > 0) attributes['meshpipe.capture.unresolved_header_fields'] = String(unresolved);
  const lost = (x.request?.blocksLost ?? 0) + (x.response?.blocksLost ?? 0);
  if (lost > 0) attributes['meshpipe.capture.header_blocks_lost'] = String(lost);
  const informational = x.response?.informational ?? [];
  if (informational.length > 0) {
    attributes['meshpipe.http.interim_status_codes'] = informational
      .map((f) => fieldValue(f, ':status'))
      .join(',');
  }

  const request = x.request;
  const response = x.response;
  const requestBody = BigInt(request?.dataBytes ?? 0);
  const responseBody = BigInt(response?.dataBytes ?? 0);
  return {
    traceId: '',
    spanId: id.spanId,
    parentSpanId: null,
    traceState: null,
    name:
      grpc !== null && grpc.service !== null && grpc.method !== null
        ? `${grpc.service}/${grpc.method}`
        : spanName(method, route),
    kind: id.kind,
    startTimeUnixNano: x.startNs,
    endTimeUnixNano: x.endNs,
    status,
    statusMessage,
    local: localEndpoint(side, id.tid),
    peer: peerEndpoint(side, null),
    http: {
      method,
      target,
      path: path ?? target,
      route,
      protocolVersion: '2',
      statusCode: x.status,
      requestBodySize: requestBody,
      responseBodySize: responseBody,
      // Header blocks are decoded on the node; their wire size does not travel.
      requestSize: 0n,
      responseSize: 0n,
      host: x.authority,
      userAgent: fieldValue(request?.headers ?? null, 'user-agent'),
    },
    errorType,
    incomplete: reason !== null,
    incompleteReason: reason,
    link: { method: 'NONE', confidence: 0 },
    connectionKey,
    attributes,
    rpc:
      grpc === null
        ? null
        : {
            system: 'grpc',
            service: grpc.service,
            method: grpc.method,
            grpcStatusCode: grpcCode,
            requestMessages: grpc.requestMessages,
            responseMessages: grpc.responseMessages,
            messagesExact: grpc.messagesExact,
          },
  };
}
