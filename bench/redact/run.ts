/**
 * What does the collector's redaction cost per HTTP head? It runs on every head the collector ships
 * (protocols/http1/redact.ts, in the agent's hot path), so every rule it gains must stay cheap.
 *
 *   npm run bench:redact                         the redactor of this tree
 *   node bench/redact/run.ts --against main      ... and another revision's, side by side
 *   node bench/redact/run.ts --quick
 *
 * Heads: what a node sees most (browser and API requests, responses setting cookies, a query string,
 * an absolute-form proxy request), redacted with the default policy and with a configured one (extra
 * names, patterns). Baseline: copying the head's bytes (the least any redactor does). Alternating
 * rounds, best of each, in CPU time of this process (the machine is shared). Results: bench/results/redact.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as current from '../../protocols/http1/redact.ts';
import { cpuTimeNs, machineFacts } from '../environment.ts';

const QUICK = process.argv.includes('--quick');
const against = process.argv.includes('--against')
  ? process.argv[process.argv.indexOf('--against') + 1]
  : undefined;
const RESULTS = fileURLToPath(new URL('../results/redact.json', import.meta.url));
const ROUNDS = QUICK ? 5 : 21;
const TARGET_MS = QUICK ? 30 : 120;

const HEADS = {
  browser: [
    'GET /catalog/items/48213?page=2&sort=price HTTP/1.1',
    'Host: shop.example.com',
    'Connection: keep-alive',
    'sec-ch-ua: "Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"',
    'sec-ch-ua-mobile: ?0',
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
    'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
    'Sec-Fetch-Site: same-origin',
    'Sec-Fetch-Mode: navigate',
    'Referer: https://shop.example.com/catalog?category=shoes',
    'Accept-Encoding: gzip, deflate, br',
    'Accept-Language: en-GB,en;q=0.9',
    'Cookie: session=8f2b1c0e6a7d4e5f9a3b2c1d0e9f8a7b; theme=dark',
  ],
  api: [
    'POST /api/v1/orders HTTP/1.1',
    'Host: orders.internal:8080',
    'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
    'Content-Type: application/json',
    'Content-Length: 182',
    'X-Request-Id: 7c1e6a2b-3d4f-4a5b-8c9d-0e1f2a3b4c5d',
    'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    'User-Agent: orders-client/2.3.1',
  ],
  curl: ['GET /healthz HTTP/1.1', 'Host: 10.0.2.10:8080', 'User-Agent: curl/8.5.0', 'Accept: */*'],
  response: [
    'HTTP/1.1 200 OK',
    'Content-Type: text/html; charset=utf-8',
    'Content-Length: 5120',
    'Date: Mon, 07 Dec 2026 10:00:00 GMT',
    'Server: nginx/1.24.0',
    'Cache-Control: private, max-age=0',
    'ETag: "5f3c-1a2b3c4d"',
    'Set-Cookie: session=8f2b1c0e6a7d4e5f9a3b2c1d0e9f8a7b; Path=/; HttpOnly; Secure',
    'Vary: Accept-Encoding',
  ],
  query: [
    'GET /search?q=running+shoes&size=42&color=blue&access_token=abc123def456&page=3&lang=en HTTP/1.1',
    'Host: shop.example.com',
    'Accept: application/json',
  ],
  proxy: [
    'GET http://user:pass@upstream.example.com:8080/files/report-2026.pdf?download=1 HTTP/1.1',
    'Host: upstream.example.com:8080',
    'Proxy-Authorization: Basic dXNlcjpwYXNz',
    'Accept: */*',
  ],
} as const;

const heads = Object.entries(HEADS).map(
  ([name, lines]) => [name, new Uint8Array(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'))] as const,
);

type RedactModule = typeof current;

const CONFIGURED = { headers: ['X-Internal-Secret', 'x-*-session'], queryParams: ['sig', 'x-goog-*'] };

function variants(mod: RedactModule, label: string): Record<string, (head: Uint8Array) => number> {
  const defaults = mod.compileRedactionPolicy();
  let configured: ReturnType<RedactModule['compileRedactionPolicy']> | undefined;
  try {
    configured = mod.compileRedactionPolicy(CONFIGURED);
  } catch {
    configured = undefined; // a revision without patterns refuses them
  }
  const out: Record<string, (head: Uint8Array) => number> = {
    [`${label} default`]: (h) => mod.redactHead(h, defaults).bytes.length,
  };
  if (configured !== undefined)
    out[`${label} configured`] = (h) => mod.redactHead(h, configured).bytes.length;
  return out;
}

async function loadRevision(rev: string): Promise<{ mod: RedactModule; cleanup: () => void }> {
  const source = execFileSync('git', ['show', `${rev}:protocols/http1/redact.ts`], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    encoding: 'utf8',
  });
  const dir = mkdtempSync(join(tmpdir(), 'meshpipe-bench-redact-'));
  const file = join(dir, 'redact.ts');
  writeFileSync(file, source);
  return {
    mod: (await import(pathToFileURL(file).href)) as RedactModule,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const candidates: Record<string, (head: Uint8Array) => number> = {
  copy: (h) => h.slice().length,
  ...variants(current, 'this tree'),
};
let cleanup = () => {};
if (against !== undefined) {
  const loaded = await loadRevision(against);
  cleanup = loaded.cleanup;
  Object.assign(candidates, variants(loaded.mod, against));
}

const rows: Array<{ head: string; bytes: number; nsPerHead: Record<string, number> }> = [];
let sink = 0;
for (const [name, head] of heads) {
  const fns = Object.entries(candidates);
  for (const [, f] of fns) for (let i = 0; i < 2000; i++) sink += f(head);
  const t0 = cpuTimeNs();
  for (let i = 0; i < 2000; i++) sink += candidates['this tree default']!(head);
  const perMs = 2000 / ((cpuTimeNs() - t0) / 1e6);
  const reps = Math.max(100, Math.round(perMs * TARGET_MS));
  const best: Record<string, number> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, f] of fns) {
      const start = cpuTimeNs();
      for (let i = 0; i < reps; i++) sink += f(head);
      const ns = (cpuTimeNs() - start) / reps;
      best[label] = Math.min(best[label] ?? Number.POSITIVE_INFINITY, ns);
    }
  }
  rows.push({
    head: name,
    bytes: head.length,
    nsPerHead: Object.fromEntries(Object.entries(best).map(([k, v]) => [k, Math.round(v)])),
  });
}
cleanup();
if (sink === 0) throw new Error('nothing measured');

const labels = Object.keys(candidates);
console.log(['head'.padEnd(10), 'bytes'.padStart(6), ...labels.map((l) => `${l} ns`.padStart(24))].join(' '));
for (const r of rows)
  console.log(
    [
      r.head.padEnd(10),
      String(r.bytes).padStart(6),
      ...labels.map((l) => String(r.nsPerHead[l] ?? '-').padStart(24)),
    ].join(' '),
  );
const total = (label: string) => rows.reduce((a, r) => a + (r.nsPerHead[label] ?? Number.NaN), 0);
const ratios: Record<string, number> = {};
if (against !== undefined) {
  ratios['default: this tree / baseline revision'] = total('this tree default') / total(`${against} default`);
  if (candidates[`${against} configured`] !== undefined)
    ratios['configured: this tree / baseline revision'] =
      total('this tree configured') / total(`${against} configured`);
}
for (const [k, v] of Object.entries(ratios)) console.log(`${k}: ${v.toFixed(3)}`);
writeFileSync(
  RESULTS,
  `${JSON.stringify({ measuredAt: new Date().toISOString(), quick: QUICK, against: against ?? null, machine: machineFacts(), configured: CONFIGURED, rows, ratios }, null, 2)}\n`,
);
console.log(`results: ${RESULTS}`);
