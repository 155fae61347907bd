/**
 * A component's own HTTP endpoint (the collector's `collector.metricsPort`, a processor's
 * `--metrics-port`): GET /metrics is the Prometheus exposition of its metrics, GET /healthz answers
 * 200 while it works (ok or degraded) and 503 while it starts, restores or has failed, with the status
 * as JSON — a Kubernetes liveness/readiness probe. node:http is enough for two routes.
 */
import { createServer, type Server } from 'node:http';
import type { ComponentStatus } from './component-status.ts';
import { type ErrorSpec, errorMessage, MeshpipeError } from './errors.ts';
import type { Logger } from './logger.ts';

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(options: {
  /** Address to bind: 127.0.0.1 keeps it local, 0.0.0.0 lets a Prometheus elsewhere scrape it. */
  host: string;
  port: number;
  exposition: () => Promise<string>;
  status: () => ComponentStatus;
  logger: Logger;
  /** The error a failed listen becomes (its message gets the address and the reason). */
  listenError?: ErrorSpec;
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
    if (options.listenError === undefined) throw err;
    throw new MeshpipeError(options.listenError, [`${options.host}:${options.port}`, errorMessage(err)], {
      cause: err,
    });
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
