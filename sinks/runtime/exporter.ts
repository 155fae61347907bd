/**
 * The contract between the sink host and a sink: an exporter delivers one batch and says, as a value,
 * what happened. It never retries and never throws for a delivery problem — retry is a wrapper around
 * it (retry.ts), exactly as in OpenTelemetry JS where retry wraps the transport, not the exporter.
 *
 *   success    the receiver acknowledged the whole batch: the host commits its offsets.
 *   retryable  transient (receiver down, throttled, timed out): the host retries the same batch,
 *              honouring `retryAfterMs` when the receiver named a delay.
 *   failed     permanent for this batch (rejected as invalid, too large...): the host dead-letters its
 *              records with `error` and moves on, so one bad batch never blocks the partition.
 */

export type ExportResult =
  | { readonly code: 'success' }
  | { readonly code: 'retryable'; readonly error: Error; readonly retryAfterMs?: number }
  | { readonly code: 'failed'; readonly error: Error };

export interface Exporter<T> {
  /**
   * Delivers `items` (at most the configured batch size). Resolves once the receiver answered; the
   * host calls it again only after the previous call resolved. A rejection counts as `failed`.
   */
  export(items: readonly T[]): Promise<ExportResult>;
  /** Waits for anything still buffered inside the exporter (most have nothing). */
  forceFlush?(): Promise<void>;
  /** Releases connections; called once, after the last export. */
  shutdown(): Promise<void>;
}

/**
 * The `error.type` an error is counted under: an exporter may set `errorType` on its errors (a gRPC
 * status name, an HTTP status code); otherwise a MeshpipeError's code, otherwise the error's name.
 */
export function errorTypeOf(error: Error): string {
  const { errorType, code } = error as { errorType?: unknown; code?: unknown };
  if (typeof errorType === 'string') return errorType;
  if (typeof code === 'string') return code;
  return error.name;
}

export const SUCCESS: ExportResult = Object.freeze({ code: 'success' });

export function retryable(error: Error, retryAfterMs?: number): ExportResult {
  return retryAfterMs === undefined
    ? { code: 'retryable', error }
    : { code: 'retryable', error, retryAfterMs };
}

export function failed(error: Error): ExportResult {
  return { code: 'failed', error };
}
