/**
 * The OTLP sink end to end: a real Kafka, the sink host, the OpenTelemetry gRPC exporter, and a real
 * OTLP/gRPC receiver decoding the protobuf with the official .proto files.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { codecFor } from '../../../schemas/codec.ts';
import type { MetricSample, Span } from '../../../schemas/types.ts';
import { INSTRUMENTATION_SCOPE } from '../../../sinks/otlp/span-encoder.ts';
import type { RunningSink } from '../../../sinks/runtime/host.ts';
import { follow, type TestKafka } from '../../../testkit/kafka.ts';
import { OtlpReceiver, type ReceivedSpan } from '../../../testkit/otlp-receiver.ts';
import {
  allCommitted,
  committed,
  makeTraces,
  produce,
  produceSpans,
  readDeadLetters,
  sinkKafka,
  spanCodec,
  startOtlpSink,
} from '../../../testkit/span-traffic.ts';
import { poisonSpan } from '../../helpers/avro-hostile.ts';
import { GrpcWireTap } from '../../helpers/grpc-wire-tap.ts';
import { makePki } from '../../helpers/pki.ts';
import { waitFor } from '../../helpers/wait.ts';

const GROUP = (k: TestKafka) => `${k.prefix}-sink-otlp`;

function uniqueBySpanId(spans: readonly ReceivedSpan[]): Map<string, ReceivedSpan> {
  return new Map(spans.map((s) => [s.spanId, s]));
}

describe('OTLP sink', { timeout: 180_000 }, () => {
  let k: TestKafka;
  let receiver: OtlpReceiver;
  let sink: RunningSink | undefined;

  beforeEach(async () => {
    k = await sinkKafka('otlp-sink');
    receiver = await OtlpReceiver.start();
  });
  afterEach(async () => {
    await sink?.stop();
    sink = undefined;
    await receiver.close();
    await k.cleanup();
  });

  it('delivers traces with their structure, attributes, one resource per process and exact timings', async () => {
    const spans = makeTraces(10);
    sink = await startOtlpSink(k, receiver);
    await produceSpans(k, spans);
    await waitFor('every span at the receiver', () => uniqueBySpanId(receiver.spans()).size === spans.length);

    const received = uniqueBySpanId(receiver.spans());
    for (const sent of spans) {
      const got = received.get(sent.spanId);
      assert.ok(got, `span ${sent.spanId} arrived`);
      assert.equal(got.traceId, sent.traceId);
      assert.equal(got.parentSpanId, sent.parentSpanId ?? '', 'parent id (empty for a root)');
      assert.equal(got.kind, sent.kind === 'SERVER' ? 'SPAN_KIND_SERVER' : 'SPAN_KIND_CLIENT');
      assert.equal(got.name, sent.name);
      // Exact to the nanosecond, above 2^53 where a float would round.
      assert.equal(got.startTimeUnixNano, sent.startTimeUnixNano);
      assert.equal(got.endTimeUnixNano, sent.endTimeUnixNano);
      assert.equal(got.resource['service.name'], sent.local.service);
      assert.equal(got.resource['process.pid'], sent.local.pid);
      assert.equal(got.resource['host.name'], sent.local.node);
      assert.equal(got.resource['k8s.pod.name'], sent.local.pod);
      assert.equal(got.resource['process.command'], sent.local.comm);
      assert.deepEqual(got.scope, { name: 'meshpipe', version: INSTRUMENTATION_SCOPE.version });
    }

    // Trace structure: edge SERVER span (root) → CLIENT call → SERVER span at orders.
    const byTrace = Map.groupBy(received.values(), (s) => s.traceId);
    assert.equal(byTrace.size, 10);
    for (const trace of byTrace.values()) {
      const root = trace.find((s) => s.parentSpanId === '')!;
      const call = trace.find((s) => s.parentSpanId === root.spanId)!;
      const served = trace.find((s) => s.parentSpanId === call.spanId)!;
      assert.deepEqual(
        [root.resource['service.name'], call.kind, served.resource['service.name']],
        ['gateway', 'SPAN_KIND_CLIENT', 'orders'],
      );
      // Span flags: sampled, and whether the parent is remote (OTLP HAS_IS_REMOTE | IS_REMOTE bits).
      assert.equal(served.flags, 0x301, 'server span: parent in another process');
      assert.equal(call.flags, 0x101, 'client span: parent in the same process');
    }

    // One ResourceSpans per process in every request, never one per span.
    for (const request of receiver.requests) {
      const services = request.resourceSpans.map(
        (rs) => `${rs.resource['service.name']}/${rs.resource['process.pid']}`,
      );
      assert.equal(new Set(services).size, services.length, `distinct resources in ${services.join(', ')}`);
      for (const rs of request.resourceSpans)
        for (const s of rs.spans) assert.equal(s.resource['service.name'], rs.resource['service.name']);
    }

    const server = received.get(spans[2]!.spanId)!;
    assert.deepEqual(
      {
        method: server.attributes['http.request.method'],
        path: server.attributes['url.path'],
        route: server.attributes['http.route'],
        status: server.attributes['http.response.status_code'],
        serverAddress: server.attributes['server.address'],
        serverPort: server.attributes['server.port'],
        client: server.attributes['client.address'],
        peer: [server.attributes['network.peer.address'], server.attributes['network.peer.port']],
        version: server.attributes['network.protocol.version'],
        userAgent: server.attributes['user_agent.original'],
        bodies: [server.attributes['http.request.body.size'], server.attributes['http.response.body.size']],
        link: [server.attributes['meshpipe.link.method'], server.attributes['meshpipe.link.confidence']],
      },
      {
        method: 'GET',
        path: '/users/42',
        route: '/users/{id}',
        status: 200,
        serverAddress: 'orders',
        serverPort: 8080,
        client: '10.200.0.1',
        peer: ['10.200.0.1', 51234],
        version: '1.1',
        userAgent: 'curl/7.88.1',
        bodies: [0, 512],
        link: ['TCP_CONNECTION', 1],
      },
    );
    assert.equal(server.attributeTypes['http.response.status_code'], 'intValue');
    const call = received.get(spans[1]!.spanId)!;
    assert.equal(call.attributes['meshpipe.link.confidence'], 0.9);
    assert.equal(call.attributeTypes['meshpipe.link.confidence'], 'doubleValue');
    assert.equal(call.attributes['url.full'], 'http://orders/users/42');

    await waitFor('all offsets committed after the acknowledgements', () => allCommitted(k, GROUP(k)));
  });

  it('dead-letters undecodable records and invalid spans alone, with the reason, and goes on', async () => {
    sink = await startOtlpSink(k, receiver);
    const good = makeTraces(2, 2);
    const garbage = Buffer.from('not avro at all');
    const invalid: Span = { ...good[0]!, traceId: 'not-a-trace-id', spanId: 'ffffffffffffffff' };
    await produce(k.kafka, k.topic('spans'), [
      ...good.slice(0, 3).map((s) => ({ key: s.traceId, value: spanCodec.encode(s) })),
      { key: 'garbage', value: garbage },
      // A map claiming 2^28 entries: it exhausted the sink's heap before the codec's bounds check.
      { key: 'poison', value: poisonSpan(good[0]!) },
      { key: 'invalid', value: spanCodec.encode(invalid) },
      ...good.slice(3).map((s) => ({ key: s.traceId, value: spanCodec.encode(s) })),
    ]);
    await waitFor('the good spans', () => uniqueBySpanId(receiver.spans()).size === good.length);
    await waitFor('all offsets committed', () => allCommitted(k, GROUP(k)));

    const letters = await readDeadLetters(k);
    assert.deepEqual(letters.map((l) => l.errorCode).sort(), [
      'MESHPIPE_ERR_OTLP_INVALID_SPAN',
      'MESHPIPE_ERR_SCHEMA_DECODE_FAILED',
      'MESHPIPE_ERR_SCHEMA_NOT_WIRE_FORMAT',
    ]);
    const poison = letters.find((l) => l.errorCode === 'MESHPIPE_ERR_SCHEMA_DECODE_FAILED')!;
    assert.match(poison.errorMessage, /a map of 268435456 items/);
    assert.deepEqual(poison.sourceKey, Buffer.from('poison'));
    const undecodable = letters.find((l) => l.errorCode === 'MESHPIPE_ERR_SCHEMA_NOT_WIRE_FORMAT')!;
    assert.equal(undecodable.component, 'sink/otlp');
    assert.equal(undecodable.sourceTopic, k.topic('spans'));
    assert.deepEqual(undecodable.sourceValue, garbage);
    assert.deepEqual(undecodable.sourceKey, Buffer.from('garbage'));
    const rejected = letters.find((l) => l.errorCode === 'MESHPIPE_ERR_OTLP_INVALID_SPAN')!;
    assert.match(rejected.errorMessage, /not-a-trace-id/);
    assert.deepEqual(spanCodec.decode(rejected.sourceValue!).spanId, 'ffffffffffffffff');
    assert.equal(sink.snapshot().totals.deadLettered, 3);
  });

  it('keeps retrying while the receiver is down, pausing consumption, and delivers everything once it is back', async () => {
    const batchSize = 20;
    sink = await startOtlpSink(k, receiver, {
      batchSize,
      maxBufferedRecords: 60,
      // Small fetches, so backpressure holds memory near maxBufferedRecords.
      runtime: { maxWaitMs: 100, maxBatchBytes: 4096, metricsIntervalMs: 1000 },
    });
    const first = makeTraces(20, 3);
    await produceSpans(k, first);
    await waitFor('some spans before the outage', () => receiver.spans().length >= 20);

    await receiver.stop(); // mid-stream: a request may be in flight when the port closes
    const second = makeTraces(80, 4);
    // Small sends: Kafka always returns at least one whole record batch per fetch, so the size of
    // the producer's batches is what a fetch can overshoot the limit by.
    await produceSpans(k, second, 6);
    await waitFor('backpressure: consumption paused while the receiver is down', () => {
      const s = sink!.snapshot();
      return s.paused && s.retrying !== null && s.retrying.attempts >= 2;
    });
    const during = sink.snapshot();
    assert.equal(during.retrying?.errorType, 'UNAVAILABLE');
    // Paused at the limit; what a fetch already under way brings is the only overshoot.
    assert.ok(during.buffered <= 60 + 30, `bounded memory while paused: ${during.buffered} buffered`);
    assert.ok(during.totals.consumed < first.length + second.length, 'it stopped reading the topic');

    await receiver.restart(); // same port
    const all = [...first, ...second];
    await waitFor(
      'every span after the receiver came back',
      () => uniqueBySpanId(receiver.spans()).size === all.length,
      {
        timeoutMs: 90_000,
      },
    );
    await waitFor('all offsets committed', () => allCommitted(k, GROUP(k)));

    // Exactly these span ids arrived; duplicates only within the documented window: at most the one
    // batch whose answer the outage swallowed.
    const received = receiver.spans();
    assert.deepEqual([...uniqueBySpanId(received).keys()].sort(), all.map((s) => s.spanId).sort());
    assert.ok(received.length - all.length <= batchSize, `${received.length - all.length} duplicates`);
    assert.equal(sink.snapshot().paused, false, 'consumption resumed');
    assert.equal(sink.snapshot().totals.deadLettered, 0);
  });

  it('shares the partitions with a second instance and back, across rebalances, without losing a span', async () => {
    const batchSize = 20;
    const section = {
      batchSize,
      runtime: { maxWaitMs: 100, heartbeatIntervalMs: 500, metricsIntervalMs: 1000 },
    };
    // A slow receiver, so batches are in flight and queued when the group rebalances.
    receiver.slow(150);
    sink = await startOtlpSink(k, receiver, section);
    const waves = [makeTraces(20, 14), makeTraces(20, 15), makeTraces(20, 16)];
    await produceSpans(k, waves[0]!, 6);
    const second = await startOtlpSink(k, receiver, section); // joins: the group rebalances
    try {
      await produceSpans(k, waves[1]!, 6);
      await waitFor('the partitions split between the two instances', () => {
        const a = sink!.snapshot().partitions;
        const b = second.snapshot().partitions;
        return a.length > 0 && b.length > 0 && a.length + b.length === 6 && a.every((p) => !b.includes(p));
      });
    } finally {
      await second.stop(); // leaves: the group rebalances again, everything back to the first
    }
    await produceSpans(k, waves[2]!, 6);
    const all = waves.flat();
    await waitFor('every span', () => uniqueBySpanId(receiver.spans()).size === all.length, {
      timeoutMs: 60_000,
    });
    await waitFor('all offsets committed', () => allCommitted(k, GROUP(k)));
    assert.deepEqual(sink.snapshot().partitions, [0, 1, 2, 3, 4, 5]);
    // Duplicates: at most the batch each member had in flight at each of the two rebalances.
    const duplicates = receiver.spans().length - all.length;
    assert.ok(duplicates <= 2 * 2 * batchSize, `${duplicates} duplicates`);
  });

  it('retries UNAVAILABLE and RESOURCE_EXHAUSTED (honouring RetryInfo) instead of dropping', async () => {
    sink = await startOtlpSink(k, receiver);
    receiver.fail({ code: status.UNAVAILABLE, times: 3 });
    const first = makeTraces(5, 5);
    await produceSpans(k, first);
    await waitFor('spans after UNAVAILABLE', () => uniqueBySpanId(receiver.spans()).size === first.length);

    receiver.fail({ code: status.RESOURCE_EXHAUSTED, times: 2, retryAfterMs: 300 });
    const second = makeTraces(5, 6);
    await produceSpans(k, second);
    await waitFor(
      'spans after RESOURCE_EXHAUSTED',
      () => uniqueBySpanId(receiver.spans()).size === first.length + second.length,
    );
    assert.equal(receiver.refused, 5);
    const totals = sink.snapshot().totals;
    assert.equal(totals.retried, 5);
    assert.equal(totals.deadLettered, 0);
    assert.equal(totals.exported, first.length + second.length);
    await waitFor('all offsets committed', () => allCommitted(k, GROUP(k)));
  });

  it('dead-letters a batch the receiver rejects for good, with the reason, and moves on', async () => {
    sink = await startOtlpSink(k, receiver, { batchSize: 100, lingerMs: 500 });
    receiver.fail({ code: status.INVALID_ARGUMENT, times: 1, details: 'timestamp out of range' });
    const rejected = makeTraces(4, 7);
    await produceSpans(k, rejected);
    await waitFor('the rejection', () => receiver.refused === 1);
    const after = makeTraces(3, 8);
    await produceSpans(k, after);
    await waitFor('later spans delivered', () => uniqueBySpanId(receiver.spans()).size >= after.length);
    await waitFor('all offsets committed', () => allCommitted(k, GROUP(k)));

    const letters = await readDeadLetters(k);
    const delivered = uniqueBySpanId(receiver.spans());
    // Whatever the first batch held is dead-lettered, everything else delivered: nothing lost, nothing twice.
    assert.equal(letters.length + delivered.size, rejected.length + after.length);
    assert.ok(letters.length > 0);
    for (const letter of letters) {
      assert.equal(letter.errorCode, 'MESHPIPE_ERR_OTLP_REJECTED');
      assert.match(letter.errorMessage, /INVALID_ARGUMENT: timestamp out of range/);
      assert.ok(!delivered.has(spanCodec.decode(letter.sourceValue!).spanId));
    }
    assert.equal(sink.snapshot().totals.failed, 1);
  });

  it('publishes its own metrics on the metrics topic and commits nothing it did not deliver on stop', async () => {
    sink = await startOtlpSink(k, receiver);
    const spans = makeTraces(3, 9);
    await produceSpans(k, spans);
    await waitFor('delivery', () => uniqueBySpanId(receiver.spans()).size === spans.length);

    const metricCodec = codecFor<MetricSample>('metric-sample');
    const samples: MetricSample[] = [];
    const consumer = await follow(k.kafka, {
      groupId: `${k.prefix}-metrics-reader`,
      topics: [k.topic('metrics')],
      eachMessage: async ({ message }) => void samples.push(metricCodec.decode(message.value!)),
    });
    try {
      const exported = await waitFor('an exported counter of 9', () =>
        samples.find((s) => s.name === 'meshpipe.sink.records.exported' && s.value === spans.length),
      );
      assert.equal(exported.type, 'COUNTER');
      assert.equal(exported.labels.sink, 'otlp');
      assert.match(exported.stream, /^sink\/otlp\//);
      const duration = await waitFor('the export duration histogram', () =>
        samples.find((s) => s.name === 'meshpipe.sink.export.duration' && s.histogram !== null),
      );
      assert.ok((duration.histogram?.count ?? 0n) >= 1n);
      await waitFor('a lag gauge per owned partition', () =>
        samples.some((s) => s.name === 'meshpipe.sink.consumer.lag' && s.labels.partition !== undefined),
      );
    } finally {
      await consumer.stop();
    }

    // A stop while the receiver is down: the buffered batch is abandoned after shutdownTimeoutMs and
    // stays uncommitted.
    await waitFor('the delivered spans committed', () => allCommitted(k, GROUP(k)));
    const before = await committed(k, GROUP(k));
    await receiver.stop();
    await produceSpans(k, makeTraces(2, 10));
    await waitFor('the sink to read them', () => sink!.snapshot().totals.consumed >= spans.length + 6);
    await sink.stop();
    sink = undefined;
    assert.deepEqual(await committed(k, GROUP(k)), before);
  });

  it('compresses requests with gzip, or not when compression is none (checked on the wire)', async () => {
    const tap = await GrpcWireTap.start(receiver.port);
    try {
      for (const [compression, seed] of [
        ['gzip', 12],
        ['none', 13],
      ] as const) {
        const before = tap.messages.length;
        const spans = makeTraces(2, seed);
        sink = await startOtlpSink(k, receiver, { endpoint: tap.endpoint, compression });
        await produceSpans(k, spans);
        await waitFor(`delivery with ${compression}`, () =>
          spans.every((s) => uniqueBySpanId(receiver.spans()).has(s.spanId)),
        );
        await sink.stop();
        sink = undefined;
        const sent = tap.messages.slice(before);
        assert.ok(sent.length > 0);
        assert.ok(
          sent.every((m) => m.compressed === (compression === 'gzip')),
          `${compression}: ${JSON.stringify(sent)}`,
        );
      }
    } finally {
      await tap.close();
    }
  });

  it('speaks TLS with a client certificate and sends the configured headers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshpipe-otlp-tls-'));
    try {
      const pki = makePki(dir);
      await receiver.close();
      receiver = await OtlpReceiver.start({
        tls: {
          cert: readFileSync(pki.serverCert),
          key: readFileSync(pki.serverKey),
          clientCa: readFileSync(pki.ca),
        },
      });
      sink = await startOtlpSink(k, receiver, {
        // A name, not 127.0.0.1: TLS server names (SNI) cannot be IP addresses (RFC 6066).
        endpoint: `https://localhost:${receiver.port}`,
        tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey },
        headers: { authorization: 'Bearer t0k3n', 'x-scope-orgid': 'tenant-1' },
      });
      const spans = makeTraces(1, 11);
      await produceSpans(k, spans);
      await waitFor('delivery over mutual TLS', () => uniqueBySpanId(receiver.spans()).size === spans.length);
      const metadata = receiver.requests[0]!.metadata;
      assert.equal(metadata.authorization, 'Bearer t0k3n');
      assert.equal(metadata['x-scope-orgid'], 'tenant-1');
      assert.ok(metadata['user-agent']?.startsWith(`meshpipe/${INSTRUMENTATION_SCOPE.version} `));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
