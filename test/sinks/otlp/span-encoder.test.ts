/**
 * A meshpipe span as the OTLP Span message the sink sends, decoded with the official .proto files:
 * ids, kinds, the remote-parent flags, status, exact timestamps, semantic-convention attributes, and
 * one resource per process. The byte-for-byte comparison with the OpenTelemetry SDK's serializer is in
 * span-serializer.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMeshpipeError } from '../../../lib/errors.ts';
import type { Span } from '../../../schemas/types.ts';
import { ResourceCache } from '../../../sinks/otlp/resources.ts';
import { splitHostHeader } from '../../../sinks/otlp/span-attributes.ts';
import { type EncodedSpan, SpanEncoder } from '../../../sinks/otlp/span-encoder.ts';
import { serializeSpans } from '../../../sinks/otlp/span-serializer.ts';
import { EXACT_NS, SPAN } from '../../../testkit/fixtures.ts';
import { decodeExportRequest, type ReceivedSpan } from '../../../testkit/otlp-receiver.ts';
import { CLIENT_SPAN } from '../../../testkit/span-traffic.ts';

/** What a receiver decodes from these spans, sent as one request. */
function received(spans: readonly EncodedSpan[]): ReceivedSpan[] {
  return decodeExportRequest(serializeSpans(spans)).request.resourceSpans.flatMap((rs) => rs.spans);
}

function one(span: Span, resources = new ResourceCache()): ReceivedSpan {
  return received([new SpanEncoder(resources).encode(span)])[0]!;
}

describe('SpanEncoder', () => {
  it('keeps nanosecond timestamps exact (above 2^53)', () => {
    const span = one({ ...SPAN, startTimeUnixNano: EXACT_NS, endTimeUnixNano: EXACT_NS + 1n });
    assert.equal(span.startTimeUnixNano, EXACT_NS);
    assert.equal(span.endTimeUnixNano, EXACT_NS + 1n);
  });

  it('maps a SERVER span: ids, kind, remote parent, status, semantic-convention attributes', () => {
    const span = one({ ...SPAN, parentSpanId: CLIENT_SPAN.spanId });
    assert.equal(span.kind, 'SPAN_KIND_SERVER');
    assert.equal(span.traceId, SPAN.traceId);
    assert.equal(span.spanId, SPAN.spanId);
    assert.equal(span.parentSpanId, CLIENT_SPAN.spanId);
    // sampled, has-is-remote, is-remote: a server span's parent is in the calling process
    assert.equal(span.flags, 0x301);
    assert.deepEqual(span.status, { code: 'STATUS_CODE_UNSET', message: '' });
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
      'peer.k8s.pod.name': 'gateway',
      'thread.id': 101,
      'meshpipe.link.method': 'NONE',
      'meshpipe.link.confidence': 0,
    });
    assert.equal(span.attributeTypes['network.peer.port'], 'intValue');
  });

  it('maps a CLIENT span: local parent, url.full, peer.service, error status and meshpipe provenance', () => {
    const span = one({ ...CLIENT_SPAN, parentSpanId: '2222222222222222' });
    assert.equal(span.kind, 'SPAN_KIND_CLIENT');
    assert.equal(span.flags, 0x101, "a client span's parent is in its own process");
    assert.deepEqual(span.status, { code: 'STATUS_CODE_ERROR', message: 'no response' });
    const a = span.attributes;
    assert.equal(a['url.full'], 'http://10.200.0.2:8080/users/42?verbose=1');
    assert.equal(a['url.query'], 'verbose=1');
    assert.equal(a['server.address'], '10.200.0.2');
    assert.equal(a['peer.service'], 'orders');
    assert.equal(a['error.type'], 'timeout');
    assert.equal(a['http.response.status_code'], undefined);
    assert.equal(a['client.address'], undefined);
    assert.equal(a['meshpipe.link.method'], 'PROCESS_CAUSALITY');
    assert.equal(a['meshpipe.link.confidence'], 0.75);
    assert.equal(span.attributeTypes['meshpipe.link.confidence'], 'doubleValue');
    assert.equal(a['meshpipe.incomplete.reason'], 'timeout');
  });

  it('passes captured attributes through without letting them override measured ones', () => {
    const span = one({
      ...SPAN,
      attributes: { 'http.request.header.x-tenant': 'acme', 'http.request.method': 'FORGED' },
    });
    assert.equal(span.attributes['http.request.header.x-tenant'], 'acme');
    assert.equal(span.attributes['http.request.method'], 'GET');
  });

  it('writes long and non-ASCII strings whole (lengths of two bytes and more)', () => {
    const path = `/café/${'x'.repeat(300)}`;
    const span = one({ ...SPAN, name: `GET ${path}`, http: { ...SPAN.http, path, target: path } });
    assert.equal(span.name, `GET ${path}`);
    assert.equal(span.attributes['url.path'], path);
  });

  it('gives spans of one process one resource, other processes their own, plus the extra attributes', () => {
    const encoder = new SpanEncoder(
      new ResourceCache({ extra: { 'deployment.environment.name': 'prod', 'service.name': 'ignored' } }),
    );
    const a = encoder.encode(SPAN);
    const b = encoder.encode({ ...SPAN, spanId: '3333333333333333' });
    const c = encoder.encode(CLIENT_SPAN);
    assert.equal(a.resource, b.resource);
    assert.notEqual(a.resource, c.resource);
    const request = decodeExportRequest(serializeSpans([a, c, b])).request;
    assert.equal(request.resourceSpans.length, 2);
    assert.deepEqual(
      request.resourceSpans[0]!.spans.map((s) => s.spanId),
      [SPAN.spanId, '3333333333333333'],
    );
    assert.deepEqual(request.resourceSpans[0]!.resource, {
      'service.name': 'orders',
      'host.name': 'node-a',
      'process.pid': 100,
      'process.command': 'node',
      'k8s.pod.name': 'orders',
      'deployment.environment.name': 'prod',
    });
    const full = one({
      ...SPAN,
      local: { ...SPAN.local, namespace: 'shop', exe: '/usr/bin/node', containerId: 'abc123' },
    });
    assert.equal(full.resource['service.namespace'], 'shop');
    assert.equal(full.resource['process.executable.path'], '/usr/bin/node');
    assert.equal(full.resource['container.id'], 'abc123');
  });

  it('rejects spans no receiver could accept with OTLP_INVALID_SPAN', () => {
    const cases: Array<[string, Partial<Span>]> = [
      ['short trace id', { traceId: 'abc' }],
      ['upper-case trace id', { traceId: SPAN.traceId.toUpperCase() }],
      ['all-zero trace id', { traceId: '0'.repeat(32) }],
      ['all-zero span id', { spanId: '0'.repeat(16) }],
      ['bad parent id', { parentSpanId: 'xyz' }],
      ['negative time', { startTimeUnixNano: -1n }],
    ];
    const encoder = new SpanEncoder(new ResourceCache());
    for (const [what, change] of cases) {
      assert.throws(
        () => encoder.encode({ ...SPAN, ...change }),
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
