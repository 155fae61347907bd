/**
 * LoaderProcess and the meshpipe-loader binary as a process: options, start-up failures as typed
 * errors (each produced for real: missing BTF, no privileges, no tracefs), clean stops, and loss
 * accounting when the reader is slow. Needs root (it loads the real programs).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LoaderError } from '../../../../collectors/capture/loader/loader-error.ts';
import {
  DEFAULT_LOADER_BINARY,
  LoaderProcess,
  loaderArguments,
} from '../../../../collectors/capture/loader/loader-process.ts';
import {
  type LoaderRecord,
  RecordDecoder,
  type StatsRecord,
} from '../../../../collectors/capture/loader/record-decoder.ts';
import { LoaderExitCode } from '../../../../collectors/capture/loader/record-layout.ts';
import { isMeshpipeError } from '../../../../lib/errors.ts';
import { requireRoot } from '../../../bpf/helpers/pods.ts';
import { waitFor } from '../../../helpers/wait.ts';

requireRoot();

/** A wrapper script that runs the loader under `prefix` (to take privileges away from it). */
function wrapper(dir: string, name: string, prefix: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\nexec ${prefix} ${DEFAULT_LOADER_BINARY} "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}

async function startFailure(options: Parameters<typeof LoaderProcess.start>[0]): Promise<LoaderError> {
  const loader = LoaderProcess.start(options);
  const err = await loader.ready.then(
    () => assert.fail('the loader became ready'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof LoaderError, String(err));
  assert.ok(isMeshpipeError(err));
  const exit = await loader.exited;
  assert.equal(exit.error, err);
  return err;
}

describe('loaderArguments', () => {
  it('maps options to flags and always excludes the agent itself', () => {
    assert.deepStrictEqual(
      loaderArguments({
        capBytes: 512,
        pollMs: 5,
        ports: [80, 8080],
        pids: [7],
        cgroups: [12n],
        asyncConnect: false,
        schedIdle: true,
        schedIdlePids: [42],
      }),
      [
        '--cap-bytes',
        '512',
        '--poll-ms',
        '5',
        '--exclude-pid',
        String(process.pid),
        '--pid',
        '7',
        '--port',
        '80',
        '--port',
        '8080',
        '--cgroup',
        '12',
        '--no-async-connect',
        '--sched-idle',
        '--sched-idle-pid',
        '42',
      ],
    );
  });
});

describe('meshpipe-loader start-up failures', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'meshpipe-loader-test-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints usage for --help and exits 0', () => {
    const r = spawnSync(DEFAULT_LOADER_BINARY, ['--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^Usage: meshpipe-loader/);
    assert.match(r.stdout, /--cap-bytes/);
  });

  const USAGE: Array<[string, string[]]> = [
    ['an out-of-range value', ['--cap-bytes', '0']],
    ['a non-numeric value', ['--port', 'http']],
    ['a ring size that is not a power of two', ['--ring-mb', '3']],
    ['an unknown flag', ['--frobnicate']],
    ['a missing value', ['--pid']],
  ];
  for (const [name, args] of USAGE) {
    it(`exits ${LoaderExitCode.USAGE} on ${name}`, () => {
      const r = spawnSync(DEFAULT_LOADER_BINARY, args, { encoding: 'utf8' });
      assert.equal(r.status, LoaderExitCode.USAGE);
      assert.match(r.stderr, /Try 'meshpipe-loader --help'/);
    });
  }

  it('reports bad options as LOADER_USAGE', async () => {
    const err = await startFailure({ capBytes: 100_000 });
    assert.equal(err.code, 'MESHPIPE_ERR_LOADER_USAGE');
    assert.equal(err.loaderExitCode, LoaderExitCode.USAGE);
    assert.match(err.message, /--cap-bytes must be an integer in 1\.\.8192/);
  });

  it('reports missing BTF as LOADER_NO_BTF with the kernel option to fix it', async () => {
    const err = await startFailure({ btf: join(dir, 'no-such-btf') });
    assert.equal(err.code, 'MESHPIPE_ERR_LOADER_NO_BTF');
    assert.equal(err.loaderExitCode, LoaderExitCode.NO_BTF);
    assert.match(err.hint ?? '', /CONFIG_DEBUG_INFO_BTF/);
  });

  it('reports an unprivileged start as LOADER_PERMISSION with the capabilities to grant', async () => {
    const binary = wrapper(dir, 'as-nobody', 'setpriv --reuid=65534 --regid=65534 --clear-groups');
    const err = await startFailure({ binary });
    assert.equal(err.code, 'MESHPIPE_ERR_LOADER_PERMISSION');
    assert.equal(err.loaderExitCode, LoaderExitCode.PERMISSION);
    assert.match(err.hint ?? '', /CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE/);
  });

  it('reports tracefs it cannot mount as LOADER_TRACEFS with the mount command', async () => {
    // A private mount namespace without tracefs, and a loader without CAP_SYS_ADMIN to mount it.
    const binary = join(dir, 'no-tracefs');
    writeFileSync(
      binary,
      '#!/bin/sh\n' +
        `exec unshare -m sh -c 'umount /sys/kernel/tracing 2>/dev/null; umount /sys/kernel/debug 2>/dev/null; ` +
        `exec setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin ${DEFAULT_LOADER_BINARY} "$@"' loader "$@"\n`,
    );
    chmodSync(binary, 0o755);
    const err = await startFailure({ binary });
    assert.equal(err.code, 'MESHPIPE_ERR_LOADER_TRACEFS');
    assert.equal(err.loaderExitCode, LoaderExitCode.TRACEFS);
    assert.match(err.hint ?? '', /mount -t tracefs tracefs \/sys\/kernel\/tracing/);
  });

  it('reports a missing binary as LOADER_BINARY_MISSING', async () => {
    const err = await startFailure({ binary: join(dir, 'not-built') });
    assert.equal(err.code, 'MESHPIPE_ERR_LOADER_BINARY_MISSING');
    assert.match(err.hint ?? '', /make -C bpf/);
  });
});

describe('meshpipe-loader lifecycle', () => {
  it('stops cleanly on stop() (SIGTERM) after it was ready', async () => {
    const loader = LoaderProcess.start({ ports: [1] });
    const ready = await loader.ready;
    assert.equal(ready.loaderTgid, loader.pid);
    assert.equal(ready.captureCap, 4096);
    const exit = await loader.stop();
    assert.deepStrictEqual(exit, { code: 0, signal: null, error: null });
  });

  it('runs under SCHED_IDLE, with every thread of the processes it is given', async () => {
    // A stand-in for the agent with a second thread (node itself; the test runner must stay normal).
    // It says when its code runs: Node's threads are all started by then, as an agent's are when the
    // collector starts its loader (a thread started while the loader walks the list could be missed).
    const agent = spawn(process.execPath, ['-e', 'console.log("up"); setInterval(() => {}, 1000)'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let loader: LoaderProcess | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        agent.stdout!.once('data', () => resolve());
        agent.once('exit', (code) => reject(new Error(`the stand-in agent exited (${code})`)));
      });
      loader = LoaderProcess.start({ ports: [1], schedIdle: true, schedIdlePids: [agent.pid!] });
      await loader.ready;
      const policies = (pid: number) =>
        readdirSync(`/proc/${pid}/task`).map((tid) => {
          const m = /^policy\s*:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/task/${tid}/sched`, 'utf8'));
          return Number(m?.[1]);
        });
      const SCHED_IDLE = 5;
      assert.deepStrictEqual(new Set(policies(loader.pid!)), new Set([SCHED_IDLE]));
      assert.ok(policies(agent.pid!).length > 1);
      assert.deepStrictEqual(new Set(policies(agent.pid!)), new Set([SCHED_IDLE]));
      assert.deepStrictEqual(await loader.stop(), { code: 0, signal: null, error: null });
    } finally {
      // A failed assertion must not leave the loader running: it would keep this file from ending.
      await loader?.stop();
      agent.kill('SIGKILL');
    }
  });

  it('exits 0 by itself when its stdin closes (the agent died)', async () => {
    const child = spawn(DEFAULT_LOADER_BINARY, ['--port', '1'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const decoder = new RecordDecoder();
    const records: LoaderRecord[] = [];
    child.stdout.on('data', (chunk: Buffer) => records.push(...decoder.push(chunk)));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await waitFor('READY', () => records[0]?.kind === 'ready', { timeoutMs: 20_000 });
    child.stdin.end();
    assert.equal(await exited, 0);
  });

  it('drops and counts in user space when the reader does not keep up', async () => {
    // An 8 KiB response per request, fully copied (cap 8192), and a reader that reads nothing until
    // the traffic is over: the pipe and a 1 MiB output buffer fill, later records must be dropped.
    const body = Buffer.alloc(8000, 'x');
    const server = createServer((_req, res) => res.end(body));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const child = spawn(
      DEFAULT_LOADER_BINARY,
      ['--port', String(port), '--cap-bytes', '8192', '--output-mb', '1', '--stats-ms', '100'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    try {
      const decoder = new RecordDecoder();
      const records: LoaderRecord[] = [];
      const onData = (chunk: Buffer) => records.push(...decoder.push(chunk));
      child.stdout.on('data', onData);
      await waitFor('READY', () => records[0]?.kind === 'ready', { timeoutMs: 20_000 });
      child.stdout.pause();

      const agent = new Agent({ keepAlive: true, maxSockets: 4 });
      const fetchOne = () =>
        new Promise<void>((resolve, reject) =>
          get({ host: '127.0.0.1', port, agent }, (res) => res.resume().on('end', resolve)).on(
            'error',
            reject,
          ),
        );
      for (let i = 0; i < 100; i++) await Promise.all([fetchOne(), fetchOne(), fetchOne(), fetchOne()]);
      agent.destroy();

      child.stdout.resume();
      const stats = await waitFor(
        'a STATS record counting user-space drops',
        () => records.findLast((r): r is StatsRecord => r.kind === 'stats' && r.loaderDroppedRecords > 0),
        { timeoutMs: 20_000 },
      );
      assert.ok(stats.forwardedRecords > 0);
      assert.ok(stats.loaderDroppedBytes > 0);
      assert.equal(stats.ringRecords, stats.forwardedRecords + stats.loaderDroppedRecords);
      assert.equal(stats.kernelDrops.RINGBUF_FULL, 0, 'the kernel side never waited for the reader');
    } finally {
      child.kill('SIGTERM');
      server.close();
    }
  });
});
