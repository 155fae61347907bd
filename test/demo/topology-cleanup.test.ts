import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type DemoPod, startDemo } from '../../demo/topology.ts';
import { isMeshpipeError } from '../../lib/errors.ts';
import { testLogger } from '../../testkit/kafka.ts';
import { waitFor } from '../helpers/wait.ts';
import { httpRequest, isAlive, leftovers, uniquePrefix } from './helpers.ts';

const HOLD_DEMO = fileURLToPath(new URL('./fixtures/hold-demo.ts', import.meta.url));

/** Starts a process holding a demo under `prefix`; resolves once the demo is up. */
async function holdDemo(prefix: string): Promise<{ child: ChildProcess; pods: DemoPod[] }> {
  const child = spawn(process.execPath, [HOLD_DEMO, prefix], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [line] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(() => {
      throw new Error('the demo holder exited before its demo was up');
    }),
  ])) as [string];
  clearTimeout(timer);
  return { child, pods: (JSON.parse(line) as { pods: DemoPod[] }).pods };
}

const pidsOf = (pods: DemoPod[]) => pods.map((p) => p.pid).filter((p): p is number => p !== null);

describe('demo cleanup across processes', () => {
  it('after a SIGKILL, the services exit and the next run with the prefix removes the leftovers', async () => {
    const prefix = uniquePrefix();
    const { child, pods } = await holdDemo(prefix);
    child.kill('SIGKILL');
    await once(child, 'exit');
    // --watch-parent: the services see their stdin close and exit with their parent.
    await waitFor('the services to exit with their parent', () => pidsOf(pods).every((p) => !isAlive(p)));
    // The namespaces stay behind a SIGKILL... unless a demo started meanwhile by a parallel test file
    // already swept them (any new demo removes a dead owner's leftovers): then nothing at all is left.
    const left = leftovers(prefix);
    if (left.length > 0) {
      for (const pod of pods) assert.ok(left.includes(pod.ns), `${pod.ns} should be left behind`);
    }

    const demo = await startDemo({ prefix, rate: 0, logger: testLogger });
    try {
      assert.equal((await httpRequest(`${demo.gatewayUrl}/api/orders/3`)).status, 200);
    } finally {
      await demo.stop();
    }
    assert.deepEqual(leftovers(prefix), []);
  });

  it('refuses a prefix a live demo holds; SIGTERM stops that demo, removes everything and exits', async () => {
    const prefix = uniquePrefix();
    const { child, pods } = await holdDemo(prefix);
    await assert.rejects(startDemo({ prefix, rate: 0, logger: testLogger }), (e) =>
      isMeshpipeError(e, 'DEMO_IN_USE'),
    );
    child.kill('SIGTERM');
    const [, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    // The library re-raises the signal once it cleaned up: the process ends the way SIGTERM ends it.
    assert.equal(signal, 'SIGTERM');
    assert.deepEqual(leftovers(prefix), []);
    assert.deepEqual(pidsOf(pods).filter(isAlive), []);
  });
});
