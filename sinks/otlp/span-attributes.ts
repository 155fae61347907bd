/**
 * A meshpipe Span's HTTP exchange (or gRPC call) as OpenTelemetry semantic-convention attributes
 * (https://opentelemetry.io/docs/specs/semconv/http/http-spans/, .../rpc/grpc/), plus meshpipe's own provenance
 * attributes under `meshpipe.*`: how the parent was found and why a span is incomplete, which a trace
 * viewer should show next to the span because they qualify what it says.
 *
 * Only stable HTTP semantic conventions are emitted (no old `http.method`/`http.status_code` duplicates).
 */
import type { Attributes } from '@opentelemetry/api';
import type { Span } from '../../schemas/types.ts';
import { workloadAttribute } from '../../schemas/workload-kind.ts';

/** `host[:port]` or `[v6]:port` from a Host header. */
export function splitHostHeader(host: string): { address: string; port: number | undefined } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(host.trim());
  if (m === null) return { address: host.trim(), port: undefined };
  const address = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return { address, port: m[2] === undefined ? undefined : Number(m[2]) };
}

function queryOf(target: string): string | undefined {
  const q = target.indexOf('?');
  if (q === -1) return undefined;
  const hash = target.indexOf('#', q);
  return target.slice(q + 1, hash === -1 ? undefined : hash);
}

/** Body sizes are Avro longs (BigInt); attribute values are numbers, exact below 2^53. */
function int(n: bigint): number {
  return Number(n);
}

/**
 * A gRPC call's attributes by the RPC semantic conventions
 * (https://opentelemetry.io/docs/specs/semconv/rpc/grpc/): rpc.* instead of the HTTP request's, which
 * describe the transport, not the call.
 */
function rpcAttributes(span: Span, rpc: NonNullable<Span['rpc']>): Attributes {
  const { http, local, peer } = span;
  const host = http.host === null ? undefined : splitHostHeader(http.host);
  const attributes: Attributes = {
    'rpc.system': rpc.system,
    'network.protocol.name': 'http',
    'network.protocol.version': http.protocolVersion,
    'network.peer.address': peer.address,
    'network.peer.port': peer.port,
  };
  if (rpc.service !== null) attributes['rpc.service'] = rpc.service;
  if (rpc.method !== null) attributes['rpc.method'] = rpc.method;
  if (rpc.grpcStatusCode !== null) attributes['rpc.grpc.status_code'] = rpc.grpcStatusCode;
  attributes['meshpipe.grpc.request_messages'] = rpc.requestMessages;
  attributes['meshpipe.grpc.response_messages'] = rpc.responseMessages;
  attributes['meshpipe.grpc.messages_exact'] = rpc.messagesExact;
  if (span.kind === 'SERVER') {
    attributes['server.address'] = host?.address ?? local.address;
    attributes['server.port'] = local.port;
    attributes['client.address'] = peer.address;
    attributes['client.port'] = peer.port;
  } else {
    attributes['server.address'] = host?.address ?? peer.address;
    attributes['server.port'] = peer.port;
    if (peer.service !== null) attributes['peer.service'] = peer.service;
  }
  if (http.userAgent !== null) attributes['user_agent.original'] = http.userAgent;
  return attributes;
}

export function spanAttributes(span: Span): Attributes {
  if (span.rpc !== null) return withCommon(span, rpcAttributes(span, span.rpc));
  const { http, local, peer } = span;
  const host = http.host === null ? undefined : splitHostHeader(http.host);
  const attributes: Attributes = {
    'http.request.method': http.method,
    // The capture sees cleartext HTTP (1.x, h2c) on the socket: TLS traffic is ciphertext there and never
    // becomes a span, so every exchange meshpipe reports was plain `http`.
    'url.scheme': 'http',
    'url.path': http.path,
    'network.protocol.version': http.protocolVersion,
    'network.peer.address': peer.address,
    'network.peer.port': peer.port,
  };
  const query = queryOf(http.target);
  if (query !== undefined) attributes['url.query'] = query;
  if (http.route !== null) attributes['http.route'] = http.route;
  if (http.statusCode !== null) attributes['http.response.status_code'] = http.statusCode;
  if (http.userAgent !== null) attributes['user_agent.original'] = http.userAgent;
  attributes['http.request.body.size'] = int(http.requestBodySize);
  attributes['http.response.body.size'] = int(http.responseBodySize);
  if (http.requestSize > 0n) attributes['http.request.size'] = int(http.requestSize);
  if (http.responseSize > 0n) attributes['http.response.size'] = int(http.responseSize);

  if (span.kind === 'SERVER') {
    // The server's own name for itself is what the client asked for (Host); the port is the one the
    // connection really reached.
    attributes['server.address'] = host?.address ?? local.address;
    attributes['server.port'] = local.port;
    attributes['client.address'] = peer.address;
    attributes['client.port'] = peer.port;
  } else {
    const address = host?.address ?? peer.address;
    attributes['server.address'] = address;
    attributes['server.port'] = peer.port;
    const authority = http.host ?? (peer.address.includes(':') ? `[${peer.address}]` : peer.address);
    attributes['url.full'] = `http://${authority}${http.host === null ? `:${peer.port}` : ''}${http.target}`;
    if (peer.service !== null) attributes['peer.service'] = peer.service;
  }
  return withCommon(span, attributes);
}

/** What every span carries besides its protocol's attributes: peer workload, thread, error, provenance, extras. */
function withCommon(span: Span, attributes: Attributes): Attributes {
  const { local, peer } = span;
  // The other end in Kubernetes terms (the collector's decorator, or the captured other side): the
  // k8s.* resource attributes of the peer, under `peer.` (OTel has no peer form of them).
  if (peer.namespace !== null) attributes['peer.k8s.namespace.name'] = peer.namespace;
  if (peer.pod !== null) attributes['peer.k8s.pod.name'] = peer.pod;
  const peerKind = workloadAttribute(peer.workloadKind);
  if (peer.workload !== null && peerKind !== null) attributes[`peer.${peerKind}`] = peer.workload;
  if (local.tid !== 0) attributes['thread.id'] = local.tid;
  if (span.errorType !== null) attributes['error.type'] = span.errorType;

  attributes['meshpipe.link.method'] = span.link.method;
  attributes['meshpipe.link.confidence'] = span.link.confidence;
  if (span.incomplete) attributes['meshpipe.incomplete.reason'] = span.incompleteReason ?? 'unknown';

  // Captured headers and the like: strings, under their own (semantic-convention) names. They cannot
  // override the attributes above, which describe what was measured.
  for (const [key, value] of Object.entries(span.attributes)) {
    if (!(key in attributes)) attributes[key] = value;
  }
  return attributes;
}
