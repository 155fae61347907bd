/**
 * What meshpipe leaves in the kernel: nothing of a loader outlives it. The eBPF programs, maps and
 * links a loader owns (read from its file descriptors: /proc/<pid>/fdinfo names each object's id) must
 * be gone from `bpftool prog/map/link show` once it is gone, however it went:
 *   - the loader is killed (SIGKILL): the agent starts another, and only the new one's objects remain;
 *   - the agent is killed (SIGKILL): its loader notices (stdin closed) and goes, and its objects with it;
 *   - an upgrade: the new build's loader starts while the old one still runs (a rolling restart), the
 *     old one stops, and only the new one's objects remain.
 * Other engineers' loaders may run at the same time on this machine: only the ids our loaders owned are
 * asserted about. Needs root.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_LOADER_BINARY, LoaderProcess } from '../../collectors/capture/loader/loader-process.ts';
import type { Collector } from '../../collectors/collector.ts';
import { type TestKafka, testKafka } from '../../testkit/kafka.ts';
import { startCli } from '../collectors/helpers/cli-child.ts';
import { collectorConfig, startCollector } from '../collectors/helpers/harness.ts';
import { waitFor } from '../helpers/wait.ts';
import { requireRoot } from './helpers/pods.ts';

requireRoot();

type Kind = 'prog' | 'map' | 'link';
type Objects = Record<Kind, number[]>;

const FDINFO_ID = /^(prog|map|link)_id:\s*(\d+)$/m;

/** The eBPF objects a process holds a file descriptor of, by kind and id. */
function ownedBy(pid: number): Objects {
  const out: Objects = { prog: [], map: [], link: [] };
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    let info: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (!target.startsWith('anon_inode:bpf')) continue;
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const m = FDINFO_ID.exec(info);
    if (m !== null) out[m[1] as Kind].push(Number(m[2]));
  }
  return out;
}

/** Which of `objects` `bpftool <kind> show` still lists. */
function stillListed(objects: Objects): Objects {
  const out: Objects = { prog: [], map: [], link: [] };
  for (const kind of ['prog', 'map', 'link'] as const) {
    const listed = new Set(
      (
        JSON.parse(execFileSync('bpftool', ['-j', kind, 'show'], { encoding: 'utf8' })) as Array<{
          id: number;
        }>
      ).map((o) => o.id),
    );
    out[kind] = objects[kind].filter((id) => listed.has(id));
  }
  return out;
}

const count = (o: Objects) => o.prog.length + o.map.length + o.link.length;

/** The kernel frees objects a moment after their last reference goes (RCU): waited for, bounded. */
async function assertGone(objects: Objects, what: string): Promise<void> {
  await waitFor(
    `${what}: none of its ${count(objects)} eBPF objects listed by bpftool`,
    () => count(stillListed(objects)) === 0,
    {
      timeoutMs: 20_000,
      intervalMs: 200,
    },
  );
}

function assertLoaded(objects: Objects, what: string): void {
  // Every tracepoint program has its link; the ring buffer and the connection table are maps.
  assert.ok(
    objects.prog.length >= 10 && objects.link.length >= 10 && objects.map.length >= 5,
    `${what}: ${JSON.stringify(objects)}`,
  );
  assert.deepEqual(stillListed(objects), objects, `${what}: bpftool lists everything it owns`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The meshpipe-loader child of a process. */
function loaderChildOf(pid: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...; comm is at most 15 bytes: "meshpipe-loader" fits exactly.
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
      if (m?.[1] === 'meshpipe-loader' && Number(m[2]) === pid) return Number(entry);
    } catch {}
  }
  return undefined;
}

describe('kernel objects: nothing of a loader outlives it', () => {
  let k: TestKafka;
  let collector: Collector | undefined;
  let dir: string;
  before(async () => {
    k = await testKafka('kernel-objects');
    await k.createTopics();
    dir = mkdtempSync(join(tmpdir(), 'meshpipe-kernel-objects-'));
  });
  after(async () => {
    await collector?.stop();
    await k?.cleanup();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('after SIGKILL of the loader, the agent runs a new one and only its objects remain', async () => {
    collector = (
      await startCollector(
        collectorConfig({ brokers: k.brokers, prefix: k.prefix, collector: { ports: [1] } }),
      )
    ).collector;
    const first = collector.loaderPid!;
    const before = ownedBy(first);
    assertLoaded(before, 'the first loader');
    process.kill(first, 'SIGKILL');
    const second = await waitFor('a new loader', () => {
      const pid = collector!.loaderPid;
      return pid !== undefined && pid !== first ? pid : false;
    });
    await assertGone(before, 'the killed loader');
    const now = ownedBy(second);
    assertLoaded(now, 'the new loader');
    await collector.stop();
    collector = undefined;
    await assertGone(now, 'the loader of a stopped agent');
  });

  it('after SIGKILL of the agent, its loader goes, and its objects with it', async () => {
    const agent = startCli(['collect'], {
      ...k.env,
      MESHPIPE_COLLECTOR_PORTS: '1',
      MESHPIPE_COLLECTOR_METRICS_PORT: '0',
    });
    try {
      await agent.ready;
      const loader = await waitFor("the agent's loader", () => loaderChildOf(agent.child.pid!) ?? false);
      const objects = ownedBy(loader);
      assertLoaded(objects, "the agent's loader");
      agent.child.kill('SIGKILL');
      await waitFor('the loader exits', () => !alive(loader), { timeoutMs: 20_000 });
      await assertGone(objects, 'the loader of a killed agent');
    } finally {
      await agent.stop();
    }
  });

  it("after an upgrade (the new build starts, then the old one stops), only the new one's objects remain", async () => {
    // Two builds of the loader: each binary embeds its programs (the skeleton).
    const oldBuild = join(dir, 'meshpipe-loader-old');
    const newBuild = join(dir, 'meshpipe-loader-new');
    copyFileSync(DEFAULT_LOADER_BINARY, oldBuild);
    copyFileSync(DEFAULT_LOADER_BINARY, newBuild);
    execFileSync('chmod', ['755', oldBuild, newBuild]);
    const old = LoaderProcess.start({ binary: oldBuild, ports: [1] });
    const upgraded = LoaderProcess.start({ binary: newBuild, ports: [1] });
    try {
      await Promise.all([old.ready, upgraded.ready]);
      const oldObjects = ownedBy(old.pid!);
      const newObjects = ownedBy(upgraded.pid!);
      assertLoaded(oldObjects, 'the old build');
      assertLoaded(newObjects, 'the new build');
      assert.equal(
        oldObjects.prog.filter((id) => newObjects.prog.includes(id)).length,
        0,
        'separate programs',
      );
      assert.deepEqual(await old.stop(), { code: 0, signal: null, error: null });
      await assertGone(oldObjects, 'the old build');
      assert.deepEqual(stillListed(newObjects), newObjects, 'the new build keeps all its objects');
      await upgraded.stop();
      await assertGone(newObjects, 'the new build, stopped');
    } finally {
      await old.stop().catch(() => {});
      await upgraded.stop().catch(() => {});
    }
  });
});
