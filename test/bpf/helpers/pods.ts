/**
 * "Pods" for real-kernel tests: network namespaces joined by a veth pair, as the collector sees pods on
 * a node. Names are unique per run (pid + counter) so concurrent test files never collide, and every
 * namespace is removed by `remove()` (call it from `after`) and, as a last resort, when the process exits.
 *
 * Addresses: each pair is its own isolated link, so every pair can use 10.231.0.1/30 and .2/30 without
 * conflict; nothing is routed anywhere else (no default route in a pod).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { promisify } from 'node:util';

export interface Pod {
  readonly ns: string;
  /** The pod's IPv4 address on the veth link. */
  readonly addr: string;
  /** Inode of the network namespace: what the capture reports as netnsInode. */
  readonly inode: number;
}

export interface PodPair {
  readonly a: Pod;
  readonly b: Pod;
  remove(): void;
}

const live = new Set<string>();
let counter = 0;

process.once('exit', () => {
  for (const ns of live) run('ip', ['netns', 'delete', ns], true);
});

function run(cmd: string, args: string[], ignoreFailure = false): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if (ignoreFailure) return '';
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

/** Fails with a clear message unless running as root: these tests load eBPF and create namespaces. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'the eBPF tests must run as root (they load BPF programs and create network namespaces); ' +
        'run them with sudo, or in CI as root',
    );
  }
}

export function createPodPair(tag: string): PodPair {
  const n = counter++;
  const base = `mp-${tag}-${process.pid}-${n}`;
  const nsA = `${base}-a`;
  const nsB = `${base}-b`;
  const veth = `mpv${process.pid % 100000}n${n}`; // IFNAMSIZ: at most 15 characters
  const pair: PodPair = {
    a: { ns: nsA, addr: '10.231.0.1', inode: 0 },
    b: { ns: nsB, addr: '10.231.0.2', inode: 0 },
    remove() {
      for (const ns of [nsA, nsB]) {
        run('ip', ['netns', 'delete', ns], true);
        live.delete(ns);
      }
    },
  };
  try {
    for (const ns of [nsA, nsB]) {
      run('ip', ['netns', 'add', ns]);
      live.add(ns);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    run('ip', [
      'link',
      'add',
      `${veth}a`,
      'netns',
      nsA,
      'type',
      'veth',
      'peer',
      'name',
      `${veth}b`,
      'netns',
      nsB,
    ]);
    run('ip', ['-n', nsA, 'addr', 'add', '10.231.0.1/30', 'dev', `${veth}a`]);
    run('ip', ['-n', nsB, 'addr', 'add', '10.231.0.2/30', 'dev', `${veth}b`]);
    run('ip', ['-n', nsA, 'link', 'set', `${veth}a`, 'up']);
    run('ip', ['-n', nsB, 'link', 'set', `${veth}b`, 'up']);
  } catch (err) {
    pair.remove();
    throw err;
  }
  // `ip netns add` bind-mounts the namespace at /run/netns/<name>: its inode is the namespace's.
  Object.assign(pair.a, { inode: statSync(`/run/netns/${nsA}`).ino });
  Object.assign(pair.b, { inode: statSync(`/run/netns/${nsB}`).ino });
  return pair;
}

const execFileAsync = promisify(execFile);

/** Run a command inside a pod and return its stdout (asynchronously: the capture keeps draining). */
export async function podExec(pod: Pod, cmd: string, args: string[], timeoutMs = 20_000): Promise<string> {
  const { stdout } = await execFileAsync('ip', ['netns', 'exec', pod.ns, cmd, ...args], {
    timeout: timeoutMs,
  });
  return stdout;
}

/** Start a long-running command inside a pod. */
export function podSpawn(pod: Pod, cmd: string, args: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', pod.ns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
}

const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;
/** testkit/http-server.ts, shared with the benchmarks. */
export const HTTP_SERVER = new URL('../../../testkit/http-server.ts', import.meta.url).pathname;

/** Start testkit/http-server.ts in a pod and wait (bounded) until it listens. */
export function startServer(pod: Pod, listeners: string[], timeoutMs = 10_000): Promise<ChildProcess> {
  return startFixture(pod, HTTP_SERVER, listeners, timeoutMs);
}

/** Start a Node fixture script in a pod and wait (bounded) until it prints "ready". */
export async function startFixture(
  pod: Pod,
  script: string,
  args: string[],
  timeoutMs = 15_000,
): Promise<ChildProcess> {
  const child = podSpawn(pod, process.execPath, [script, ...args]);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${script} in ${pod.ns} not ready: ${output}`)),
      timeoutMs,
    );
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('ready\n')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} in ${pod.ns} exited (${code}): ${output}`));
    });
  });
  return child;
}

/** Run fixtures/tcp-client.ts in a pod and return its JSON summary. */
export async function runClient<T = Record<string, unknown>>(
  pod: Pod,
  mode: string,
  host: string,
  port: number,
  n = 1,
): Promise<T> {
  const out = await podExec(pod, process.execPath, [
    `${FIXTURES}tcp-client.ts`,
    mode,
    host,
    String(port),
    String(n),
  ]);
  return JSON.parse(out.trim().split('\n').at(-1)!) as T;
}

/** Stop a fixture process and wait for it to be gone. */
export async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await gone;
}
