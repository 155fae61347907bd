/**
 * What every meshpipe component answers over HTTP, the same way whichever it is (collector, processor,
 * sink), so one probe and one scrape configuration fit them all:
 *
 *   GET /metrics   its Prometheus exposition (gzip when asked for)
 *   GET /healthz   liveness: 200 while the process works — starting, restoring and degraded included —
 *                  503 once it has failed for good; a Kubernetes liveness probe restarts it only then
 *   GET /readyz    readiness: 200 while it does its job (ok or degraded, and `ready()` if given: the
 *                  Prometheus sink's warm-up), else 503 with Retry-After when known
 *
 * Both health routes answer the component's status as JSON ({state, summary, counters}), what
 * `meshpipe up` shows on its status line.
 */
import { gzipSync } from 'node:zlib';
import type { FastifyPluginCallback } from 'fastify';
import type { ComponentStatus } from '../component-status.ts';

export const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

export interface Exposition {
  /** 200 unless said otherwise (503: the numbers are not complete yet). */
  status?: number;
  contentType: string;
  body: string;
  headers?: Record<string, string>;
}

export interface Readiness {
  ready: boolean;
  /** When readiness is expected, for Retry-After. */
  retryAfterSeconds?: number;
  /** Shown in the /readyz answer beside the status. */
  detail?: Record<string, unknown>;
}

export interface HealthRoutesOptions {
  /** The exposition; `accept` is the scraper's Accept header (text or OpenMetrics). */
  metrics(accept: string | undefined): Promise<Exposition> | Exposition;
  status(): ComponentStatus;
  /** Readiness beyond the status. */
  ready?(): Readiness;
}

export function healthRoutes(options: HealthRoutesOptions): FastifyPluginCallback {
  return (app, _opts, done) => {
    app.get('/metrics', async (request, reply) => {
      const exposition = await options.metrics(request.headers.accept);
      reply
        .code(exposition.status ?? 200)
        .headers(exposition.headers ?? {})
        .type(exposition.contentType);
      if (/\bgzip\b/.test(request.headers['accept-encoding'] ?? ''))
        return reply.header('content-encoding', 'gzip').send(gzipSync(exposition.body));
      return reply.send(exposition.body);
    });
    app.get('/healthz', async (_request, reply) => {
      const status = options.status();
      return reply.code(status.state === 'failed' ? 503 : 200).send(status);
    });
    app.get('/readyz', async (_request, reply) => {
      const status = options.status();
      const extra = options.ready?.();
      const ready = (status.state === 'ok' || status.state === 'degraded') && extra?.ready !== false;
      if (!ready && extra?.retryAfterSeconds !== undefined)
        reply.header('retry-after', String(extra.retryAfterSeconds));
      return reply.code(ready ? 200 : 503).send({ ready, ...status, ...extra?.detail });
    });
    done();
  };
}
