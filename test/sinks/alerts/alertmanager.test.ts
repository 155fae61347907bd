/**
 * A real Alertmanager (Debian's prometheus-alertmanager, started on free ports with a temporary
 * configuration and storage) receives meshpipe's alerts through the sink: the firing transition is
 * listed by GET /api/v2/alerts with its labels, annotations, startsAt and generatorURL; after an
 * Alertmanager restart (which forgets every alert) the re-send brings it back; the resolved transition
 * takes it off the list.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningSink } from '../../../sinks/runtime/host.ts';
import { type TestKafka, testKafka, testRedisUrl } from '../../../testkit/kafka.ts';
import { waitFor } from '../../helpers/wait.ts';
import {
  anomaly,
  dropPrefix,
  freePort,
  produceAnomalies,
  sinkConfig,
  startAlertsSink,
  uniquePrefix,
} from './helpers.ts';

const ALERTMANAGER = '/usr/bin/prometheus-alertmanager';

interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  /** When Alertmanager last received it. */
  updatedAt: string;
  generatorURL?: string;
  status: { state: string };
}

class TestAlertmanager {
  readonly dir = mkdtempSync(join(tmpdir(), 'meshpipe-am-'));
  port = 0;
  #child: ChildProcess | undefined;
  #log = '';

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    const config = join(this.dir, 'alertmanager.yml');
    // A route to a receiver that does nothing: the test reads Alertmanager's own list.
    writeFileSync(
      config,
      'route:\n  receiver: blackhole\n  group_wait: 1s\nreceivers:\n  - name: blackhole\n',
    );
    const child = spawn(
      ALERTMANAGER,
      [
        `--config.file=${config}`,
        `--storage.path=${join(this.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${this.port}`,
        // No gossip: a single instance, and no port 9094 taken.
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr?.on('data', (d: Buffer) => {
      this.#log += d.toString();
    });
    this.#child = child;
    await waitFor(
      `Alertmanager ready on ${this.port}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`alertmanager exited ${child.exitCode}: ${this.#log}`);
        const r = await fetch(`${this.url}/-/ready`).catch(() => undefined);
        return r?.ok === true;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  }

  async alerts(): Promise<GettableAlert[]> {
    const r = await fetch(`${this.url}/api/v2/alerts`);
    assert.equal(r.status, 200);
    return (await r.json()) as GettableAlert[];
  }

  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('Alertmanager receiver', {
  skip: existsSync(ALERTMANAGER) ? false : `no ${ALERTMANAGER}`,
  timeout: 120_000,
}, () => {
  let k: TestKafka;
  let am: TestAlertmanager;
  let sink: RunningSink | undefined;
  let redisUrl: string;
  const prefix = uniquePrefix('alertmanager');

  before(async () => {
    k = await testKafka('alerts-am');
    await k.createTopics();
    redisUrl = await testRedisUrl();
    am = new TestAlertmanager();
    await am.start();
  });
  after(async () => {
    await sink?.stop();
    await am?.remove();
    await dropPrefix(redisUrl, prefix);
    await k?.cleanup();
  });

  it('lists the firing alert, gets it back after its restart, and drops it when resolved', async () => {
    sink = await startAlertsSink(
      k,
      redisUrl,
      sinkConfig([{ name: 'am', type: 'alertmanager', url: am.url }], {
        queuePrefix: prefix,
        externalUrl: 'http://grafana.example:3000',
        alertmanagerResendMs: 1_000,
      }),
    );
    const atMs = Date.now() - 5_000;
    const firing = anomaly({
      type: 'SLO_BURN_RATE',
      severity: 'CRITICAL',
      route: null,
      method: null,
      atMs,
      labels: { slo: 'availability', tier: 'fast', burn_rate_long: '39.47', long_window: '1h' },
    });
    await produceAnomalies(k, [firing]);

    const [alert] = await waitFor('the alert in Alertmanager', async () => {
      const list = await am.alerts();
      return list.length > 0 && list;
    });
    assert.deepEqual(alert!.labels, {
      alertname: 'MeshpipeSloBurnRate',
      severity: 'critical',
      service: 'inventory',
      meshpipe_fingerprint: firing.fingerprint,
      slo: 'availability',
      tier: 'fast',
    });
    assert.equal(alert!.annotations.summary, firing.summary);
    assert.equal(alert!.annotations.description, firing.description);
    assert.equal(alert!.annotations.observed, '0.512');
    assert.equal(alert!.annotations.burn_rate_long, '39.47', 'evidence labels are annotations');
    assert.equal(alert!.annotations.transition_id, firing.transitionId);
    assert.equal(Date.parse(alert!.startsAt), atMs);
    assert.ok(Date.parse(alert!.endsAt) > Date.now(), 'firing: valid until the next re-sends are due');
    assert.equal(alert!.generatorURL, `http://grafana.example:3000/anomalies/${firing.fingerprint}`);
    assert.equal(alert!.status.state, 'active');

    // Alertmanager keeps no alerts across a restart; the re-send puts it back. (The re-send may come
    // before the first listing after the start: what proves it is a re-send is when it was received.)
    await am.stop();
    const stoppedAt = Date.now();
    await am.start();
    const [back] = await waitFor(
      'the re-sent alert',
      async () => {
        const list = await am.alerts();
        return list.length === 1 && list;
      },
      { timeoutMs: 20_000 },
    );
    assert.ok(
      Date.parse(back!.updatedAt) >= stoppedAt,
      `received by the restarted Alertmanager (updated ${back!.updatedAt}, stopped ${new Date(stoppedAt).toISOString()})`,
    );

    const resolved = anomaly({
      fingerprint: firing.fingerprint,
      status: 'RESOLVED',
      type: 'SLO_BURN_RATE',
      severity: 'CRITICAL',
      route: null,
      method: null,
      atMs: Date.now() - 1_000,
      labels: { slo: 'availability', tier: 'fast', burn_rate_long: '0.50', long_window: '1h' },
    });
    await produceAnomalies(k, [resolved]);
    await waitFor('the alert resolved in Alertmanager', async () => (await am.alerts()).length === 0, {
      timeoutMs: 20_000,
    });
    // Resolved stays resolved: the refresh no longer sends it.
    await new Promise((r) => setTimeout(r, 2_500));
    assert.deepEqual(await am.alerts(), []);
  });
});
