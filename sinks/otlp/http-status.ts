/**
 * What a failed OTLP/HTTP export means for the batch, per the OTLP specification
 * (https://opentelemetry.io/docs/specs/otlp/#failures-1): 429, 502, 503 and 504 clear up by themselves
 * (the OpenTelemetry HTTP transport retries them within the export's timeout, honouring Retry-After,
 * and reports the batch as retryable when that time runs out); every other HTTP status rejects this
 * batch for good, 413 because it is too large. No answer at all — connection refused or reset, TLS
 * handshake, timeout — is the receiver being unreachable, and is retried too: dead-lettering the topic
 * because a receiver is down, or its certificate is not yet trusted, would be worse than waiting.
 */
import { OTLPExporterError } from '@opentelemetry/otlp-exporter-base';
import { ERRORS, type ErrorSpec, errorMessage, MeshpipeError } from '../../lib/errors.ts';
import { type ExportResult, failed, retryable } from '../runtime/exporter.ts';

function otlpError(spec: ErrorSpec, args: unknown[], errorType: string, cause: unknown): MeshpipeError {
  return Object.assign(new MeshpipeError(spec, args, { cause }), { errorType });
}

/** The ExportResult of an export the OpenTelemetry HTTP exporter reported as failed. */
export function classifyHttpExportError(err: unknown): ExportResult {
  if (err instanceof OTLPExporterError && typeof err.code === 'number') {
    const name = `HTTP_${err.code}`;
    const details = `${err.message}${err.data ? `: ${err.data.slice(0, 500)}` : ''}`;
    if (err.code === 413) return failed(otlpError(ERRORS.OTLP_BATCH_TOO_LARGE, [details], name, err));
    return failed(otlpError(ERRORS.OTLP_REJECTED, [`HTTP ${err.code}`, details], name, err));
  }
  // No HTTP status: the receiver was not reached, or kept answering 429/5xx until the timeout.
  const code = (err as { code?: unknown } | null)?.code;
  const name = typeof code === 'string' ? code : 'UNAVAILABLE';
  return retryable(otlpError(ERRORS.OTLP_UNAVAILABLE, [name, errorMessage(err)], name, err));
}
