/**
 * What a failed OTLP/gRPC export means for the batch, per the OTLP specification
 * (https://opentelemetry.io/docs/specs/otlp/#failures): the status codes that can clear up by
 * themselves are retried, the others reject this batch for good (the host dead-letters it).
 *
 * One deliberate deviation: OTLP retries RESOURCE_EXHAUSTED only when the receiver attached RetryInfo.
 * Receivers that rate-limit (Grafana Tempo's ingestion limits, a full Jaeger queue) answer without it,
 * and dead-lettering a backlog because the backend is momentarily full is worse than waiting with
 * backpressure. The one RESOURCE_EXHAUSTED that never clears up — a request over the message size limit
 * — is recognised and is permanent.
 */
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { ERRORS, type ErrorSpec, errorMessage, MeshpipeError } from '../../lib/errors.ts';
import { type ExportResult, failed, retryable } from '../runtime/exporter.ts';
import { retryDelayFromStatusDetails } from './retry-info.ts';

const RETRYABLE: ReadonlySet<number> = new Set([
  status.CANCELLED,
  status.DEADLINE_EXCEEDED,
  status.RESOURCE_EXHAUSTED,
  status.ABORTED,
  status.OUT_OF_RANGE,
  status.UNAVAILABLE,
  status.DATA_LOSS,
]);

// The size-limit messages of grpc-js ("Received message larger than max (n vs m)", "Received message
// that decompresses to a size larger than n", "Attempted to send message with a size larger than n")
// and grpc-go, which OpenTelemetry Collector, Jaeger and Tempo run ("grpc: received message larger
// than max", "... after decompression larger than max").
const MESSAGE_TOO_LARGE = /message.* larger than/i;

export function isServiceError(err: unknown): err is ServiceError {
  return (
    err instanceof Error &&
    typeof (err as { code?: unknown }).code === 'number' &&
    (err as { metadata?: unknown }).metadata instanceof Metadata
  );
}

/** The status name, e.g. `UNAVAILABLE`: what metrics and logs call the failure (error.type). */
export function statusName(code: number): string {
  return status[code] ?? `STATUS_${code}`;
}

function otlpError(spec: ErrorSpec, args: unknown[], errorType: string, cause: unknown): MeshpipeError {
  return Object.assign(new MeshpipeError(spec, args, { cause }), { errorType });
}

/** The ExportResult of an export the OpenTelemetry exporter reported as failed. */
export function classifyExportError(err: unknown): ExportResult {
  if (!isServiceError(err)) {
    // Not an answer from the receiver (serialization, a closed exporter): retrying the same batch
    // would fail the same way.
    return failed(otlpError(ERRORS.OTLP_EXPORT_FAILED, [errorMessage(err)], 'exporter', err));
  }
  const name = statusName(err.code);
  const details = err.details || err.message;
  if (err.code === status.RESOURCE_EXHAUSTED && MESSAGE_TOO_LARGE.test(details)) {
    return failed(otlpError(ERRORS.OTLP_BATCH_TOO_LARGE, [details], name, err));
  }
  if (!RETRYABLE.has(err.code)) {
    return failed(otlpError(ERRORS.OTLP_REJECTED, [name, details], name, err));
  }
  const [statusDetails] = err.metadata.get('grpc-status-details-bin');
  const retryAfterMs =
    statusDetails instanceof Uint8Array ? retryDelayFromStatusDetails(statusDetails) : undefined;
  return retryable(otlpError(ERRORS.OTLP_UNAVAILABLE, [name, details], name, err), retryAfterMs);
}

/**
 * True when the call never reached a receiver because the channel has no connection (grpc-js fails
 * such calls fast with UNAVAILABLE while it waits out its reconnect backoff).
 */
export function isNotConnected(err: unknown): boolean {
  return (
    isServiceError(err) && err.code === status.UNAVAILABLE && /^No connection established/.test(err.details)
  );
}
