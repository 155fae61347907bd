import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { type Demo, startDemo } from '../../demo/topology.ts';
import { testLogger } from '../../testkit/kafka.ts';
import { CLI, jsonLines, runCli } from '../helpers/cli.ts';
import { leftovers, uniquePrefix } from './helpers.ts';

interface DemoLine {
  event: 'started' | 'status' | 'stopped';
  pods?: Array<{ name: string; ns: string }>;
  load?: { sent: number; errors: number } | null;
  services?: Record<string, { fault: string; requests: number }>;
}

describe('meshpipe demo', () => {
  it('--duration 3 --json starts, reports status lines with the start-up fault, and cleans up', async () => {
    const prefix = uniquePrefix();
    const r = await runCli(
      [
        'demo',
        '--duration',
        '3',
        '--json',
        '--prefix',
        prefix,
        '--rate',
        '20',
        '--fault',
        'inventory:errors=1',
      ],
      { timeoutMs: 60_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = jsonLines(r.stdout) as DemoLine[];
    assert.equal(lines[0]?.event, 'started');
    assert.deepEqual(
      lines[0]!.pods!.map((p) => p.ns),
      ['gateway', 'orders', 'inventory', 'client'].map((n) => `${prefix}${n}`),
    );
    const statuses = lines.filter((l) => l.event === 'status');
    assert.ok(statuses.length >= 1, r.stdout);
    const last = statuses.at(-1)!;
    assert.equal(last.services!.inventory!.fault, 'errors 100%');
    assert.ok(last.load!.sent > 0);
    // Every existing order needs inventory: with inventory failing, the load sees 5xx.
    assert.ok(last.load!.errors > 0, JSON.stringify(last.load));
    assert.equal(lines.at(-1)?.event, 'stopped');
    assert.deepEqual(leftovers(prefix), []);
  });

  it('rejects a bad fault before creating anything', async () => {
    const prefix = uniquePrefix();
    const r = await runCli(['demo', '--prefix', prefix, '--fault', 'orders:latency=soon']);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /MESHPIPE_ERR_DEMO_BAD_FAULT/);
    assert.deepEqual(leftovers(prefix), []);
  });

  it('needs root, and says so with a code', async () => {
    // uid 65534 is `nobody`.
    const r = spawnSync(process.execPath, [CLI, 'demo', '--duration', '1'], {
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.error, undefined);
    assert.equal(r.status, 77);
    assert.match(r.stderr, /MESHPIPE_ERR_DEMO_NOT_ROOT/);
  });
});

describe('meshpipe demo fault', () => {
  let demo: Demo;
  before(async () => {
    demo = await startDemo({ rate: 0, unique: true, logger: testLogger });
  });
  after(async () => demo?.stop());

  it('changes the fault of a running demo', async () => {
    const r = await runCli([
      'demo',
      'fault',
      'orders',
      'latency=250~10',
      'errors=0.5',
      '--prefix',
      demo.prefix,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      service: 'orders',
      fault: { latencyMs: 250, jitterMs: 10, errorRate: 0.5 },
    });
    assert.deepEqual((await demo.stats()).services.orders.fault, {
      latencyMs: 250,
      jitterMs: 10,
      errorRate: 0.5,
    });
  });

  it('names the problem when no demo runs under the prefix, or the service is unknown', async () => {
    const none = await runCli(['demo', 'fault', 'orders', 'none', '--prefix', uniquePrefix()]);
    assert.equal(none.code, 69);
    assert.match(none.stderr, /MESHPIPE_ERR_DEMO_NOT_RUNNING/);
    const unknown = await runCli(['demo', 'fault', 'payments', 'none', '--prefix', demo.prefix]);
    assert.equal(unknown.code, 64);
    assert.match(unknown.stderr, /MESHPIPE_ERR_DEMO_BAD_FAULT/);
  });
});
