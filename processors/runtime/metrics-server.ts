/**
 * `--metrics-port`: the instance's own HTTP endpoint. GET /metrics is the Prometheus exposition of its
 * pipeline-health metrics; GET /healthz answers 200 while the instance processes (503 while it starts,
 * restores or has failed), for Kubernetes probes. node:http is enough for two routes.
 */
import { createServer, type Server } from 'node:http';
import type { ComponentStatus } from '../../lib/component-status.ts';
import type { Logger } from '../../lib/logger.ts';

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(options: {
  port: number;
  host?: string;
  exposition: () => Promise<string>;
  status: () => ComponentStatus;
  logger: Logger;
}): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
    } else if (path === '/metrics') {
      options.exposition().then(
        (text) =>
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text),
        (err) => {
          options.logger.error({ err }, 'rendering metrics');
          res.writeHead(500).end();
        },
      );
    } else if (path === '/healthz') {
      const status = options.status();
      res
        .writeHead(status.state === 'ok' || status.state === 'degraded' ? 200 : 503, {
          'content-type': 'application/json',
        })
        .end(JSON.stringify(status));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
