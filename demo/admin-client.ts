/**
 * Talks to a demo service's admin API (demo/services/admin-api.ts). One connection per call (no agent):
 * these calls are rare, and an idle keep-alive socket would keep the caller's process alive after the
 * demo stopped.
 */
import http from 'node:http';
import type { Fault } from './fault.ts';
import type { RequestRecord, ServiceStats } from './services/admin-api.ts';

function request<T>(socketPath: string, method: string, path: string, body?: unknown): Promise<T> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath,
        method,
        path,
        agent: false,
        timeout: 5000,
        headers:
          payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': payload.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('error', reject);
        res.once('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            reject(new Error(`admin ${method} ${path} on ${socketPath} answered ${res.statusCode}: ${text}`));
            return;
          }
          try {
            resolve(JSON.parse(text) as T);
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.once('timeout', () =>
      req.destroy(new Error(`admin ${method} ${path} on ${socketPath}: no answer in 5 s`)),
    );
    req.once('error', reject);
    req.end(payload);
  });
}

export interface AdminClient {
  stats(): Promise<ServiceStats>;
  requests(limit?: number): Promise<RequestRecord[]>;
  fault(): Promise<Fault>;
  setFault(change: Partial<Fault>): Promise<Fault>;
}

/** A client of the admin API listening on `socketPath` (demo/layout.ts adminSocketPath). */
export function adminClient(socketPath: string): AdminClient {
  return {
    stats: () => request(socketPath, 'GET', '/stats'),
    requests: (limit) =>
      request(socketPath, 'GET', `/requests${limit === undefined ? '' : `?limit=${limit}`}`),
    fault: () => request(socketPath, 'GET', '/fault'),
    setFault: (change) => request(socketPath, 'PUT', '/fault', change),
  };
}
