/**
 * The /metrics endpoint and the exporter behind it. "Exporting" a batch to Prometheus means taking
 * its samples into the in-memory view (series-store.ts): Prometheus pulls, so the acknowledgement the
 * sink host waits for before committing is simply that the view holds them. /metrics renders the view
 * in the format the scraper asks for; /healthz says whether the warm-up is over.
 */
import { gzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { ERRORS, errorMessage, MeshpipeError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { MetricSample } from '../../schemas/types.ts';
import { type Exporter, type ExportResult, SUCCESS } from '../runtime/exporter.ts';
import { CONTENT_TYPES, type ExtraFamily, negotiateFormat, renderExposition } from './exposition.ts';
import { type ApplyResult, SeriesStore } from './series-store.ts';

export interface MetricsEndpointOptions {
  host: string;
  port: number;
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

export class MetricsEndpoint implements Exporter<MetricSample> {
  readonly store: SeriesStore;
  readonly #options: MetricsEndpointOptions;
  readonly #app: FastifyInstance;
  readonly #now: () => number;
  readonly #startedAt: number;
  readonly #results: Record<ApplyResult, number> = { applied: 0, stale: 0, conflict: 0, overflow: 0 };
  #timer: NodeJS.Timeout | undefined;
  #address = '';

  constructor(options: MetricsEndpointOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
    this.store = new SeriesStore({
      gaugeStaleMs: options.gaugeStaleMs,
      seriesExpiryMs: options.seriesExpiryMs,
      maxSeries: options.maxSeries,
    });
    this.#app = Fastify({ logger: false });
    this.#app.get('/metrics', async (request, reply) => {
      if (!this.ready()) {
        // A partial sum would look like a counter reset: better an unsuccessful scrape (up == 0).
        return reply
          .code(503)
          .header('retry-after', String(Math.ceil(this.#warmupLeftMs() / 1000)))
          .type('text/plain; charset=utf-8')
          .send(`warming up: every stream reports within ${this.#options.warmupMs} ms of the start\n`);
      }
      const format = negotiateFormat(request.headers.accept);
      const body = renderExposition(this.store, format, {
        nowMs: this.#now(),
        exemplars: this.#options.exemplars,
        extra: this.#ownFamilies(),
      });
      reply.header('content-type', CONTENT_TYPES[format]);
      if (/\bgzip\b/.test(request.headers['accept-encoding'] ?? '')) {
        return reply.header('content-encoding', 'gzip').send(gzipSync(body));
      }
      return reply.send(body);
    });
    this.#app.get('/healthz', async (_request, reply) =>
      reply.code(this.ready() ? 200 : 503).send({ ready: this.ready(), ...this.store.stats() }),
    );
  }

  /** Starts listening; throws PROMETHEUS_LISTEN_FAILED when the address is not available. */
  async listen(): Promise<string> {
    const { host, port } = this.#options;
    try {
      await this.#app.listen({ host, port });
    } catch (err) {
      throw new MeshpipeError(ERRORS.PROMETHEUS_LISTEN_FAILED, [`${host}:${port}`, errorMessage(err)], {
        cause: err,
      });
    }
    const address = this.#app.server.address();
    const actualPort = typeof address === 'object' && address !== null ? address.port : port;
    this.#address = `${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
    this.#timer = setInterval(() => this.store.expire(this.#now()), EXPIRY_INTERVAL_MS);
    this.#timer.unref();
    this.#options.logger.info({ address: this.#address }, 'serving /metrics and /healthz');
    return this.#address;
  }

  get address(): string {
    return this.#address;
  }

  ready(): boolean {
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
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#app.close();
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
