/**
 * What each answer of a receiver means for delivery, against a real local HTTP server: the
 * classification table of webhook-request.ts, row by row, and Retry-After in both of its forms.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseRetryAfter, sendWebhook } from '../../../sinks/alerts/webhook-request.ts';
import { WebhookReceiver } from './webhook-receiver.ts';

describe('webhook requests', () => {
  const receiver = new WebhookReceiver();
  before(() => receiver.up());
  after(() => receiver.down());

  const send = (timeoutMs = 2_000) =>
    sendWebhook({
      url: receiver.url,
      body: '{}',
      key: 'k',
      idempotencyKey: 'ops.t1',
      timeoutMs,
      headers: { 'x-extra': 'yes' },
    });

  const CASES: Array<{
    status: number;
    headers?: Record<string, string>;
    kind: string;
    retryAfterMs?: number;
  }> = [
    { status: 200, kind: 'delivered' },
    { status: 202, kind: 'delivered' },
    { status: 204, kind: 'delivered' },
    { status: 429, headers: { 'retry-after': '7' }, kind: 'retry', retryAfterMs: 7_000 },
    { status: 429, kind: 'retry' },
    { status: 503, headers: { 'retry-after': '3' }, kind: 'retry', retryAfterMs: 3_000 },
    { status: 500, kind: 'retry' },
    { status: 502, kind: 'retry' },
    { status: 408, kind: 'retry' },
    { status: 400, kind: 'reject' },
    { status: 401, kind: 'reject' },
    { status: 404, kind: 'reject' },
    { status: 413, kind: 'reject' },
    { status: 301, headers: { location: 'https://elsewhere.example/hook' }, kind: 'reject' },
    { status: 307, headers: { location: 'https://elsewhere.example/hook' }, kind: 'reject' },
  ];
  for (const c of CASES) {
    it(`HTTP ${c.status}${c.headers === undefined ? '' : ` ${JSON.stringify(c.headers)}`} → ${c.kind}`, async () => {
      receiver.respond = () => ({
        status: c.status,
        ...(c.headers === undefined ? {} : { headers: c.headers }),
      });
      const before = receiver.requests.length;
      const outcome = await send();
      assert.equal(outcome.kind, c.kind, JSON.stringify(outcome));
      if (outcome.kind !== 'delivered') assert.match(outcome.error, new RegExp(`HTTP ${c.status}`));
      if (c.retryAfterMs !== undefined)
        assert.equal((outcome as { retryAfterMs?: number }).retryAfterMs, c.retryAfterMs);
      assert.equal(receiver.requests.length, before + 1, 'one request, redirects not followed');
      const got = receiver.requests.at(-1)!;
      assert.equal(got.headers['content-type'], 'application/json');
      assert.equal(got.headers['idempotency-key'], 'ops.t1');
      assert.equal(got.headers['x-extra'], 'yes');
      assert.match(String(got.headers['x-meshpipe-signature']), /^v1=[0-9a-f]{64}$/);
    });
  }

  it('no answer (refused) → retry', async () => {
    await receiver.down();
    const outcome = await send();
    assert.equal(outcome.kind, 'retry');
    assert.match((outcome as { error: string }).error, /ECONNREFUSED/);
    await receiver.up();
  });

  it('Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0, 'a date in the past: now');
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
  });
});
