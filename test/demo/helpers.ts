/** Helpers for the demo tests: plain HTTP with timing, unique prefixes, and what a prefix left behind. */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import { RUN_DIR } from '../../demo/claims.ts';
import { ip, listNamespaces } from '../../demo/netns.ts';

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Time to the end of the body. */
  ms: number;
}

export function httpRequest(
  url: string,
  options: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string; agent?: http.Agent } = {},
): Promise<HttpResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: options.agent ?? false,
        timeout: 20_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.once('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            ms: performance.now() - started,
          }),
        );
        res.once('error', reject);
      },
    );
    req.once('timeout', () => req.destroy(new Error(`no answer from ${url} within 20 s`)));
    req.once('error', reject);
    req.end(options.body);
  });
}

/** A prefix no other run uses (the library's `unique` option does the same for startDemo). */
export function uniquePrefix(): string {
  return `mt${randomBytes(2).toString('hex')}-`;
}

/** Namespaces, host interfaces and claim files whose names start with the prefix. */
export function leftovers(prefix: string): string[] {
  const namespaces = listNamespaces().filter((n) => n.startsWith(prefix));
  const interfaces = ip(['-o', 'link', 'show'])
    .split('\n')
    .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1] ?? '')
    .filter((n) => n.startsWith(prefix));
  let claims: string[] = [];
  try {
    claims = readdirSync(RUN_DIR).filter((f) => f.includes(prefix));
  } catch {
    // No run directory: nothing claimed.
  }
  return [...namespaces, ...interfaces, ...claims];
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
