/**
 * The Standard Webhooks scheme, checked with the stock verifier (the `standardwebhooks` package from npm,
 * written by the Standard Webhooks project, not by us): `meshpipe alerts test` through the real queue to a
 * real HTTP receiver, as a user runs it, with the real status and attempt count in its report.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { verifyWebhookSignature } from '../../../sdk/verify-webhook.ts';
import { standardWebhooksKey } from '../../../sinks/alerts/standard-webhooks.ts';
import { testRedisUrl } from '../../../testkit/kafka.ts';
import { runCli } from '../../helpers/cli.ts';
import { dropPrefix, uniquePrefix } from './helpers.ts';
import { WebhookReceiver } from './webhook-receiver.ts';

/** A key as a Standard Webhooks sender hands it out: whsec_ and the base64 of 32 random bytes. */
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

interface TestReport {
  outcome: string;
  status: number | null;
  attempts: number;
  jobId: string;
}

describe('Standard Webhooks signatures', { timeout: 120_000 }, () => {
  const standard = new WebhookReceiver();
  const both = new WebhookReceiver();
  const flaky = new WebhookReceiver();
  const prefix = uniquePrefix('stdhooks');
  let redisUrl: string;
  let env: Record<string, string>;

  before(async () => {
    redisUrl = await testRedisUrl();
    for (const r of [standard, both, flaky]) await r.up();
    // Answers 503 once, then 200: a retry, so the report must say two attempts.
    flaky.respond = (_request, index) => ({ status: index === 0 ? 503 : 200 });
    const receiver = (name: string, url: string, signatures: string[]) => ({
      name,
      type: 'generic',
      url,
      secretEnv: 'MESHPIPE_TEST_STD_KEY',
      groupWindowMs: 0,
      signatures,
    });
    const config = join(mkdtempSync(join(tmpdir(), 'meshpipe-stdhooks-')), 'meshpipe.json');
    writeFileSync(
      config,
      JSON.stringify({
        sinks: {
          alerts: {
            queuePrefix: prefix,
            initialBackoffMs: 100,
            receivers: [
              receiver('standard', standard.url, ['standard-webhooks']),
              receiver('both', both.url, ['meshpipe', 'standard-webhooks']),
              receiver('flaky', flaky.url, ['standard-webhooks']),
            ],
          },
        },
      }),
    );
    env = { MESHPIPE_REDIS_URL: redisUrl, MESHPIPE_TEST_STD_KEY: SECRET, MESHPIPE_CONFIG: config };
  });
  after(async () => {
    for (const r of [standard, both, flaky]) await r.down();
    await dropPrefix(redisUrl, prefix);
  });

  it('the stock verifier accepts what meshpipe alerts test sends, and rejects it tampered', async () => {
    const r = await runCli(['alerts', 'test', 'standard', '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as TestReport;
    assert.deepEqual([report.outcome, report.status, report.attempts], ['delivered', 200, 1]);
    const [request] = standard.accepted();
    const headers = request!.headers as Record<string, string>;
    assert.equal(headers['webhook-id'], report.jobId, 'the message id is the idempotency key');
    assert.equal(headers['x-meshpipe-signature'], undefined, 'only the scheme asked for');
    const payload = new Webhook(SECRET).verify(request!.body, headers) as { alerts: Array<{ type: string }> };
    assert.equal(payload.alerts[0]!.type, 'TEST');
    assert.throws(
      () => new Webhook(SECRET).verify(request!.body.replace('TEST', 'TESX'), headers),
      /signature/i,
    );
    assert.throws(
      () => new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(request!.body, headers),
      /signature/i,
    );
  });

  it('both schemes on one request: each verifier accepts its own', async () => {
    const r = await runCli(['alerts', 'test', 'both'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^delivered to both \(generic\): HTTP 200 after 1 attempt\(s\)/);
    const [request] = both.accepted();
    assert.ok(new Webhook(SECRET).verify(request!.body, request!.headers as Record<string, string>));
    assert.equal(
      verifyWebhookSignature({ body: request!.body, headers: request!.headers, secret: SECRET }).ok,
      true,
    );
  });

  it('a retried delivery reports the real status and both attempts', async () => {
    const r = await runCli(['alerts', 'test', 'flaky', '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as TestReport;
    assert.deepEqual([report.outcome, report.status, report.attempts], ['delivered', 200, 2]);
    assert.deepEqual(
      flaky.requests.map((q) => q.status),
      [503, 200],
    );
    const ids = flaky.requests.map((q) => q.headers['webhook-id']);
    assert.equal(ids[0], ids[1], 'a retry keeps its message id, so the receiver can deduplicate');
    assert.ok(
      new Webhook(SECRET).verify(
        flaky.requests[1]!.body,
        flaky.requests[1]!.headers as Record<string, string>,
      ),
    );
  });

  it('a key that is not whsec_ + base64 of 24-64 bytes stops with the receiver named', async () => {
    assert.ok(Buffer.isBuffer(standardWebhooksKey(SECRET)));
    assert.match((standardWebhooksKey('whsec_not base64!') as { problem: string }).problem, /base64/);
    assert.match(
      (standardWebhooksKey(`whsec_${randomBytes(8).toString('base64')}`) as { problem: string }).problem,
      /24 to 64 bytes/,
    );
    const r = await runCli(['alerts', 'test', 'standard'], {
      env: { ...env, MESHPIPE_TEST_STD_KEY: 'plain-text-key' },
    });
    assert.equal(r.code, 78);
    assert.match(r.stderr, /MESHPIPE_ERR_ALERTS_SECRET_INVALID/);
    assert.match(r.stderr, /"standard"/);
  });
});
