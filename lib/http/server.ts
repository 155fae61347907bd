/**
 * Every HTTP endpoint meshpipe serves is a fastify instance made here: the /metrics, /healthz and /readyz
 * of the collector, the processors and the sinks (health-routes.ts), and the demo services' admin API on
 * its Unix socket. One module, so probes, scraping, errors and shutdown look the same everywhere:
 *
 *   startHttpServer({ listen, routes }) ──► fastify ──► gracefulClose (graceful-close.ts)
 *                                                  ──► errors as {"error": {"code", "message"}}
 *                                                  ──► your routes (a plugin: health routes, the admin API)
 *
 * Requests are not logged (scrapes and probes every few seconds would drown the component's own log);
 * server errors are, through the component's pino logger.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyPluginCallback } from 'fastify';
import { type ErrorSpec, errorMessage, isMeshpipeError, MeshpipeError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { gracefulClose } from './graceful-close.ts';

export type Listen = { host: string; port: number } | { path: string };

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/;

/** `host:port` (IPv6 hosts in brackets, port 0: any free port), or undefined when it is not one. */
export function parseListen(value: string): { host: string; port: number } | undefined {
  const m = HOST_PORT.exec(value.trim());
  if (m === null) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export interface HttpServerOptions {
  /** TCP (port 0: any free port), or a Unix socket path. */
  listen: Listen;
  /** The routes: a fastify plugin (health-routes.ts, the demo's admin API). */
  routes: FastifyPluginCallback;
  logger: Logger;
  /** The error a failed listen becomes (its message gets the address and the reason). */
  listenError?: ErrorSpec;
  /** How long requests in flight may take to finish once close() is called. Default 2 s. */
  closeGraceMs?: number;
}

export interface HttpServer {
  readonly app: FastifyInstance;
  /** `127.0.0.1:9470`, `[::1]:9464`, or the socket path. */
  readonly address: string;
  /** The TCP port listened on (the one chosen, for port 0); null on a Unix socket. */
  readonly port: number | null;
  close(): Promise<void>;
}

function describe(listen: Listen): string {
  return 'path' in listen
    ? listen.path
    : `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`;
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const app = Fastify({
    logger: false,
    // Idle keep-alive sockets are closed on close(); requests in flight finish (gracefulClose bounds it).
    forceCloseConnections: 'idle',
    // Scrapes and probes are rare and small: idle sockets need not linger.
    keepAliveTimeout: 5_000,
    // A field a schema does not allow is an error, not silently dropped (fastify's default drops it).
    ajv: { customOptions: { removeAdditional: false } },
  });
  await app.register(gracefulClose, { graceMs: options.closeGraceMs ?? 2_000 });
  app.setErrorHandler((err: FastifyError | MeshpipeError, _request, reply) => {
    // A MeshpipeError is the request's fault (a bad fault setting, say): 400 with its stable code.
    if (isMeshpipeError(err))
      return reply.code(400).send({ error: { code: err.code, message: err.message } });
    const status = err.statusCode ?? 500;
    if (status >= 500) options.logger.error({ err: errorMessage(err) }, 'HTTP request failed');
    return reply.code(status).send({ error: { code: err.code ?? 'INTERNAL', message: err.message } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` } }),
  );
  await app.register(options.routes);
  const { listen } = options;
  try {
    await app.listen('path' in listen ? { path: listen.path } : { host: listen.host, port: listen.port });
  } catch (err) {
    await app.close().catch(() => {});
    if (options.listenError === undefined) throw err;
    throw new MeshpipeError(options.listenError, [describe(listen), errorMessage(err)], { cause: err });
  }
  const bound = app.server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : null;
  const address = 'path' in listen ? listen.path : describe({ host: listen.host, port: port ?? listen.port });
  return { app, address, port, close: () => app.close() };
}
