/**
 * The Prometheus sink: meshpipe.metrics.v1 — RED metrics and the service graph from red-metrics, and
 * the pipeline health every component publishes — on one /metrics endpoint. Delivery comes from the
 * sink host (sinks/runtime/host.ts): its consumer group shares the topic's partitions between
 * instances, and since samples are keyed by series id each series lives on exactly one instance, so a
 * Prometheus scraping every instance sees every series once. The names are derived by the OpenTelemetry
 * rules (naming.ts); docs/metrics.md lists them.
 */
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import type { MetricSample } from '../../schemas/types.ts';
import { defineSink } from '../runtime/definition.ts';
import { prometheusSinkSpec } from './config.ts';
import { MetricsEndpoint } from './metrics-endpoint.ts';

function invalid(sample: MetricSample, why: string): MeshpipeError {
  return new MeshpipeError(ERRORS.PROMETHEUS_INVALID_SAMPLE, [
    `${sample.name} (stream ${sample.stream})`,
    why,
  ]);
}

/** Rejects what no exposition can carry; everything else is the view's business. */
export function checkSample(sample: MetricSample): MetricSample {
  if (sample.type === 'HISTOGRAM') {
    const h = sample.histogram;
    if (h === null) throw invalid(sample, 'a HISTOGRAM sample without a histogram');
    if (h.bucketCounts.length !== h.bounds.length + 1)
      throw invalid(
        sample,
        `${h.bucketCounts.length} bucket counts for ${h.bounds.length} bounds (expected bounds + 1)`,
      );
    for (let i = 0; i < h.bounds.length; i++) {
      if (!Number.isFinite(h.bounds[i]!) || (i > 0 && h.bounds[i]! <= h.bounds[i - 1]!))
        throw invalid(sample, 'bounds must be finite and strictly increasing');
    }
    if (h.bucketCounts.some((c) => c < 0n)) throw invalid(sample, 'negative bucket count');
    const total = h.bucketCounts.reduce((a, b) => a + b, 0n);
    if (total !== h.count) throw invalid(sample, `bucket counts add up to ${total}, count is ${h.count}`);
  } else if (sample.type === 'COUNTER' && !(Number.isFinite(sample.value) && sample.value >= 0)) {
    throw invalid(sample, `a counter must be finite and not negative, got ${sample.value}`);
  }
  if (sample.stream === '') throw invalid(sample, 'no stream');
  return sample;
}

export const prometheusSink = defineSink({
  name: 'prometheus',
  description: 'RED metrics, the service graph and pipeline health on a Prometheus /metrics endpoint.',
  input: 'metrics',
  config: prometheusSinkSpec,
  unit: 'samples',
  help: 'Reads the metrics topic and serves /metrics (Prometheus text, or OpenMetrics with trace-id exemplars when the scraper asks for it), /healthz (liveness) and /readyz (readiness: after the warm-up) at sinks.prometheus.listen (--listen; $MESHPIPE_PROMETHEUS_LISTEN; 127.0.0.1:9464). Cumulative samples are summed over their producing streams, so restarts and rebalances upstream neither double count nor send a counter backwards. Instances share the topic by series: scrape them all. Metric names and dashboards: docs/metrics.md.',
  examples: [
    'meshpipe sink prometheus',
    'meshpipe sink prometheus --listen 0.0.0.0:9464 --json',
    'curl -H "Accept: application/openmetrics-text" http://127.0.0.1:9464/metrics',
  ],
  // On by default: /metrics is how the pipeline is watched (sinks.prometheus.enabled: false turns it off).
  runInUp: (config) => config.enabled,
  prepare: (record) => checkSample(record.value),
  // The sink host serves the endpoint's view at sinks.prometheus.listen (sinks/runtime/http-endpoint.ts).
  async createExporter({ config, logger }) {
    return new MetricsEndpoint({
      warmupMs: config.warmupMs,
      gaugeStaleMs: config.gaugeStaleMs,
      seriesExpiryMs: config.seriesExpiryMs,
      maxSeries: config.maxSeries,
      exemplars: config.exemplars,
      logger,
    });
  },
});

export default prometheusSink;
