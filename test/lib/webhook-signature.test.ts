/**
 * The signature scheme and its verifier, byte for byte: a fixed key, body and time give a fixed
 * signature (so a receiver in any language can check its implementation against these constants), and
 * each way a request can be wrong gives its own reason.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { signatureOf, signWebhook } from '../../lib/webhook-signature.ts';
import * as library from '../../sdk/index.ts';
import { verifyWebhookSignature } from '../../sdk/verify-webhook.ts';

const KEY = 'whsec_meshpipe_test';
const BODY = '{"version":"1","source":"meshpipe","alerts":[]}';
const NOW_MS = 1_800_000_000_000;
// HMAC-SHA256(KEY, "1800000000.{"version":"1","source":"meshpipe","alerts":[]}"), computed independently.
const EXPECTED = createHmac('sha256', KEY).update(`1800000000.${BODY}`).digest('hex');

describe('webhook signatures', () => {
  it('signs timestamp + "." + body with HMAC-SHA256, hex, as v1=', () => {
    assert.equal(signatureOf(KEY, 1_800_000_000, BODY), EXPECTED);
    assert.deepEqual(signWebhook(KEY, BODY, NOW_MS + 999), {
      'x-meshpipe-timestamp': '1800000000',
      'x-meshpipe-signature': `v1=${EXPECTED}`,
    });
  });

  const headers = signWebhook(KEY, BODY, NOW_MS);
  const CASES: Array<{
    name: string;
    options: Parameters<typeof verifyWebhookSignature>[0];
    reason?: string;
  }> = [
    { name: 'a genuine request', options: { body: BODY, headers, secret: KEY, nowMs: NOW_MS + 5_000 } },
    {
      name: 'headers in any case, a Buffer body',
      options: {
        body: Buffer.from(BODY),
        headers: {
          'X-Meshpipe-Timestamp': headers['x-meshpipe-timestamp'],
          'X-MESHPIPE-SIGNATURE': headers['x-meshpipe-signature'],
        },
        secret: KEY,
        nowMs: NOW_MS,
      },
    },
    {
      name: 'key rotation: the old key among the accepted ones',
      options: { body: BODY, headers, secret: ['new-key', KEY], nowMs: NOW_MS },
    },
    {
      name: 'a signature list with an unknown scheme beside v1',
      options: {
        body: BODY,
        headers: { ...headers, 'x-meshpipe-signature': `v0=abc,${headers['x-meshpipe-signature']}` },
        secret: KEY,
        nowMs: NOW_MS,
      },
    },
    {
      name: 'a tampered body',
      options: { body: BODY.replace('"1"', '"2"'), headers, secret: KEY, nowMs: NOW_MS },
      reason: 'signature_mismatch',
    },
    {
      name: 'a tampered timestamp',
      options: {
        body: BODY,
        headers: { ...headers, 'x-meshpipe-timestamp': '1800000001' },
        secret: KEY,
        nowMs: NOW_MS,
      },
      reason: 'signature_mismatch',
    },
    {
      name: 'another key',
      options: { body: BODY, headers, secret: 'wrong', nowMs: NOW_MS },
      reason: 'signature_mismatch',
    },
    {
      name: 'a replay after the window',
      options: { body: BODY, headers, secret: KEY, nowMs: NOW_MS + 301_000 },
      reason: 'timestamp_out_of_window',
    },
    {
      name: 'a timestamp from the future',
      options: { body: BODY, headers, secret: KEY, nowMs: NOW_MS - 301_000 },
      reason: 'timestamp_out_of_window',
    },
    {
      name: 'a narrower tolerance',
      options: { body: BODY, headers, secret: KEY, nowMs: NOW_MS + 61_000, toleranceSeconds: 60 },
      reason: 'timestamp_out_of_window',
    },
    {
      name: 'no signature header',
      options: { body: BODY, headers: {}, secret: KEY },
      reason: 'missing_header',
    },
    {
      name: 'a signature that is not hex',
      options: {
        body: BODY,
        headers: { ...headers, 'x-meshpipe-signature': 'v1=zz' },
        secret: KEY,
        nowMs: NOW_MS,
      },
      reason: 'malformed',
    },
    {
      name: 'a timestamp that is not a number',
      options: {
        body: BODY,
        headers: { ...headers, 'x-meshpipe-timestamp': 'yesterday' },
        secret: KEY,
        nowMs: NOW_MS,
      },
      reason: 'malformed',
    },
  ];
  for (const c of CASES) {
    it(`${c.reason === undefined ? 'accepts' : 'rejects'} ${c.name}`, () => {
      const result = verifyWebhookSignature(c.options);
      if (c.reason === undefined) assert.equal(result.ok, true, JSON.stringify(result));
      else assert.deepEqual(result, { ok: false, reason: c.reason });
    });
  }

  it('rejects an exact replay inside the window when given what it accepted before', () => {
    const seen = new Set<string>();
    const first = verifyWebhookSignature({ body: BODY, headers, secret: KEY, nowMs: NOW_MS, seen });
    assert.deepEqual(first, { ok: true, timestamp: 1_800_000_000, signature: EXPECTED });
    assert.deepEqual(
      verifyWebhookSignature({ body: BODY, headers, secret: KEY, nowMs: NOW_MS + 1_000, seen }),
      {
        ok: false,
        reason: 'replayed',
      },
    );
  });

  it("is part of the library: import { verifyWebhookSignature } from 'meshpipe'", () => {
    assert.equal(library.verifyWebhookSignature, verifyWebhookSignature);
    assert.equal(library.signWebhook, signWebhook);
  });

  it('works with a fetch Headers object', () => {
    const h = new Headers(headers);
    assert.equal(verifyWebhookSignature({ body: BODY, headers: h, secret: KEY, nowMs: NOW_MS }).ok, true);
  });
});
