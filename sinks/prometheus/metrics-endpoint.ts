/**
 * The exporter behind /metrics. "Exporting" a batch to Prometheus means taking its samples into the
 * in-memory view (series-store.ts): Prometheus pulls, so the acknowledgement the sink host waits for
 * before committing is simply that the view holds them. The sink host serves the view over HTTP like
 * every component's endpoint (sinks/runtime/http-endpoint.ts, at sinks.prometheus.listen): /metrics
 * renders it in the format the scraper asks for, /readyz says whether the warm-up is over.
 */
import { ERRORS } from '../../lib/errors.ts';
import type { Exposition, Readiness } from '../../lib/http/health-routes.ts';
import type { Logger } from '../../lib/logger.ts';
import type { MetricSample } from '../../schemas/types.ts';
import { type Exporter, type ExportResult, SUCCESS } from '../runtime/exporter.ts';
import type { ServesHttp } from '../runtime/http-endpoint.ts';
import { CONTENT_TYPES, type ExtraFamily, negotiateFormat, renderExposition } from './exposition.ts';
import { type ApplyResult, SeriesStore } from './series-store.ts';

export interface MetricsEndpointOptions {
  warmupMs: number;
  gaugeStaleMs: number;
  seriesExpiryMs: number;
  maxSeries: number;
  exemplars: boolean;
  logger: Logger;
  /** The clock (tests move it). */
  now?: () => number;
}

const EXPIRY_INTERVAL_MS = 10_000;

export class MetricsEndpoint implements Exporter<MetricSample>, ServesHttp {
  readonly store: SeriesStore;
  readonly listenError = ERRORS.PROMETHEUS_LISTEN_FAILED;
  readonly #options: MetricsEndpointOptions;
  readonly #now: () => number;
  readonly #startedAt: number;
  readonly #results: Record<ApplyResult, number> = { applied: 0, stale: 0, conflict: 0, overflow: 0 };
  readonly #timer: NodeJS.Timeout;

  constructor(options: MetricsEndpointOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
    this.store = new SeriesStore({
      gaugeStaleMs: options.gaugeStaleMs,
      seriesExpiryMs: options.seriesExpiryMs,
      maxSeries: options.maxSeries,
    });
    this.#timer = setInterval(() => this.store.expire(this.#now()), EXPIRY_INTERVAL_MS);
    this.#timer.unref();
  }

  /** GET /metrics: the view, in the format the scraper asks for (Accept). */
  metrics(accept: string | undefined): Exposition {
    if (!this.#warm()) {
      // A partial sum would look like a counter reset: better an unsuccessful scrape (up == 0).
      return {
        status: 503,
        headers: { 'retry-after': String(Math.ceil(this.#warmupLeftMs() / 1000)) },
        contentType: 'text/plain; charset=utf-8',
        body: `warming up: every stream reports within ${this.#options.warmupMs} ms of the start\n`,
      };
    }
    const format = negotiateFormat(accept);
    const body = renderExposition(this.store, format, {
      nowMs: this.#now(),
      exemplars: this.#options.exemplars,
      extra: this.#ownFamilies(),
    });
    return { contentType: CONTENT_TYPES[format], body };
  }

  /** GET /readyz: not before the warm-up is over (Prometheus would record partial sums). */
  ready(): Readiness {
    const ready = this.#warm();
    return {
      ready,
      ...(ready ? {} : { retryAfterSeconds: Math.ceil(this.#warmupLeftMs() / 1000) }),
      detail: { warm: ready, ...this.store.stats() },
    };
  }

  #warm(): boolean {
    return this.#warmupLeftMs() <= 0;
  }

  #warmupLeftMs(): number {
    return this.#startedAt + this.#options.warmupMs - this.#now();
  }

  async export(items: readonly MetricSample[]): Promise<ExportResult> {
    const now = this.#now();
    for (const sample of items) this.#results[this.store.apply(sample, now)]++;
    if (this.#results.conflict > this.#logged.conflict)
      this.#log(
        'conflict',
        'samples whose Prometheus name another producer uses with another type were not exposed',
      );
    if (this.#results.overflow > this.#logged.overflow)
      this.#log(
        'overflow',
        `samples of new series beyond sinks.prometheus.maxSeries (${this.#options.maxSeries}) were not exposed`,
      );
    return SUCCESS;
  }

  readonly #logged = { conflict: 0, overflow: 0 };
  #log(result: 'conflict' | 'overflow', message: string): void {
    // Once a minute at most, not per batch: a misbehaving producer must not flood the log.
    const now = this.#now();
    if (now - this.#loggedAt[result] < 60_000) return;
    this.#loggedAt[result] = now;
    this.#logged[result] = this.#results[result];
    this.#options.logger.warn({ [result]: this.#results[result] }, message);
  }
  readonly #loggedAt = { conflict: Number.NEGATIVE_INFINITY, overflow: Number.NEGATIVE_INFINITY };

  async shutdown(): Promise<void> {
    clearInterval(this.#timer);
  }

  /** The sink's own health, exposed beside what it republishes. */
  #ownFamilies(): ExtraFamily[] {
    const stats = this.store.stats();
    return [
      {
        name: 'meshpipe_prometheus_sink_samples_total',
        type: 'COUNTER',
        help: 'Metric samples taken from the metrics topic, by result: applied, stale (older than what the view holds: redelivered or out of order), conflict (the name is another type elsewhere), overflow (a new series beyond sinks.prometheus.maxSeries: not exposed).',
        samples: (Object.keys(this.#results) as ApplyResult[]).map((result) => ({
          labels: { result },
          value: this.#results[result],
        })),
      },
      {
        name: 'meshpipe_prometheus_sink_series',
        type: 'GAUGE',
        help: "Series this sink exposes (before the sink's own).",
        samples: [{ labels: {}, value: stats.series }],
      },
      {
        name: 'meshpipe_prometheus_sink_streams',
        type: 'GAUGE',
        help: 'Producing streams this sink has samples of (red-metrics partitions, component instances).',
        samples: [{ labels: {}, value: stats.streams }],
      },
    ];
  }
}
