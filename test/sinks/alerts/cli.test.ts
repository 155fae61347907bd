/**
 * `meshpipe alerts test`, `meshpipe alerts status` and `meshpipe sink alerts` as a user runs them (child
 * processes, a config file, the key in the environment), against the shared Redis, a real broker and a
 * real HTTP receiver.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { choosePort } from '../../../cli/stack/ports.ts';
import { verifyWebhookSignature } from '../../../sdk/verify-webhook.ts';
import { testKafka, testRedisUrl } from '../../../testkit/kafka.ts';
import { CLI, runCli } from '../../helpers/cli.ts';
import { waitFor } from '../../helpers/wait.ts';
import { anomaly, dropPrefix, produceAnomalies, SECRET, uniquePrefix } from './helpers.ts';
import { WebhookReceiver } from './webhook-receiver.ts';

describe('meshpipe alerts', { timeout: 120_000 }, () => {
  const ok = new WebhookReceiver();
  const strict = new WebhookReceiver();
  const prefix = uniquePrefix('cli');
  let redisUrl: string;
  let configFile: string;
  let env: Record<string, string>;

  before(async () => {
    redisUrl = await testRedisUrl();
    await ok.up();
    await strict.up();
    strict.respond = () => ({ status: 400 });
    configFile = join(mkdtempSync(join(tmpdir(), 'meshpipe-alerts-cli-')), 'meshpipe.json');
    const receiver = (name: string, url: string, extra: Record<string, unknown> = {}) => ({
      name,
      type: 'generic',
      url,
      secretEnv: 'MESHPIPE_TEST_ALERTS_KEY',
      groupWindowMs: 0,
      ...extra,
    });
    writeFileSync(
      configFile,
      JSON.stringify({
        sinks: {
          alerts: {
            queuePrefix: prefix,
            initialBackoffMs: 100,
            receivers: [
              receiver('ops', ok.url),
              receiver('strict', strict.url),
              receiver('nokey', ok.url, { secretEnv: 'MESHPIPE_TEST_UNSET_KEY' }),
            ],
          },
        },
      }),
    );
    env = { MESHPIPE_REDIS_URL: redisUrl, MESHPIPE_TEST_ALERTS_KEY: SECRET, MESHPIPE_CONFIG: configFile };
  });

  /** The same configuration without one receiver. */
  function configWithout(name: string): string {
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as {
      sinks: { alerts: { receivers: Array<{ name: string }> } };
    };
    config.sinks.alerts.receivers = config.sinks.alerts.receivers.filter((r) => r.name !== name);
    const file = join(mkdtempSync(join(tmpdir(), 'meshpipe-alerts-cli-')), 'meshpipe.json');
    writeFileSync(file, JSON.stringify(config));
    return file;
  }
  after(async () => {
    await ok.down();
    await strict.down();
    await dropPrefix(redisUrl, prefix);
  });

  it('alerts test delivers a signed test alert through the real queue', async () => {
    const r = await runCli(['alerts', 'test', 'ops', '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as {
      outcome: string;
      status: number;
      attempts: number;
      jobId: string;
    };
    assert.equal(result.outcome, 'delivered');
    assert.equal(result.status, 200);
    assert.equal(result.attempts, 1);
    assert.match(result.jobId, /^ops\.test-/);
    assert.equal(ok.accepted().length, 1);
    const [request] = ok.accepted();
    assert.equal(
      verifyWebhookSignature({ body: request!.body, headers: request!.headers, secret: SECRET }).ok,
      true,
    );
    const body = JSON.parse(request!.body) as {
      alerts: Array<{ test: boolean; type: string; idempotencyKey: string }>;
    };
    assert.equal(body.alerts[0]!.test, true);
    assert.equal(body.alerts[0]!.type, 'TEST');
    assert.equal(body.alerts[0]!.idempotencyKey, result.jobId);

    const text = await runCli(['alerts', 'test', 'ops'], { env });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^delivered to ops \(generic\): HTTP 200 after 1 attempt\(s\)/);
  });

  it('a receiver that answers 4xx: exit 65, and the dead letter shows in alerts status', async () => {
    const r = await runCli(['alerts', 'test', 'strict'], { env });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /\[MESHPIPE_ERR_ALERTS_RECEIVER_REJECTED\]/);
    assert.equal(strict.requests.length, 1, 'not retried');

    const s = await runCli(['alerts', 'status', '--json'], { env });
    assert.equal(s.code, 0, s.stderr);
    const report = JSON.parse(s.stdout) as {
      redis: { appendonly: string };
      receivers: Array<{
        name: string;
        counts: Record<string, number>;
        recentFailures: Array<{ state: string; reason: string }>;
      }>;
      deadLetters: {
        total: number;
        recent: Array<{ jobId: string; receiver: string; code: string; status: number; reason: string }>;
      };
    };
    assert.equal(report.redis.appendonly, 'yes');
    const byName = new Map(report.receivers.map((x) => [x.name, x]));
    assert.equal(byName.get('ops')!.counts.completed, 2);
    assert.equal(byName.get('strict')!.counts.failed, 1);
    assert.equal(byName.get('strict')!.recentFailures[0]!.state, 'failed');
    assert.match(byName.get('strict')!.recentFailures[0]!.reason, /HTTP 400/);
    assert.equal(report.deadLetters.total, 1);
    const [letter] = report.deadLetters.recent;
    assert.equal(letter!.receiver, 'strict');
    assert.equal(letter!.code, 'MESHPIPE_ERR_ALERTS_RECEIVER_REJECTED');
    assert.equal(letter!.status, 400);
    assert.match(letter!.jobId, /^strict\.test-/);

    const text = await runCli(['alerts', 'status'], { env });
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /^strict \(generic, http:\/\/127\.0\.0\.1:\d+\/hook\): waiting 0 · active 0 · delayed 0 · completed 0 · failed 1$/m,
    );
    assert.match(text.stdout, /^dead letters: 1$/m);
    assert.match(text.stdout, /MESHPIPE_ERR_ALERTS_RECEIVER_REJECTED/);
  });

  it('meshpipe sink alerts runs the sink on its own and stops cleanly on SIGTERM', async () => {
    const k = await testKafka('alerts-cli-sink');
    await k.createTopics();
    const port = await choosePort(39_468);
    const child = spawn(
      process.execPath,
      [CLI, 'sink', 'alerts', '--listen', `127.0.0.1:${port}`, '--json'],
      {
        env: {
          ...process.env,
          ...env,
          ...k.env,
          MESHPIPE_LOG_LEVEL: 'warn',
          // The receiver without a key is another test's; this config has the two that have one.
          MESHPIPE_CONFIG: configWithout('nokey'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor('the sink reports status', () => stdout.includes('"sink":"alerts"'), {
        timeoutMs: 60_000,
      });
      const before = ok.accepted().length;
      const transition = anomaly();
      await produceAnomalies(k, [transition]);
      await waitFor('the transition at the receiver', () => ok.accepted().length > before, {
        timeoutMs: 60_000,
      });
      const last = JSON.parse(ok.accepted().at(-1)!.body) as { alerts: Array<{ transitionId: string }> };
      assert.equal(last.alerts[0]!.transitionId, transition.transitionId);
      // Probes and scraping as for every component (lib/http/health-routes.ts).
      const base = `http://127.0.0.1:${port}`;
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
      await waitFor('the enqueued transition on /metrics', async () =>
        /^meshpipe_sink_records_exported_total\{[^}]*sink="alerts"[^}]*\} 1$/m.test(
          await (await fetch(`${base}/metrics`)).text(),
        ),
      );
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
    } finally {
      child.kill('SIGKILL');
      await k.cleanup();
    }
  });

  it('names what is wrong: an unknown receiver (64), a missing key (78)', async () => {
    const unknown = await runCli(['alerts', 'test', 'nosuch'], { env });
    assert.equal(unknown.code, 64);
    assert.match(unknown.stderr, /\[MESHPIPE_ERR_ALERTS_RECEIVER_UNKNOWN\]/);
    assert.match(unknown.stderr, /configured: ops, strict, nokey/);
    const nokey = await runCli(['alerts', 'test', 'nokey'], { env });
    assert.equal(nokey.code, 78);
    assert.match(nokey.stderr, /\[MESHPIPE_ERR_ALERTS_SECRET_MISSING\]/);
    assert.match(nokey.stderr, /MESHPIPE_TEST_UNSET_KEY/);
  });
});
