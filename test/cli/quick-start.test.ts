/**
 * README's quick start, as printed: `meshpipe up --demo`, then the anomaly sequence exactly as the README
 * lists it — `demo fault orders <fault>` → `tail meshpipe.anomalies.v1 ...` shows the anomaly FIRING →
 * `demo fault orders none` → the same anomaly RESOLVED. The commands are read from README.md itself, so
 * the page and the test cannot disagree. Real pipeline: the eBPF collector, every processor, the demo.
 *
 * Isolation from other runs on the machine goes through the environment only, never the commands: the
 * test's Kafka and topic prefix (the README's `meshpipe.` topic prefix becomes the test's), a demo prefix
 * of its own (MESHPIPE_DEMO_PREFIX, read by `up --demo` and `demo fault` alike), any free metrics ports.
 *
 * Waiting is the fact here: the detector must see the demo's traffic for its warm-up (cli/demo-config.ts)
 * before a fault can be news. It needs root and the built eBPF loader; without them it is skipped.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEMO_CONFIG_DEFAULTS } from '../../cli/demo-config.ts';
import { LOADER_BINARY, PROJECT_ROOT } from '../../lib/paths.ts';
import type { MetricSample } from '../../schemas/types.ts';
import { type TestKafka, testKafka, testRedisUrl } from '../../testkit/kafka.ts';
import { CLI, jsonLines, runCli } from '../helpers/cli.ts';
import { waitFor } from '../helpers/wait.ts';

const REAL_CAPTURE =
  process.getuid?.() === 0 && existsSync(LOADER_BINARY) && spawnSync('ip', ['-V']).status === 0;
const DETECTOR = DEMO_CONFIG_DEFAULTS.processors['anomaly-detector'];

/** The anomaly sequence of README.md's quick start: its `./meshpipe demo fault orders` and anomalies tail lines. */
function readmeSequence(): string[][] {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  const quickStart = readme.slice(
    readme.indexOf('## Quick start'),
    readme.indexOf('\n## ', readme.indexOf('## Quick start') + 1),
  );
  const lines = quickStart
    .split('\n')
    .filter((l) => /^\.\/meshpipe (demo fault orders |tail meshpipe\.anomalies\.v1)/.test(l))
    .map((l) =>
      l
        .replace(/\s+#.*$/, '')
        .split(/\s+/)
        .slice(1),
    );
  assert.equal(lines.length, 3, `README's anomaly sequence: ${JSON.stringify(lines)}`);
  return lines;
}

function started(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, MESHPIPE_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr = (stderr + d).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

describe('README quick start: an anomaly, then its resolution', {
  skip: REAL_CAPTURE ? false : 'needs root, iproute2 and bpf/build/meshpipe-loader',
  timeout: 900_000,
}, () => {
  let k: TestKafka;
  let env: Record<string, string>;
  const children: ChildProcess[] = [];

  before(async () => {
    k = await testKafka('quick-start');
    env = {
      ...k.env,
      MESHPIPE_REDIS_URL: await testRedisUrl(),
      MESHPIPE_DEMO_PREFIX: `q${randomBytes(2).toString('hex')}-`,
      MESHPIPE_COLLECTOR_METRICS_PORT: '0',
      MESHPIPE_PROMETHEUS_LISTEN: '127.0.0.1:0',
      // Only the demo's traffic: the machine may carry other runs' HTTP too.
      MESHPIPE_COLLECTOR_PORTS: '8080',
    };
  });
  after(async () => {
    for (const child of children) child.kill('SIGINT');
    await sleep(100);
    await k?.cleanup();
  });

  it('demo fault orders → FIRING → demo fault orders none → RESOLVED', async (t) => {
    const [fault, tail, clear] = readmeSequence() as [string[], string[], string[]];
    const orders = `${env.MESHPIPE_DEMO_PREFIX}orders`;
    const up = started(['up', '--demo', '--json'], env);
    children.push(up.child);
    await waitFor('up to create the topics and start its components', () => up.stdout().includes('\n'), {
      timeoutMs: 180_000,
    });
    // The detector's own counters, from the metrics topic: when has it closed a window of demo traffic?
    const metrics = started(['tail', k.topic('metrics'), '--json'], env);
    children.push(metrics.child);
    await waitFor(
      'the anomaly detector to close its first window of demo traffic',
      () =>
        (jsonLines(metrics.stdout()) as Array<{ value?: MetricSample }>).some(
          ({ value }) =>
            value?.name === 'meshpipe.processor.events' &&
            value.labels.processor === 'anomaly-detector' &&
            value.labels.name === 'windows_closed' &&
            Number(value.value) > 0,
        ),
      { timeoutMs: 300_000, intervalMs: 1_000 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nup: ${up.stdout().slice(-3000)}\n${up.stderr()}`);
    });
    const learningFrom = Date.now();
    // Windows are time: the warm-up, one window for the last to close, one of lateness.
    await sleep((DETECTOR.warmupWindows + 2) * DETECTOR.windowMs + DETECTOR.allowedLatenessMs);

    const injected = await runCli(fault, { env });
    assert.equal(injected.code, 0, injected.stderr);
    const faultAt = Date.now();
    const anomalies = started(
      tail.map((a) => a.replace(/^meshpipe\./, `${k.prefix}.`)),
      env,
    );
    children.push(anomalies.child);
    // The README's fault is an error ratio (latency on a busy machine is also the machine's).
    const type = /errors=/.test(fault.join(' ')) ? 'ERROR_RATIO' : 'LATENCY_P50';
    const firing = new RegExp(`^\\S+ FIRING \\w+ ${type} ${orders}: (.*)$`, 'm');
    const fired = await waitFor(`${type} FIRING on orders`, () => firing.exec(anomalies.stdout())?.[1], {
      timeoutMs: 240_000,
      intervalMs: 1_000,
    }).catch((err: Error) => {
      throw new Error(
        `${err.message}\nanomalies so far:\n${anomalies.stdout()}${anomalies.stderr()}\nup: ${up.stdout().split('\n').at(-2)}`,
      );
    });
    t.diagnostic(
      `fired ${Math.round((Date.now() - faultAt) / 1000)} s after the fault (warm-up from ${Math.round((faultAt - learningFrom) / 1000)} s before): ${fired}`,
    );

    const cleared = await runCli(clear, { env });
    assert.equal(cleared.code, 0, cleared.stderr);
    const clearAt = Date.now();
    const resolved = new RegExp(`^\\S+ RESOLVED \\w+ ${type} ${orders}: `, 'm');
    await waitFor('the same anomaly RESOLVED', () => resolved.test(anomalies.stdout()), {
      timeoutMs: 300_000,
      intervalMs: 1_000,
    }).catch((err: Error) => {
      throw new Error(`${err.message}\nanomalies so far:\n${anomalies.stdout()}${anomalies.stderr()}`);
    });
    t.diagnostic(`resolved ${Math.round((Date.now() - clearAt) / 1000)} s after the fault was cleared`);
    t.diagnostic(`anomalies:\n${anomalies.stdout()}`);

    anomalies.child.kill('SIGINT');
    metrics.child.kill('SIGINT');
    up.child.kill('SIGINT');
    assert.equal(await up.exited, 0, up.stderr());
  });
});
