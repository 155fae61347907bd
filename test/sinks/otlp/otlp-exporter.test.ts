import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { otlpSinkSpec } from '../../../sinks/otlp/config.ts';
import { OtlpExporter } from '../../../sinks/otlp/otlp-exporter.ts';
import { ResourceCache } from '../../../sinks/otlp/resources.ts';
import { type EncodedSpan, SpanEncoder } from '../../../sinks/otlp/span-encoder.ts';
import { spanSerializer } from '../../../sinks/otlp/span-serializer.ts';
import { otlpTransport } from '../../../sinks/otlp/transport.ts';
import { SPAN } from '../../helpers/fixtures.ts';
import { OtlpReceiver } from '../../helpers/otlp-receiver.ts';

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
