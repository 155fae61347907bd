import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { otlpSinkSpec } from '../../../sinks/otlp/config.ts';
import { OtlpExporter } from '../../../sinks/otlp/otlp-exporter.ts';
import { ResourceCache } from '../../../sinks/otlp/resources.ts';
import { type EncodedSpan, SpanEncoder } from '../../../sinks/otlp/span-encoder.ts';
import { spanSerializer } from '../../../sinks/otlp/span-serializer.ts';
import { otlpTransport } from '../../../sinks/otlp/transport.ts';
import { SPAN } from '../../../testkit/fixtures.ts';
import { OtlpReceiver } from '../../../testkit/otlp-receiver.ts';
import { OtlpHttpReceiver } from '../../helpers/otlp-http-receiver.ts';

describe('OtlpExporter over gRPC', () => {
  let receiver: OtlpReceiver;
  let exporter: OtlpExporter<EncodedSpan>;
  const spans = [new SpanEncoder(new ResourceCache()).encode(SPAN)];

  before(async () => {
    receiver = await OtlpReceiver.start();
    const config = otlpSinkSpec.parse({ endpoint: receiver.endpoint, compression: 'none' }, 'sinks.otlp');
    exporter = new OtlpExporter({
      transport: otlpTransport(config),
      compression: 'none',
      timeoutMs: 5000,
      serializer: spanSerializer,
    });
  });
  after(async () => {
    await exporter.shutdown();
    await receiver.close();
  });

  it('sends one request per export and reports success', async () => {
    assert.deepEqual(await exporter.export(spans), { code: 'success' });
    assert.equal(receiver.requests.length, 1);
    assert.equal(receiver.spans()[0]!.startTimeUnixNano, SPAN.startTimeUnixNano);
  });

  it('reports what the receiver answers as values, without retrying by itself', async () => {
    receiver.fail({ code: status.UNAVAILABLE, times: 1 });
    const result = await exporter.export(spans);
    assert.equal(result.code, 'retryable');
    assert.equal(receiver.refused, 1);
    receiver.fail({ code: status.PERMISSION_DENIED, times: 1 });
    assert.equal((await exporter.export(spans)).code, 'failed');
    assert.equal(receiver.refused, 2, 'one request each: retry belongs to the host');
  });

  it('reconnects at once when the receiver is back, not after gRPC reconnect backoff', async () => {
    await receiver.stop();
    for (let i = 0; i < 3; i++) {
      const result = await exporter.export(spans);
      assert.equal(result.code, 'retryable');
    }
    await receiver.restart();
    const before = receiver.requests.length;
    // grpc-js would fail this call fast for at least its 1 s initial backoff; a fresh channel connects.
    assert.deepEqual(await exporter.export(spans), { code: 'success' });
    assert.equal(receiver.requests.length, before + 1);
  });
});

describe('OtlpExporter over HTTP (protobuf)', () => {
  let receiver: OtlpHttpReceiver;
  let exporter: OtlpExporter<EncodedSpan>;
  const spans = [new SpanEncoder(new ResourceCache()).encode(SPAN)];

  before(async () => {
    receiver = await OtlpHttpReceiver.start();
    const config = otlpSinkSpec.parse(
      { endpoint: receiver.endpoint, protocol: 'http/protobuf', headers: { 'x-scope-orgid': 'acme' } },
      'sinks.otlp',
    );
    exporter = new OtlpExporter({
      transport: otlpTransport(config),
      compression: 'gzip',
      timeoutMs: 4000,
      serializer: spanSerializer,
    });
  });
  after(async () => {
    await exporter.shutdown();
    await receiver.close();
  });

  it('POSTs the request to /v1/traces, gzip, with the headers, and reports success', async () => {
    assert.deepEqual(await exporter.export(spans), { code: 'success' });
    const request = receiver.requests.at(-1)!;
    assert.equal(request.path, '/v1/traces');
    assert.equal(request.headers['content-encoding'], 'gzip');
    assert.equal(request.headers['x-scope-orgid'], 'acme');
    assert.match(String(request.headers['user-agent']), /^meshpipe\/\S+ OTel-OTLP-Exporter-JavaScript\//);
    assert.equal(receiver.spans().at(-1)!.startTimeUnixNano, SPAN.startTimeUnixNano);
  });

  it('retries 429 and 503 within the timeout, honouring Retry-After, then succeeds', async () => {
    const before = receiver.requests.length;
    receiver.fail({ status: 503, times: 1, retryAfterS: 1 });
    assert.deepEqual(await exporter.export(spans), { code: 'success' });
    receiver.fail({ status: 429, times: 1 });
    assert.deepEqual(await exporter.export(spans), { code: 'success' });
    assert.equal(receiver.requests.length, before + 2);
  });

  it('reports a receiver that keeps refusing, or is down, as retryable: the host retries and backs off', async () => {
    receiver.fail({ status: 503 });
    const throttled = await exporter.export(spans);
    assert.equal(throttled.code, 'retryable');
    receiver.succeed();
    await receiver.stop();
    const down = await exporter.export(spans);
    assert.equal(down.code, 'retryable');
    assert.equal((down as { error: { errorType?: string } }).error.errorType, 'ECONNREFUSED');
    await receiver.restart();
    assert.deepEqual(await exporter.export(spans), { code: 'success' });
  });

  it('fails a batch the receiver rejects for good: 400 as rejected, 413 as too large', async () => {
    receiver.fail({ status: 400, times: 1 });
    const rejected = await exporter.export(spans);
    assert.equal(rejected.code, 'failed');
    assert.equal((rejected as { error: { code?: string } }).error.code, 'MESHPIPE_ERR_OTLP_REJECTED');
    receiver.fail({ status: 413, times: 1 });
    const tooLarge = await exporter.export(spans);
    assert.equal((tooLarge as { error: { code?: string } }).error.code, 'MESHPIPE_ERR_OTLP_BATCH_TOO_LARGE');
  });
});
