/**
 * `meshpipe sink otlp` and `meshpipe up --otlp-endpoint` as real processes: killed mid-outage and
 * restarted, the sink loses nothing, because nothing was committed before the receiver acknowledged it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { choosePort } from '../../../cli/stack/ports.ts';
import { type TestKafka, testRedisUrl } from '../../../testkit/kafka.ts';
import { OtlpReceiver } from '../../../testkit/otlp-receiver.ts';
import {
  allCommitted,
  committed,
  makeTraces,
  produceSpans,
  QUICK,
  sinkKafka,
} from '../../../testkit/span-traffic.ts';
import { runCli, startCli as start } from '../../helpers/cli.ts';
import { waitFor } from '../../helpers/wait.ts';

describe('meshpipe sink otlp', { timeout: 240_000 }, () => {
  let k: TestKafka;
  let receiver: OtlpReceiver;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    k = await sinkKafka('sink-command');
    receiver = await OtlpReceiver.start();
    dir = mkdtempSync(join(tmpdir(), 'meshpipe-sink-'));
    const config = join(dir, 'meshpipe.json');
    // A short session: the killed instance's partitions go to its successor after 6 s (the broker's
    // minimum), not 30 s.
    const runtime = { ...QUICK.runtime, sessionTimeoutMs: 6000, heartbeatIntervalMs: 1000 };
    writeFileSync(
      config,
      JSON.stringify({ sinks: { otlp: { ...QUICK, runtime, maxBufferedRecords: 1000 } } }),
    );
    env = { ...k.env, MESHPIPE_CONFIG: config };
  });
  after(async () => {
    await receiver.close();
    await k.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 78 naming the fix when no endpoint is configured', async () => {
    const r = await runCli(['sink', 'otlp'], { env: { ...env, MESHPIPE_OTLP_ENDPOINT: '' } });
    assert.equal(r.code, 78);
    assert.match(r.stderr, /MESHPIPE_ERR_OTLP_ENDPOINT_MISSING/);
    assert.match(r.stderr, /--endpoint/);
  });

  it('killed mid-outage and restarted, it loses nothing: no offset is committed before the ack', async () => {
    await receiver.stop(); // down from the start
    const spans = makeTraces(40, 20);
    const first = start(['sink', 'otlp', '--endpoint', receiver.endpoint, '--json'], env);
    try {
      await waitFor('the sink to join its group', () => first.lines.some((l) => l.state !== 'starting'), {
        timeoutMs: 60_000,
      });
      await produceSpans(k, spans);
      await waitFor(
        'the sink to have read every span and to be retrying',
        () =>
          first.lines.some(
            (l) =>
              (l.counters as { consumed?: number } | undefined)?.consumed === spans.length &&
              l.state === 'degraded' &&
              /retrying UNAVAILABLE/.test(String(l.summary)),
          ),
        { timeoutMs: 60_000 },
      );
      const offsets = await committed(k, `${k.prefix}-sink-otlp`);
      assert.ok(
        [...offsets.values()].every((o) => o === '-1'),
        `nothing committed: ${JSON.stringify([...offsets])}`,
      );
    } finally {
      first.child.kill('SIGKILL');
      await first.exited;
    }

    await receiver.restart();
    const port = await choosePort(39_467);
    const second = start(
      ['sink', 'otlp', '--endpoint', receiver.endpoint, '--listen', `127.0.0.1:${port}`, '--json'],
      env,
    );
    try {
      await waitFor(
        'every span after the restart',
        () => new Set(receiver.spans().map((s) => s.spanId)).size === spans.length,
        {
          timeoutMs: 90_000,
        },
      );
      await waitFor('all offsets committed', () => allCommitted(k, `${k.prefix}-sink-otlp`));
      // Probes and scraping as for every component (lib/http/health-routes.ts).
      const base = `http://127.0.0.1:${port}`;
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      await waitFor('/readyz 200', async () => (await fetch(`${base}/readyz`)).status === 200);
      await waitFor('the exported spans on /metrics', async () =>
        new RegExp(
          `^meshpipe_sink_records_exported_total\\{[^}]*sink="otlp"[^}]*\\} ${spans.length}$`,
          'm',
        ).test(await (await fetch(`${base}/metrics`)).text()),
      );
    } finally {
      second.child.kill('SIGTERM');
    }
    assert.equal(await second.exited, 0, second.stderr());
    assert.deepEqual(
      [...new Set(receiver.spans().map((s) => s.spanId))].sort(),
      spans.map((s) => s.spanId).sort(),
    );
  });

  it('runs under `meshpipe up --otlp-endpoint` as a supervised component', async () => {
    const spans = makeTraces(3, 21);
    // Only what this test is about: no eBPF capture of the whole machine, no /metrics port.
    const up = start(['up', '--json', '--no-collector', '--otlp-endpoint', receiver.endpoint], {
      ...env,
      MESHPIPE_REDIS_URL: await testRedisUrl(),
      MESHPIPE_PROMETHEUS_ENABLED: 'false',
    });
    try {
      await waitFor(
        'the otlp sink to report ok',
        () =>
          up.lines.some((l) =>
            (l.components as Array<{ name: string; state: string }> | undefined)?.some(
              (c) => c.name === 'sink/otlp' && c.state === 'ok',
            ),
          ),
        { timeoutMs: 90_000 },
      );
      const before = receiver.spans().length;
      await produceSpans(k, spans);
      await waitFor('spans delivered by the supervised sink', () =>
        spans.every((s) =>
          receiver
            .spans()
            .slice(before)
            .some((r) => r.spanId === s.spanId),
        ),
      );
    } finally {
      up.child.kill('SIGINT');
    }
    assert.equal(await up.exited, 0, up.stderr());
  });
});
