/**
 * The moving parts of the collector benchmark: two pods joined by a veth pair, nginx in one, wrk in the
 * other, and `meshpipe collect` as the real child process (so its CPU and memory, and its loader's, are
 * read from /proc exactly as an operator would see them).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { procUsage } from '../../collectors/proc-usage.ts';

const execFileAsync = promisify(execFile);
export const CLI = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
export const RATE_SCRIPT = fileURLToPath(new URL('./rate.lua', import.meta.url));

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface Pods {
  client: string;
  server: string;
  serverAddress: string;
  remove(): void;
}

/** Two network namespaces and a veth pair between them (10.232.0.1 ↔ 10.232.0.2). */
export function createPods(): Pods {
  const base = `mp-bench-${process.pid}`;
  const client = `${base}-c`;
  const server = `${base}-s`;
  const veth = `mpb${process.pid % 100000}`;
  const remove = () => {
    for (const ns of [client, server]) {
      try {
        ip('netns', 'delete', ns);
      } catch {
        // not there
      }
    }
  };
  process.once('exit', remove);
  try {
    for (const ns of [client, server]) {
      ip('netns', 'add', ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    ip(
      'link',
      'add',
      `${veth}c`,
      'netns',
      client,
      'type',
      'veth',
      'peer',
      'name',
      `${veth}s`,
      'netns',
      server,
    );
    ip('-n', client, 'addr', 'add', '10.232.0.1/30', 'dev', `${veth}c`);
    ip('-n', server, 'addr', 'add', '10.232.0.2/30', 'dev', `${veth}s`);
    ip('-n', client, 'link', 'set', `${veth}c`, 'up');
    ip('-n', server, 'link', 'set', `${veth}s`, 'up');
  } catch (err) {
    remove();
    throw err;
  }
  return { client, server, serverAddress: '10.232.0.2', remove };
}

/** nginx with one worker answering `200 ok` on `port`, inside `ns`. */
export async function startNginx(ns: string, port: number): Promise<{ stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'meshpipe-bench-nginx-'));
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/b; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;
  keepalive_requests 10000000;
  server { listen ${port}; location / { return 200 "ok\\n"; } }
}
`,
  );
  const child = spawn('ip', ['netns', 'exec', ns, 'nginx', '-p', dir, '-c', conf], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const out = await execFileAsync('ip', ['netns', 'exec', ns, 'ss', '-ltn', `sport = :${port}`]);
    if (out.stdout.includes(`:${port}`)) break;
    await sleep(50);
  }
  return {
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface WrkResult {
  requests: number;
  requestsPerSecond: number;
  latencyAvgMs: number;
  latencyP99Ms: number;
}

function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (m === null) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

/**
 * wrk in `ns` against `url` at about `rps` requests per second: each of `connections` keep-alive
 * connections waits 10 ms between requests (rate.lua).
 */
export async function runWrk(ns: string, url: string, rps: number, seconds: number): Promise<WrkResult> {
  const delayMs = 10;
  const connections = Math.max(1, Math.ceil((rps * delayMs) / 1000));
  const { stdout } = await execFileAsync(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'wrk',
      '-t1',
      `-c${connections}`,
      `-d${seconds}s`,
      '--latency',
      '-s',
      RATE_SCRIPT,
      url,
      '--',
      String(delayMs),
    ],
    { timeout: (seconds + 30) * 1000 },
  );
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? Number.NaN);
  return {
    requests,
    requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN),
    latencyAvgMs: ms(/Latency\s+(\S+)/.exec(stdout)?.[1] ?? ''),
    latencyP99Ms: ms(/\s99%\s+(\S+)/.exec(stdout)?.[1] ?? ''),
  };
}

/** A `meshpipe collect` child process, with its metrics endpoint. */
export interface CollectorProcess {
  readonly agentPid: number;
  loaderPid(): number | null;
  metrics(): Promise<Map<string, number>>;
  stop(): Promise<void>;
}

export async function startCollectorProcess(options: {
  env: Record<string, string>;
  nodeFlags?: string[];
  metricsPort: number;
  /** cli/main.ts (default: what `meshpipe up` runs) or a precompiled cli/main.js (bench/overhead). */
  entry?: string;
}): Promise<CollectorProcess> {
  const argv = [...(options.nodeFlags ?? []), options.entry ?? CLI, 'collect'];
  const child: ChildProcess = spawn(process.execPath, argv, {
    env: {
      ...process.env,
      MESHPIPE_LOG_LEVEL: 'warn',
      MESHPIPE_COLLECTOR_METRICS_PORT: String(options.metricsPort),
      ...options.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // Its log, for the error message if it fails (the progress line would clutter the bench's output).
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const base = `http://127.0.0.1:${options.metricsPort}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`meshpipe collect exited with ${child.exitCode}: ${stderr}`);
    try {
      if ((await fetch(`${base}/readyz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (i > 300) {
      child.kill('SIGKILL');
      throw new Error(`meshpipe collect did not become healthy within 30 s: ${stderr}`);
    }
    await sleep(100);
  }
  const agentPid = child.pid!;
  return {
    agentPid,
    loaderPid: () => childOf(agentPid, 'meshpipe-loader'),
    metrics: async () => parseExposition(await (await fetch(`${base}/metrics`)).text()),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

function childOf(parent: number, comm: string): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (ppid === parent && name === comm) return Number(entry);
    } catch {
      // gone
    }
  }
  return null;
}

/** Prometheus text → `name{labels}` → value. */
export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** Sum of the series of `name` whose label text matches `labels`. */
export function sumOf(metrics: Map<string, number>, name: string, labels: RegExp = /.*/): number {
  let total = 0;
  for (const [series, value] of metrics) {
    if (series === name || (series.startsWith(`${name}{`) && labels.test(series))) total += value;
  }
  return total;
}

/** CPU seconds (user + system) of a process, 0 when gone. */
export function cpuSeconds(pid: number | null): number {
  return pid === null ? 0 : (procUsage(pid)?.cpuSeconds ?? 0);
}

export function rssBytes(pid: number | null): number {
  return pid === null ? 0 : (procUsage(pid)?.rssBytes ?? 0);
}

/** Bytes Kafka stores for a topic on the local broker (its partitions' log segments). */
export function storedBytes(dataDir: string, topic: string): number | null {
  let total = 0;
  let found = false;
  let entries: string[];
  try {
    entries = readdirSync(dataDir);
  } catch {
    return null;
  }
  for (const dir of entries) {
    if (!dir.startsWith(`${topic}-`)) continue;
    found = true;
    for (const file of readdirSync(join(dataDir, dir))) {
      if (file.endsWith('.log')) total += statSync(join(dataDir, dir, file)).size;
    }
  }
  return found ? total : null;
}
