/**
 * One signed HTTP request to a receiver, and what its answer means for delivery. The answer is a value,
 * never an exception (the OpenTelemetry exporter style): retry policy lives in the delivery worker.
 *
 *   2xx                      delivered
 *   429, 503 + Retry-After   retry, not before the receiver's delay (RFC 9110 §10.2.3)
 *   408, 5xx                 retry with backoff (408 is "send it again", RFC 9110 §15.5.9)
 *   other 4xx                rejected for good: retrying cannot fix a bad URL, key or payload
 *   3xx                      rejected: a POST is not followed across redirects (fetch would turn it into
 *                            a GET, and the signature would go to a host nobody configured)
 *   no answer                retry (refused, reset, DNS, timeout)
 */
import { maskUrl } from '../../lib/mask.ts';
import { signWebhook } from '../../lib/webhook-signature.ts';
import { signStandardWebhook } from './standard-webhooks.ts';

export type DeliveryOutcome =
  | { kind: 'delivered'; status: number; durationMs: number }
  | { kind: 'retry'; status: number | null; error: string; retryAfterMs?: number; durationMs: number }
  | { kind: 'reject'; status: number; error: string; durationMs: number };

export interface WebhookRequest {
  url: string;
  body: string;
  /** HMAC key of the X-Meshpipe-Signature; null: that scheme is off. */
  key: string | null;
  /** HMAC key of the Standard Webhooks signature (decoded); null: that scheme is off. */
  standardKey?: Buffer | null;
  /** The Idempotency-Key header (and Standard Webhooks' webhook-id: the same on every retry). */
  idempotencyKey: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  nowMs?: number;
}

export const USER_AGENT = 'meshpipe-alerts/1';

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), in ms from `nowMs`; undefined if absent or invalid. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

async function snippet(response: Response): Promise<string> {
  try {
    const text = (await response.text()).replace(/\s+/g, ' ').trim();
    return text.length > 300 ? `${text.slice(0, 300)}…` : text;
  } catch {
    return '';
  }
}

function causeOf(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timed out';
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

export async function sendWebhook(request: WebhookRequest): Promise<DeliveryOutcome> {
  const started = Date.now();
  const now = request.nowMs ?? started;
  const signature = {
    ...(request.key === null ? {} : signWebhook(request.key, request.body, now)),
    ...(request.standardKey == null
      ? {}
      : signStandardWebhook(request.standardKey, request.idempotencyKey, request.body, now)),
  };
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: 'POST',
      headers: {
        ...request.headers,
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'idempotency-key': request.idempotencyKey,
        ...signature,
      },
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(request.timeoutMs),
    });
  } catch (err) {
    return {
      kind: 'retry',
      status: null,
      error: `no answer: ${causeOf(err)}`,
      durationMs: Date.now() - started,
    };
  }
  const durationMs = Date.now() - started;
  const { status } = response;
  if (status >= 200 && status < 300) {
    // Drain the body so the connection goes back to the pool.
    await response.arrayBuffer().catch(() => {});
    return { kind: 'delivered', status, durationMs };
  }
  const text = await snippet(response);
  const error = `HTTP ${status}${text === '' ? '' : `: ${text}`}`;
  if (status === 429 || status === 503) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), Date.now());
    return retryAfterMs === undefined
      ? { kind: 'retry', status, error, durationMs }
      : { kind: 'retry', status, error, retryAfterMs, durationMs };
  }
  if (status === 408 || status >= 500) return { kind: 'retry', status, error, durationMs };
  if (status >= 300 && status < 400) {
    const location = response.headers.get('location');
    return {
      kind: 'reject',
      status,
      error: `HTTP ${status} redirect${location === null ? '' : ` to ${maskUrl(location)}`}: configure the final URL`,
      durationMs,
    };
  }
  return { kind: 'reject', status, error, durationMs };
}
