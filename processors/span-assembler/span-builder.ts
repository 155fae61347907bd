/**
 * One side of one HTTP exchange → a Span, following the OpenTelemetry HTTP semantic conventions
 * (https://opentelemetry.io/docs/specs/semconv/http/http-spans/): the name, `http.request.method`
 * with `_OTHER` for methods outside the known set, the status rules for server and client spans, and
 * `error.type`. Linking fields (trace id, parent, link) are filled by the caller and the trace linker.
 */
import {
  type ExchangeIncompleteReason,
  HTTP1_METHODS,
  type Http1Exchange,
  type Http1Message,
  headerValue,
  type MessageIncompleteReason,
} from '../../protocols/http1/index.ts';
import type { Span, SpanKind, SpanStatus } from '../../schemas/types.ts';
import type { RouteTemplater } from '../shared/route-template.ts';
import type { SideState } from './state.ts';

const KNOWN_METHODS: ReadonlySet<string> = new Set(HTTP1_METHODS);

/** The span's `incompleteReason` for an exchange-level reason (snake_case, stable: counter labels). */
const EXCHANGE_REASON: Record<ExchangeIncompleteReason, string | null> = {
  'orphan-response': 'no_request',
  'connection-closed': 'connection_closed',
  timeout: 'timeout',
  'response-lost': 'response_lost',
  // These two take the reason of the message that is incomplete.
  'request-incomplete': null,
  'response-incomplete': null,
};

const MESSAGE_REASON: Record<MessageIncompleteReason, string> = {
  'truncated-head': 'truncated',
  interrupted: 'interrupted',
  'unknown-bytes': 'unknown_bytes',
  'connection-closed': 'connection_closed',
  timeout: 'timeout',
};

/** Why the exchange is incomplete, as the span says it; null for a complete exchange. */
export function incompleteReasonOf(x: Http1Exchange): string | null {
  if (x.complete || x.incompleteReason === undefined) return null;
  const direct = EXCHANGE_REASON[x.incompleteReason];
  if (direct !== null) return direct;
  const m: Http1Message | undefined = x.incompleteReason === 'request-incomplete' ? x.request : x.response;
  return m?.incompleteReason === undefined ? 'truncated' : MESSAGE_REASON[m.incompleteReason];
}

/** Reasons that mean the other end never answered, as opposed to meshpipe not seeing the answer. */
const NO_ANSWER = new Set(['timeout', 'connection_closed']);

export interface PeerIdentity {
  service: string | null;
  pod: string | null;
  namespace: string | null;
  workload: string | null;
  workloadKind: string | null;
}

export interface SpanIdentity {
  spanId: string;
  kind: SpanKind;
  tid: number;
}

/** The local endpoint of a side (the OTLP Resource of its spans). */
export function localEndpoint(side: SideState, tid: number): Span['local'] {
  return {
    service: side.service,
    namespace: side.namespace,
    pod: side.pod,
    workload: side.workload,
    node: side.node,
    pid: side.pid,
    tid,
    comm: side.comm,
    exe: side.exe,
    containerId: side.containerId,
    address: side.localAddress,
    port: side.localPort,
    // `?? null`: sides restored from state written before these fields existed.
    podUid: side.podUid ?? null,
    container: side.container ?? null,
    workloadKind: side.workloadKind ?? null,
  };
}

/**
 * The other end: its own capture when the caller has it (`peer`), else what the collector's Kubernetes
 * decorator knew from the peer address (a pod, or a Service's ClusterIP), else just the address.
 */
export function peerEndpoint(side: SideState, peer: PeerIdentity | null): Span['peer'] {
  const known = peer ?? side.peerWorkload ?? null;
  return {
    service: known?.service ?? null,
    pod: known?.pod ?? null,
    namespace: known?.namespace ?? null,
    address: side.peerAddress,
    port: side.peerPort,
    workload: known?.workload ?? null,
    workloadKind: known?.workloadKind ?? null,
  };
}

/** `{method}` per the conventions: the method itself when known, `HTTP` otherwise. */
function nameMethod(method: string): string {
  return method === '_OTHER' ? 'HTTP' : method;
}

export function spanName(method: string, route: string | null): string {
  return route === null ? nameMethod(method) : `${nameMethod(method)} ${route}`;
}

/**
 * Builds the span of one exchange. `connectionKey` is the raw record key; `templater` makes http.route.
 * Server spans are ERROR for 5xx; client spans for 4xx and 5xx, and when no response came. Both are
 * ERROR when the peer demonstrably never answered (timeout, connection closed); when only meshpipe
 * missed the answer (events lost), a server span stays UNSET and is marked incomplete.
 */
export function buildExchangeSpan(
  x: Http1Exchange,
  side: SideState,
  id: SpanIdentity,
  connectionKey: string,
  templater: RouteTemplater,
  peer: PeerIdentity | null,
): Span {
  const req = x.request?.head;
  const res = x.response?.head;
  const attributes: Record<string, string> = {};
  let method = '_OTHER';
  if (req?.method != null) {
    method = KNOWN_METHODS.has(req.method) ? req.method : '_OTHER';
    if (method === '_OTHER') attributes['http.request.method_original'] = req.method;
  }
  const target = req?.target ?? '';
  // Authority-form (CONNECT) and a missing request have no path, so no route either.
  const path = req?.path ?? null;
  const route = path === null ? null : templater(path);
  const statusCode = res?.statusCode ?? null;
  const reason = incompleteReasonOf(x);

  let status: SpanStatus = 'UNSET';
  let errorType: string | null = null;
  let statusMessage: string | null = null;
  if (statusCode !== null && (statusCode >= 500 || (id.kind === 'CLIENT' && statusCode >= 400))) {
    status = 'ERROR';
    errorType = String(statusCode);
  } else if (x.response === undefined && reason !== null && reason !== 'no_request') {
    if (id.kind === 'CLIENT' || NO_ANSWER.has(reason)) {
      status = 'ERROR';
      errorType = reason;
      statusMessage = `no response: ${reason.replace('_', ' ')}`;
    }
  }

  if (x.interim.length > 0) {
    attributes['meshpipe.http.interim_status_codes'] = x.interim.map((m) => m.head.statusCode).join(',');
  }
  if (statusCode === 101 && res?.upgrade != null) attributes['meshpipe.http.upgrade'] = res.upgrade;
  if (side.roleInferred) attributes['meshpipe.role_inferred'] = 'true';
  if (x.request?.resync === true || x.response?.resync === true)
    attributes['meshpipe.capture.resync'] = 'true';

  const request = x.request;
  const response = x.response;
  return {
    traceId: '',
    spanId: id.spanId,
    parentSpanId: null,
    traceState: null,
    name: spanName(method, route),
    kind: id.kind,
    startTimeUnixNano: x.startNs,
    endTimeUnixNano: x.endNs,
    status,
    statusMessage,
    local: localEndpoint(side, id.tid),
    peer: peerEndpoint(side, peer),
    http: {
      method,
      target,
      path: path ?? target,
      route,
      protocolVersion: (req ?? res)?.version ?? '1.1',
      statusCode,
      requestBodySize: BigInt(request?.bodyBytes ?? 0),
      responseBodySize: BigInt(response?.bodyBytes ?? 0),
      requestSize: BigInt(request?.wireBytes ?? 0),
      responseSize: BigInt(response?.wireBytes ?? 0),
      host: req === undefined ? null : (headerValue(req, 'host') ?? null),
      userAgent: req === undefined ? null : (headerValue(req, 'user-agent') ?? null),
    },
    errorType,
    incomplete: reason !== null,
    incompleteReason: reason,
    link: { method: 'NONE', confidence: 0 },
    connectionKey,
    attributes,
    rpc: null,
  };
}

/** The CLIENT span of a connect() that failed: no request was ever sent. */
export function buildConnectFailedSpan(
  side: SideState,
  spanId: string,
  tid: number,
  atNs: bigint,
  errorType: string,
  errno: number | null,
  connectionKey: string,
): Span {
  return {
    traceId: '',
    spanId,
    parentSpanId: null,
    traceState: null,
    name: 'HTTP',
    kind: 'CLIENT',
    startTimeUnixNano: atNs,
    endTimeUnixNano: atNs,
    status: 'ERROR',
    statusMessage: `connect() failed: ${errorType}${errno === null ? '' : ` (errno ${Math.abs(errno)})`}`,
    local: localEndpoint(side, tid),
    peer: peerEndpoint(side, null),
    http: {
      method: '_OTHER',
      target: '',
      path: '',
      route: null,
      protocolVersion: '1.1',
      statusCode: null,
      requestBodySize: 0n,
      responseBodySize: 0n,
      requestSize: 0n,
      responseSize: 0n,
      host: null,
      userAgent: null,
    },
    errorType,
    incomplete: true,
    incompleteReason: 'connect_failed',
    link: { method: 'NONE', confidence: 0 },
    connectionKey,
    attributes: {},
    rpc: null,
  };
}
