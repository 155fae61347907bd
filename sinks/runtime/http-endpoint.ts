/**
 * A sink's HTTP endpoint, at `sinks.<name>.listen` (off when empty): the /metrics, /healthz and /readyz
 * every component serves (lib/http/health-routes.ts), health from the sink host's status. /metrics is
 * the sink's own delivery health (consumed, exported, retried, dead-lettered, lag) in the Prometheus
 * names the Prometheus sink gives the same samples — unless the exporter serves metrics of its own (the
 * Prometheus sink: the whole metrics topic), which it says by implementing ServesHttp.
 */
import type { ComponentStatus } from '../../lib/component-status.ts';
import { ERRORS, type ErrorSpec } from '../../lib/errors.ts';
import {
  type Exposition,
  healthRoutes,
  PROMETHEUS_TEXT,
  type Readiness,
} from '../../lib/http/health-routes.ts';
import { type HttpServer, parseListen, startHttpServer } from '../../lib/http/server.ts';
import type { Logger } from '../../lib/logger.ts';
import type { MetricSample } from '../../schemas/types.ts';
import { renderExposition } from '../prometheus/exposition.ts';
import { SeriesStore } from '../prometheus/series-store.ts';
import type { Exporter } from './exporter.ts';

/** An exporter whose product is served over the sink's endpoint (its /metrics, and its readiness). */
export interface ServesHttp {
  metrics(accept: string | undefined): Exposition;
  ready(): Readiness;
  /** The error a failed listen becomes. */
  readonly listenError?: ErrorSpec;
}

function servesHttp(exporter: Exporter<unknown>): exporter is Exporter<unknown> & ServesHttp {
  const candidate = exporter as Partial<ServesHttp>;
  return typeof candidate.metrics === 'function' && typeof candidate.ready === 'function';
}

/** The Prometheus text of one process's samples. */
export function samplesExposition(samples: readonly MetricSample[], nowMs = Date.now()): string {
  const store = new SeriesStore({
    gaugeStaleMs: Number.MAX_SAFE_INTEGER,
    seriesExpiryMs: Number.MAX_SAFE_INTEGER,
  });
  for (const sample of samples) store.apply(sample, nowMs);
  return renderExposition(store, 'text', { nowMs, exemplars: false });
}

export async function serveSinkEndpoint(options: {
  sink: string;
  /** `sinks.<name>.listen`, validated by its spec. */
  listen: string;
  exporter: Exporter<unknown>;
  samples(): MetricSample[];
  status(): ComponentStatus;
  logger: Logger;
}): Promise<HttpServer | undefined> {
  const listen = parseListen(options.listen);
  if (listen === undefined) return undefined;
  const { exporter } = options;
  const own = servesHttp(exporter) ? exporter : undefined;
  const server = await startHttpServer({
    listen,
    routes: healthRoutes({
      metrics: (accept) =>
        own?.metrics(accept) ?? { contentType: PROMETHEUS_TEXT, body: samplesExposition(options.samples()) },
      status: options.status,
      ...(own === undefined ? {} : { ready: () => own.ready() }),
    }),
    logger: options.logger,
    listenError: own?.listenError ?? ERRORS.SINK_LISTEN_FAILED,
  });
  options.logger.info(
    { address: server.address, sink: options.sink },
    'serving /metrics, /healthz and /readyz',
  );
  return server;
}
