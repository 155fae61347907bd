/**
 * The sink's OTLP request against the OpenTelemetry SDK's own serializer on the same spans: the SDK
 * path (each span as an SDK ReadableSpan, testkit/readable-span.ts, serialized by otlp-transformer's
 * ProtobufTraceSerializer) is what the sink sent before it encoded spans itself. Both requests are
 * decoded with the official .proto files and compared, and compared byte for byte.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { Span } from '../../../schemas/types.ts';
import { ResourceCache } from '../../../sinks/otlp/resources.ts';
import { SpanEncoder } from '../../../sinks/otlp/span-encoder.ts';
import { serializeSpans, spanSerializer } from '../../../sinks/otlp/span-serializer.ts';
import { EXACT_NS, SPAN } from '../../../testkit/fixtures.ts';
import { decodeExportRequest } from '../../../testkit/otlp-receiver.ts';
import { SdkResourceCache, toReadableSpan } from '../../../testkit/readable-span.ts';
import { CLIENT_SPAN, makeTraces } from '../../../testkit/span-traffic.ts';

/** Spans that exercise every field and every encoding branch. */
function variedSpans(): Span[] {
  const long = `/search/${'q'.repeat(200)}`;
  return [
    SPAN,
    { ...SPAN, spanId: 'a000000000000001', parentSpanId: CLIENT_SPAN.spanId, status: 'OK' },
    { ...CLIENT_SPAN, parentSpanId: 'b000000000000002' },
    {
      ...CLIENT_SPAN,
      spanId: 'c000000000000003',
      statusMessage: null,
      link: { method: 'TCP_CONNECTION', confidence: 1 },
    },
    { ...CLIENT_SPAN, spanId: 'c000000000000004', statusMessage: '' },
    { ...SPAN, spanId: 'd000000000000005', traceState: 'vendor=abc,other=x:y' },
    { ...SPAN, spanId: 'd000000000000006', traceState: 'Not A Valid=Member' },
    {
      ...SPAN,
      spanId: 'e000000000000007',
      name: `GET ${long}`,
      http: {
        ...SPAN.http,
        path: long,
        target: `${long}?lang=日本語&x=${'y'.repeat(150)}`,
        userAgent: 'Mozilla/5.0 (ünïcødé)',
      },
      attributes: { 'http.request.header.x-tenant': 'äcme', 'http.request.method': 'FORGED' },
    },
    {
      ...SPAN,
      spanId: 'f000000000000008',
      startTimeUnixNano: EXACT_NS,
      endTimeUnixNano: 9_223_372_036_854_775_807n,
      local: { ...SPAN.local, namespace: 'shop', exe: '/usr/bin/node', containerId: 'abc123', tid: 0 },
    },
    ...makeTraces(40, 9),
  ];
}

function bothWays(spans: readonly Span[], extra: Record<string, string> = {}) {
  const encoder = new SpanEncoder(new ResourceCache({ extra }));
  const ours = spanSerializer.serializeRequest(spans.map((s) => encoder.encode(s)))!;
  const sdkResources = new SdkResourceCache(extra);
  const sdk = ProtobufTraceSerializer.serializeRequest(spans.map((s) => toReadableSpan(s, sdkResources)))!;
  return { ours: Buffer.from(ours), sdk: Buffer.from(sdk) };
}

describe('span serializer', () => {
  it('writes what the OpenTelemetry SDK serializer writes for the same spans: same message, same bytes', () => {
    const extras: Array<Record<string, string>> = [
      {},
      { 'deployment.environment.name': 'prod', 'k8s.cluster.name': 'eu-1' },
    ];
    for (const extra of extras) {
      const spans = variedSpans();
      const { ours, sdk } = bothWays(spans, extra);
      const decodedOurs = decodeExportRequest(ours);
      const decodedSdk = decodeExportRequest(sdk);
      assert.deepEqual(decodedOurs.message, decodedSdk.message);
      assert.equal(
        decodedOurs.request.resourceSpans.flatMap((rs) => rs.spans).length,
        spans.length,
        'every span in the request',
      );
      assert.ok(ours.equals(sdk), 'byte for byte');
    }
  });

  it('one span, and a batch of 513 from 37 processes, are the same as the SDK’s too', () => {
    const one = bothWays([SPAN]);
    assert.ok(one.ours.equals(one.sdk));
    const many = makeTraces(171, 3).map((s, i) => ({ ...s, local: { ...s.local, pid: 1000 + (i % 37) } }));
    const batch = bothWays(many);
    assert.deepEqual(decodeExportRequest(batch.ours).message, decodeExportRequest(batch.sdk).message);
    assert.ok(batch.ours.equals(batch.sdk));
  });

  it('groups spans under their resource, in order of first appearance', () => {
    const encoder = new SpanEncoder(new ResourceCache());
    const spans = [SPAN, CLIENT_SPAN, { ...SPAN, spanId: '4444444444444444' }].map((s) => encoder.encode(s));
    const { request } = decodeExportRequest(serializeSpans(spans));
    assert.deepEqual(
      request.resourceSpans.map((rs) => [rs.resource['service.name'], rs.spans.map((s) => s.spanId)]),
      [
        ['orders', [SPAN.spanId, '4444444444444444']],
        ['gateway', [CLIENT_SPAN.spanId]],
      ],
    );
  });
});
