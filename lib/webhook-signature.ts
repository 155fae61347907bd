/**
 * Webhook signatures: every request meshpipe sends to a receiver is signed, so a receiver can tell a
 * meshpipe alert from anything else that can reach its URL, and a recorded request cannot be replayed
 * later. The scheme is the one Stripe and Slack use (docs/alerts.md#signing):
 *
 *   X-Meshpipe-Timestamp: <unix seconds when the request was sent>
 *   X-Meshpipe-Signature: v1=<lowercase hex HMAC-SHA256(key, "<timestamp>.<raw body>")>
 *
 * The timestamp is inside the signed bytes, so it cannot be changed without breaking the signature; a
 * receiver rejects timestamps outside its tolerance (default 300 s) and remembers the signatures it
 * accepted for that long to reject an exact replay inside the window. `v1=` names the scheme: a receiver
 * accepts any listed `v1` value, which lets it roll keys (several entries, comma-separated).
 *
 * The scheme and the signing are here, below both of their users: the alerts sink signs
 * (sinks/alerts/webhook-request.ts), a receiver verifies with the SDK's verifyWebhookSignature
 * (sdk/verify-webhook.ts).
 */
import { createHmac } from 'node:crypto';

export const TIMESTAMP_HEADER = 'x-meshpipe-timestamp';
export const SIGNATURE_HEADER = 'x-meshpipe-signature';
export const SIGNATURE_SCHEME = 'v1';
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** The signature of `body` sent at `timestampSeconds`: lowercase hex. */
export function signatureOf(
  secret: string | Buffer,
  timestampSeconds: number,
  body: string | Buffer,
): string {
  return createHmac('sha256', secret).update(`${timestampSeconds}.`).update(body).digest('hex');
}

/** The two headers for a request sent now. */
export function signWebhook(
  secret: string | Buffer,
  body: string | Buffer,
  nowMs: number = Date.now(),
): { [TIMESTAMP_HEADER]: string; [SIGNATURE_HEADER]: string } {
  const timestamp = Math.floor(nowMs / 1000);
  return {
    [TIMESTAMP_HEADER]: String(timestamp),
    [SIGNATURE_HEADER]: `${SIGNATURE_SCHEME}=${signatureOf(secret, timestamp, body)}`,
  };
}
