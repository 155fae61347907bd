/**
 * The collector's HTTP endpoint: GET /metrics (Prometheus exposition) and GET /healthz (200 while
 * capture runs, 503 while it starts or the loader is down, with the status as JSON: a Kubernetes
 * liveness/readiness probe). node:http is enough for two routes, and keeps the agent small.
 *
 * Bound to 127.0.0.1 by default: a node agent should not expose anything on the network unless asked
 * (`collector.metricsHost`). The agent's own pid is excluded from capture, so scrapes are not traced.
 */
import { createServer, type Server } from 'node:http';
import type { ComponentStatus } from '../lib/component-status.ts';
import { ERRORS, errorMessage, MeshpipeError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(options: {
  host: string;
  port: number;
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
          options.logger.error({ err: errorMessage(err) }, 'rendering metrics failed');
          res.writeHead(500).end();
        },
      );
    } else if (path === '/healthz') {
      const status = options.status();
      const healthy = status.state === 'ok' || status.state === 'degraded';
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(status));
    } else {
      res.writeHead(404).end();
    }
  });
  // Scrapes are rare and small: keep idle sockets from lingering.
  server.keepAliveTimeout = 5000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => resolve());
    });
  } catch (err) {
    throw new MeshpipeError(
      ERRORS.COLLECTOR_METRICS_PORT,
      [`${options.host}:${options.port}`, errorMessage(err)],
      {
        cause: err,
      },
    );
  }
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
