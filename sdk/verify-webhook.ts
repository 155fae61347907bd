/**
 * Verifying a meshpipe webhook on the receiver's side (`import { verifyWebhookSignature } from
 * 'meshpipe'`): the signature, the timestamp window and, optionally, exact replays. The scheme and the
 * signing are in lib/webhook-signature.ts (docs/alerts.md#signing).
 */
import { timingSafeEqual } from 'node:crypto';
import {
  DEFAULT_TOLERANCE_SECONDS,
  SIGNATURE_HEADER,
  SIGNATURE_SCHEME,
  signatureOf,
  TIMESTAMP_HEADER,
} from '../lib/webhook-signature.ts';

export type VerifyFailure =
  /** A header is missing. */
  | 'missing_header'
  /** A header is not in the expected format. */
  | 'malformed'
  /** The timestamp is further from now than the tolerance: a stale or replayed request, or a clock problem. */
  | 'timestamp_out_of_window'
  /** No `v1` signature matches the body with any of the secrets: tampered, or signed with another key. */
  | 'signature_mismatch'
  /** Valid, but this exact signature was accepted before: a replay inside the window. */
  | 'replayed';

export type VerifyResult =
  | { ok: true; timestamp: number; signature: string }
  | { ok: false; reason: VerifyFailure };

export interface VerifyOptions {
  /** The raw request body, exactly as received (parse the JSON only after verifying). */
  body: string | Buffer;
  /** Request headers (any case; Node's IncomingHttpHeaders works as is). */
  headers: Record<string, string | string[] | undefined> | Headers;
  /** The shared key; several while rolling keys. */
  secret: string | Buffer | ReadonlyArray<string | Buffer>;
  /** Accepted distance between the timestamp and now, seconds (default 300). */
  toleranceSeconds?: number;
  /** Now, ms (tests). */
  nowMs?: number;
  /**
   * Signatures accepted before, to reject exact replays inside the tolerance window. Entries need to
   * live for 2 × toleranceSeconds; a Set will do for one process, a Redis SET NX EX for many.
   */
  seen?: { has(signature: string): boolean; add(signature: string): unknown };
}

function header(headers: VerifyOptions['headers'], name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * Verifies a meshpipe webhook request. Returns a value, never throws: `{ ok: false, reason }` says why a
 * request must be rejected (answer it 401; meshpipe treats 4xx as permanent and dead-letters the alert,
 * so a misconfigured key shows in `meshpipe alerts status` instead of retrying forever).
 *
 *   import { verifyWebhookSignature } from 'meshpipe';
 *   const result = verifyWebhookSignature({ body: rawBody, headers: req.headers, secret: process.env.KEY! });
 *   if (!result.ok) return res.writeHead(401).end(result.reason);
 */
export function verifyWebhookSignature(options: VerifyOptions): VerifyResult {
  const timestampText = header(options.headers, TIMESTAMP_HEADER);
  const signatureText = header(options.headers, SIGNATURE_HEADER);
  if (timestampText === undefined || signatureText === undefined)
    return { ok: false, reason: 'missing_header' };
  if (!/^\d{1,15}$/.test(timestampText.trim())) return { ok: false, reason: 'malformed' };
  const timestamp = Number(timestampText.trim());
  const candidates: Buffer[] = [];
  for (const part of signatureText.split(',')) {
    const [scheme, value] = part.trim().split('=', 2);
    if (scheme !== SIGNATURE_SCHEME) continue; // other schemes may come later; ignore them
    if (value === undefined || !/^[0-9a-f]{64}$/.test(value)) return { ok: false, reason: 'malformed' };
    candidates.push(Buffer.from(value, 'hex'));
  }
  if (candidates.length === 0) return { ok: false, reason: 'malformed' };
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const now = (options.nowMs ?? Date.now()) / 1000;
  if (Math.abs(now - timestamp) > tolerance) return { ok: false, reason: 'timestamp_out_of_window' };

  const secrets = Array.isArray(options.secret) ? options.secret : [options.secret as string | Buffer];
  let matched: string | undefined;
  for (const secret of secrets) {
    const expected = Buffer.from(signatureOf(secret, timestamp, options.body), 'hex');
    // Constant-time comparison: the time taken must not tell how many leading bytes matched.
    if (candidates.some((c) => c.length === expected.length && timingSafeEqual(c, expected))) {
      matched = expected.toString('hex');
      break;
    }
  }
  if (matched === undefined) return { ok: false, reason: 'signature_mismatch' };
  if (options.seen !== undefined) {
    if (options.seen.has(matched)) return { ok: false, reason: 'replayed' };
    options.seen.add(matched);
  }
  return { ok: true, timestamp, signature: matched };
}
