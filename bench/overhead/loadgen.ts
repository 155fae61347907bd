/**
 * Builds and runs the paced load generator (loadgen.c: why not wrk is explained there), and merges
 * its histograms so that repetitions combine exactly rather than by averaging percentiles.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { podExecArgs } from '../../demo/netns.ts';

const execFileAsync = promisify(execFile);
const SOURCE = fileURLToPath(new URL('./loadgen.c', import.meta.url));
const BUILD_DIR = fileURLToPath(new URL('../../.local/bench/', import.meta.url));

/** Compiles loadgen.c once per source version (into .local/bench/, git-ignored); returns the binary. */
export function buildLoadgen(): string {
  const source = readFileSync(SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const binary = join(BUILD_DIR, `loadgen-${hash}`);
  if (!existsSync(binary)) {
    mkdirSync(BUILD_DIR, { recursive: true });
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-o', binary, SOURCE, '-lssl', '-lcrypto'], {
      stdio: 'inherit',
    });
  }
  return binary;
}

export interface Histogram {
  count: number;
  meanNs: number;
  p50Ns: number;
  p90Ns: number;
  p99Ns: number;
  p999Ns: number;
  maxNs: number;
  /** [bucket value ns, count], ascending. */
  buckets: Array<[number, number]>;
}

export interface LoadResult {
  targetRps: number;
  conns: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Requests due in the measurement window. */
  scheduled: number;
  /** Of those, answered (2xx or not) before the end of the drain. */
  completed: number;
  achievedRps: number;
  sent: number;
  errors: number;
  reconnects: number;
  non2xx: number;
  lateSends: number;
  cpuSeconds: number;
  /** From the request's due time (open-loop, what users see). */
  latency: Histogram;
  /** From the actual write. */
  serviceTime: Histogram;
  sendLag: Histogram;
  /** The generator's own lateness (connections idle before their request was due). */
  timerLag: Histogram;
}

export interface LoadOptions {
  binary: string;
  ns: string;
  host: string;
  port: number;
  conns: number;
  rate: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** CPU list for taskset. */
  cpus: string;
  /** HTTPS (loadgen --tls). */
  tls?: boolean;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const argv = [
    'taskset',
    '-c',
    o.cpus,
    o.binary,
    '--host',
    o.host,
    '--port',
    String(o.port),
    '--path',
    '/',
    '--conns',
    String(o.conns),
    '--rate',
    String(o.rate),
    '--warmup',
    String(o.warmupSeconds),
    '--duration',
    String(o.durationSeconds),
    ...(o.tls === true ? ['--tls'] : []),
  ];
  const { stdout } = await execFileAsync('ip', podExecArgs(o.ns, argv), {
    timeout: (o.warmupSeconds + o.durationSeconds + 30) * 1000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout) as LoadResult;
}

/** Merges histograms (same bucket values, as loadgen prints them) and recomputes the statistics. */
export function mergeHistograms(list: Histogram[]): Histogram {
  const counts = new Map<number, number>();
  let count = 0;
  let sum = 0;
  let max = 0;
  for (const h of list) {
    for (const [v, c] of h.buckets) counts.set(v, (counts.get(v) ?? 0) + c);
    count += h.count;
    sum += h.meanNs * h.count;
    max = Math.max(max, h.maxNs);
  }
  const buckets = [...counts.entries()].sort((a, b) => a[0] - b[0]);
  const pct = (p: number) => {
    if (count === 0) return 0;
    const rank = Math.min(count - 1, Math.floor((p / 100) * count));
    let seen = 0;
    for (const [v, c] of buckets) {
      seen += c;
      if (seen > rank) return v;
    }
    return max;
  };
  return {
    count,
    meanNs: count === 0 ? 0 : sum / count,
    p50Ns: pct(50),
    p90Ns: pct(90),
    p99Ns: pct(99),
    p999Ns: pct(99.9),
    maxNs: max,
    buckets,
  };
}
