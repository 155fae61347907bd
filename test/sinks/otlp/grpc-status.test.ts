import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { classifyExportError } from '../../../sinks/otlp/grpc-status.ts';
import { retryDelayFromStatusDetails } from '../../../sinks/otlp/retry-info.ts';
import { errorTypeOf } from '../../../sinks/runtime/exporter.ts';
import { statusWithRetryInfo } from '../../../testkit/otlp-receiver.ts';

function serviceError(code: status, details: string, metadata = new Metadata()): ServiceError {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata });
}

describe('classifyExportError', () => {
  // https://opentelemetry.io/docs/specs/otlp/#failures, with RESOURCE_EXHAUSTED always retried.
  const cases: Array<[status, 'retryable' | 'failed', string]> = [
    [status.UNAVAILABLE, 'retryable', 'MESHPIPE_ERR_OTLP_UNAVAILABLE'],
    [status.RESOURCE_EXHAUSTED, 'retryable', 'MESHPIPE_ERR_OTLP_UNAVAILABLE'],
    [status.DEADLINE_EXCEEDED, 'retryable', 'MESHPIPE_ERR_OTLP_UNAVAILABLE'],
    [status.ABORTED, 'retryable', 'MESHPIPE_ERR_OTLP_UNAVAILABLE'],
    [status.CANCELLED, 'retryable', 'MESHPIPE_ERR_OTLP_UNAVAILABLE'],
    [status.OUT_OF_RANGE, 'retryable', 'MESHPIPE_ERR_OTLP_UNAVAILABLE'],
    [status.DATA_LOSS, 'retryable', 'MESHPIPE_ERR_OTLP_UNAVAILABLE'],
    [status.INVALID_ARGUMENT, 'failed', 'MESHPIPE_ERR_OTLP_REJECTED'],
    [status.UNAUTHENTICATED, 'failed', 'MESHPIPE_ERR_OTLP_REJECTED'],
    [status.PERMISSION_DENIED, 'failed', 'MESHPIPE_ERR_OTLP_REJECTED'],
    [status.UNIMPLEMENTED, 'failed', 'MESHPIPE_ERR_OTLP_REJECTED'],
    [status.INTERNAL, 'failed', 'MESHPIPE_ERR_OTLP_REJECTED'],
    [status.UNKNOWN, 'failed', 'MESHPIPE_ERR_OTLP_REJECTED'],
  ];
  for (const [code, outcome, errorCode] of cases) {
    it(`${status[code]} is ${outcome}`, () => {
      const result = classifyExportError(serviceError(code, 'x'));
      assert.equal(result.code, outcome);
      const { error } = result as { error: Error & { code?: string } };
      assert.equal(error.code, errorCode);
      assert.equal(errorTypeOf(error), status[code]);
    });
  }

  it('a request over a message size limit is permanent (OTLP_BATCH_TOO_LARGE)', () => {
    const messages = [
      'Received message larger than max (5242880 vs 4194304)', // grpc-js server
      'Received message that decompresses to a size larger than 4194304', // grpc-js server, gzip
      'Attempted to send message with a size larger than 4194304', // grpc-js client
      'grpc: received message larger than max (5242880 vs. 4194304)', // grpc-go (Collector, Tempo)
      'grpc: received message after decompression larger than max (4194304)', // grpc-go, gzip
    ];
    for (const details of messages) {
      const result = classifyExportError(serviceError(status.RESOURCE_EXHAUSTED, details));
      assert.equal(result.code, 'failed', details);
      assert.equal((result as { error: { code?: string } }).error.code, 'MESHPIPE_ERR_OTLP_BATCH_TOO_LARGE');
    }
  });

  it('honours a RetryInfo delay in grpc-status-details-bin', () => {
    const metadata = new Metadata();
    metadata.set('grpc-status-details-bin', statusWithRetryInfo(status.RESOURCE_EXHAUSTED, 'busy', 2_500));
    const result = classifyExportError(serviceError(status.RESOURCE_EXHAUSTED, 'busy', metadata));
    assert.equal(result.code, 'retryable');
    assert.equal(result.code === 'retryable' && result.retryAfterMs, 2_500);
  });

  it('an error that is not a gRPC answer fails the batch (OTLP_EXPORT_FAILED)', () => {
    const result = classifyExportError(new Error('Nothing to send'));
    assert.equal(result.code, 'failed');
    assert.equal(
      result.code === 'failed' && (result.error as { code?: string }).code,
      'MESHPIPE_ERR_OTLP_EXPORT_FAILED',
    );
  });
});

describe('retryDelayFromStatusDetails', () => {
  it('reads seconds and nanos of the RetryInfo duration', () => {
    assert.equal(retryDelayFromStatusDetails(statusWithRetryInfo(8, 'x', 0)), 0);
    assert.equal(retryDelayFromStatusDetails(statusWithRetryInfo(8, 'x', 1_250)), 1_250);
    assert.equal(retryDelayFromStatusDetails(statusWithRetryInfo(8, 'x', 90_000)), 90_000);
  });

  it('ignores details without RetryInfo and malformed bytes', () => {
    assert.equal(retryDelayFromStatusDetails(Buffer.from([0x08, 0x0e, 0x12, 0x01, 0x78])), undefined);
    assert.equal(retryDelayFromStatusDetails(Buffer.from([0x1a, 0xff])), undefined);
  });
});
