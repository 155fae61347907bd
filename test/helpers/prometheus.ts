/**
 * A real Prometheus for tests (Debian's /usr/bin/prometheus): a temporary configuration and data
 * directory, free ports, a 1 s scrape and rule-evaluation interval, exemplar storage on; stopped and
 * removed by `stop()`. Plus a reader of the text exposition, for tests that scrape the sink directly.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.ts';

export const PROMETHEUS_BINARY = process.env.MESHPIPE_PROMETHEUS_BINARY ?? '/usr/bin/prometheus';
const RULES = fileURLToPath(new URL('../../infra/prometheus/rules/', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface TestPrometheus {
  url: string;
  /** Instant query; the `data.result` of a successful answer, or throws with Prometheus' error. */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  exemplars(
    expr: string,
    startSeconds: number,
    endSeconds: number,
  ): Promise<
    Array<{
      seriesLabels: Record<string, string>;
      exemplars: Array<{ labels: Record<string, string>; value: string }>;
    }>
  >;
  /** The scrape targets' health. */
  targets(): Promise<Array<{ health: string; lastError: string; scrapeUrl: string }>>;
  stop(): Promise<void>;
}

export async function startPrometheus(options: {
  targets: string[];
  rules?: boolean;
}): Promise<TestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'meshpipe-prometheus-'));
  const port = await freePort();
  if (options.rules !== false) cpSync(RULES, join(dir, 'rules'), { recursive: true });
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 900ms',
      '  evaluation_interval: 1s',
      ...(options.rules === false ? [] : ['rule_files:', '  - rules/*.yml']),
      'scrape_configs:',
      '  - job_name: meshpipe',
      '    honor_labels: true',
      '    static_configs:',
      `      - targets: [${options.targets.map((t) => `'${t}'`).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(
    PROMETHEUS_BINARY,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--enable-feature=exemplar-storage',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const api = async (path: string): Promise<unknown> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  const stop = async () => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(`Prometheus ready on ${url} (${stderr})`, async () => (await fetch(`${url}/-/ready`)).ok, {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    async query(expr) {
      const data = (await api(`/api/v1/query?query=${encodeURIComponent(expr)}`)) as { result: never[] };
      return data.result;
    },
    async exemplars(expr, start, end) {
      return (await api(
        `/api/v1/query_exemplars?query=${encodeURIComponent(expr)}&start=${start}&end=${end}`,
      )) as never;
    },
    async targets() {
      const data = (await api('/api/v1/targets')) as { activeTargets: never[] };
      return data.activeTargets;
    },
    stop,
  };
}

/** One sample of a text exposition. */
export interface ScrapedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (what the sink serves without an Accept header). */
export function parseExposition(text: string): ScrapedSample[] {
  const out: ScrapedSample[] = [];
  const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/;
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const l of text.split('\n')) {
    if (l === '' || l.startsWith('#')) continue;
    const m = line.exec(l);
    if (m === null) throw new Error(`not an exposition line: ${l}`);
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(label)) {
      labels[lm[1]!] = lm[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    out.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[3]) });
  }
  return out;
}

export async function scrape(
  address: string,
  accept?: string,
): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(`http://${address}/metrics`, accept === undefined ? {} : { headers: { accept } });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}
