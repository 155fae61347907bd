import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { isMeshpipeError } from '../../../lib/errors.ts';
import type { Span } from '../../../schemas/types.ts';
import { toHrTime, toReadableSpan } from '../../../sinks/otlp/readable-span.ts';
import { ResourceCache } from '../../../sinks/otlp/resources.ts';
import { splitHostHeader } from '../../../sinks/otlp/span-attributes.ts';
import { EXACT_NS, SPAN } from '../../helpers/fixtures.ts';

const CLIENT_SPAN: Span = {
  ...SPAN,
  spanId: '1111111111111111',
  kind: 'CLIENT',
  name: 'GET',
  status: 'ERROR',
  statusMessage: 'no response',
  local: { ...SPAN.local, service: 'gateway', pod: 'gateway', pid: 200, address: '10.200.0.1', port: 51234 },
  peer: { service: 'orders', pod: 'orders', namespace: null, address: '10.200.0.2', port: 8080 },
  http: { ...SPAN.http, host: null, statusCode: null, target: '/users/42?verbose=1', route: null },
  errorType: 'timeout',
  incomplete: true,
  incompleteReason: 'timeout',
  link: { method: 'PROCESS_CAUSALITY', confidence: 0.75 },
};

describe('toReadableSpan', () => {
  it('keeps nanosecond timestamps exact (above 2^53)', () => {
    assert.deepEqual(toHrTime(EXACT_NS), [1_796_000_000, 123_456_789]);
    const span = toReadableSpan(SPAN, new ResourceCache());
    const back = (t: readonly [number, number]) => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);
    assert.equal(back(span.startTime), SPAN.startTimeUnixNano);
    assert.equal(back(span.endTime), SPAN.endTimeUnixNano);
    assert.equal(back(span.duration), SPAN.endTimeUnixNano - SPAN.startTimeUnixNano);
  });

  it('maps a SERVER span: ids, kind, status, semantic-convention attributes', () => {
    const span = toReadableSpan({ ...SPAN, parentSpanId: CLIENT_SPAN.spanId }, new ResourceCache());
    assert.equal(span.kind, SpanKind.SERVER);
    assert.equal(span.spanContext().traceId, SPAN.traceId);
    assert.equal(span.spanContext().spanId, SPAN.spanId);
    assert.equal(span.parentSpanContext?.spanId, CLIENT_SPAN.spanId);
    assert.equal(span.parentSpanContext?.isRemote, true, "a server span's parent is in the calling process");
    assert.deepEqual(span.status, { code: SpanStatusCode.UNSET });
    assert.deepEqual(span.attributes, {
      'http.request.method': 'GET',
      'url.scheme': 'http',
      'url.path': '/users/42',
      'network.protocol.version': '1.1',
      'network.peer.address': '10.200.0.1',
      'network.peer.port': 51234,
      'http.route': '/users/{id}',
      'http.response.status_code': 200,
      'user_agent.original': 'curl/7.88.1',
      'http.request.body.size': 0,
      'http.response.body.size': 512,
      'http.request.size': 78,
      'http.response.size': 600,
      'server.address': 'orders',
      'server.port': 8080,
      'client.address': '10.200.0.1',
      'client.port': 51234,
      'thread.id': 101,
      'meshpipe.link.method': 'NONE',
      'meshpipe.link.confidence': 0,
    });
  });

  it('maps a CLIENT span: url.full, peer.service, error status and meshpipe provenance', () => {
    const span = toReadableSpan({ ...CLIENT_SPAN, parentSpanId: '2222222222222222' }, new ResourceCache());
    assert.equal(span.kind, SpanKind.CLIENT);
    assert.equal(span.parentSpanContext?.isRemote, false, "a client span's parent is in its own process");
    assert.deepEqual(span.status, { code: SpanStatusCode.ERROR, message: 'no response' });
    const a = span.attributes;
    assert.equal(a['url.full'], 'http://10.200.0.2:8080/users/42?verbose=1');
    assert.equal(a['url.query'], 'verbose=1');
    assert.equal(a['server.address'], '10.200.0.2');
    assert.equal(a['server.port'], 8080);
    assert.equal(a['peer.service'], 'orders');
    assert.equal(a['error.type'], 'timeout');
    assert.equal(a['http.response.status_code'], undefined);
    assert.equal(a['client.address'], undefined);
    assert.equal(a['meshpipe.link.method'], 'PROCESS_CAUSALITY');
    assert.equal(a['meshpipe.link.confidence'], 0.75);
    assert.equal(a['meshpipe.incomplete.reason'], 'timeout');
  });

  it('maps a gRPC call by the RPC conventions: rpc.* attributes, not the HTTP request', () => {
    const grpc: Span = {
      ...CLIENT_SPAN,
      name: 'inventory.v1.Inventory/Reserve',
      status: 'ERROR',
      statusMessage: 'no such sku',
      http: {
        ...SPAN.http,
        method: 'POST',
        target: '/inventory.v1.Inventory/Reserve',
        protocolVersion: '2',
        host: 'inventory:9090',
      },
      errorType: 'NOT_FOUND',
      incomplete: false,
      incompleteReason: null,
      link: { method: 'NONE', confidence: 0 },
      attributes: { 'meshpipe.h2.stream_id': '7' },
      rpc: {
        system: 'grpc',
        service: 'inventory.v1.Inventory',
        method: 'Reserve',
        grpcStatusCode: 5,
        requestMessages: 1,
        responseMessages: 0,
        messagesExact: true,
      },
    };
    const span = toReadableSpan(grpc, new ResourceCache());
    assert.equal(span.name, 'inventory.v1.Inventory/Reserve');
    assert.equal(span.kind, SpanKind.CLIENT);
    assert.deepEqual(span.status, { code: SpanStatusCode.ERROR, message: 'no such sku' });
    assert.deepEqual(span.attributes, {
      'rpc.system': 'grpc',
      'network.protocol.name': 'http',
      'network.protocol.version': '2',
      'network.peer.address': '10.200.0.2',
      'network.peer.port': 8080,
      'rpc.service': 'inventory.v1.Inventory',
      'rpc.method': 'Reserve',
      'rpc.grpc.status_code': 5,
      'meshpipe.grpc.request_messages': 1,
      'meshpipe.grpc.response_messages': 0,
      'meshpipe.grpc.messages_exact': true,
      'server.address': 'inventory',
      'server.port': 8080,
      'peer.service': 'orders',
      'user_agent.original': 'curl/7.88.1',
      'thread.id': SPAN.local.tid,
      'error.type': 'NOT_FOUND',
      'meshpipe.link.method': 'NONE',
      'meshpipe.link.confidence': 0,
      'meshpipe.h2.stream_id': '7',
    });
  });

  it('passes captured attributes through without letting them override measured ones', () => {
    const span = toReadableSpan(
      { ...SPAN, attributes: { 'http.request.header.x-tenant': 'acme', 'http.request.method': 'FORGED' } },
      new ResourceCache(),
    );
    assert.equal(span.attributes['http.request.header.x-tenant'], 'acme');
    assert.equal(span.attributes['http.request.method'], 'GET');
  });

  it('gives spans of one process the same Resource object, and other processes their own', () => {
    const cache = new ResourceCache();
    const a = toReadableSpan(SPAN, cache);
    const b = toReadableSpan({ ...SPAN, spanId: '3333333333333333' }, cache);
    const c = toReadableSpan(CLIENT_SPAN, cache);
    assert.equal(a.resource, b.resource);
    assert.notEqual(a.resource, c.resource);
    assert.deepEqual(a.resource.attributes, {
      'service.name': 'orders',
      'host.name': 'node-a',
      'process.pid': 100,
      'process.command': 'node',
      'k8s.pod.name': 'orders',
    });
    const full = toReadableSpan(
      {
        ...SPAN,
        local: { ...SPAN.local, namespace: 'shop', exe: '/usr/bin/node', containerId: 'abc123' },
      },
      cache,
    );
    assert.equal(full.resource.attributes['service.namespace'], 'shop');
    assert.equal(full.resource.attributes['process.executable.path'], '/usr/bin/node');
    assert.equal(full.resource.attributes['container.id'], 'abc123');
  });

  it('rejects spans no receiver could accept with OTLP_INVALID_SPAN', () => {
    const cases: Array<[string, Partial<Span>]> = [
      ['short trace id', { traceId: 'abc' }],
      ['upper-case trace id', { traceId: SPAN.traceId.toUpperCase() }],
      ['all-zero trace id', { traceId: '0'.repeat(32) }],
      ['all-zero span id', { spanId: '0'.repeat(16) }],
      ['bad parent id', { parentSpanId: 'xyz' }],
    ];
    for (const [what, change] of cases) {
      assert.throws(
        () => toReadableSpan({ ...SPAN, ...change }, new ResourceCache()),
        (err) => isMeshpipeError(err, 'OTLP_INVALID_SPAN'),
        what,
      );
    }
  });
});

describe('splitHostHeader', () => {
  const cases: Array<[string, string, number | undefined]> = [
    ['orders', 'orders', undefined],
    ['orders:8080', 'orders', 8080],
    ['[::1]:8443', '::1', 8443],
    ['[fe80::1]', 'fe80::1', undefined],
  ];
  for (const [header, address, port] of cases) {
    it(`${header} → ${address} ${port ?? ''}`, () => {
      assert.deepEqual(splitHostHeader(header), { address, port });
    });
  }
});
