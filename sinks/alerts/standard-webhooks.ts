/**
 * The Standard Webhooks signature scheme (https://www.standardwebhooks.com, spec v1), offered beside
 * meshpipe's own X-Meshpipe-Signature so that receivers can verify with a stock library (the
 * `standardwebhooks` packages on npm and PyPI, and their ports) instead of code of their own:
 *
 *   webhook-id: <message id: the request's Idempotency-Key, the same on every retry>
 *   webhook-timestamp: <unix seconds when the request was sent>
 *   webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<raw body>")>
 *
 * The key is the secret's base64 after the `whsec_` prefix (the form those libraries take), 24 to 64
 * bytes as the specification asks.
 */
import { createHmac } from 'node:crypto';

export const WEBHOOK_ID_HEADER = 'webhook-id';
export const WEBHOOK_TIMESTAMP_HEADER = 'webhook-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'webhook-signature';
export const SECRET_PREFIX = 'whsec_';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The HMAC key of a `whsec_<base64>` (or bare base64) secret, or why it is not one. */
export function standardWebhooksKey(secret: string): Buffer | { problem: string } {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!BASE64.test(encoded))
    return { problem: `a Standard Webhooks secret is ${SECRET_PREFIX} followed by base64` };
  const key = Buffer.from(encoded, 'base64');
  if (key.length < 24 || key.length > 64)
    return { problem: `a Standard Webhooks key is 24 to 64 bytes, this one is ${key.length}` };
  return key;
}

/** The three headers of a request with message id `id`, sent now. */
export function signStandardWebhook(
  key: Buffer,
  id: string,
  body: string | Buffer,
  nowMs: number = Date.now(),
): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
  return {
    [WEBHOOK_ID_HEADER]: id,
    [WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
    [WEBHOOK_SIGNATURE_HEADER]: `v1,${signature}`,
  };
}
