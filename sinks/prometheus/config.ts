/**
 * `sinks.prometheus`: where /metrics is served and how the view of the metrics topic ages, plus the
 * sink host's consumer settings.
 */
import { s } from '../../lib/config/spec.ts';
import { listenSpec, sinkHostFields } from '../runtime/definition.ts';

const host = sinkHostFields({ batchSize: 2048, lingerMs: 200 });

export const prometheusSinkSpec = s.object(
  {
    enabled: s.boolean({
      doc: 'Whether `meshpipe up` runs this sink.',
      default: true,
      env: 'MESHPIPE_PROMETHEUS_ENABLED',
    }),
    warmupMs: s.int({
      doc: 'After a start, /metrics answers 503 this long, until every producing stream has sent its next sample (red-metrics emits every window, components every metrics interval): a partial sum would look like a counter reset to Prometheus. At least the longest of those intervals.',
      default: 15_000,
      min: 0,
      max: 600_000,
    }),
    gaugeStaleMs: s.int({
      doc: 'A gauge sample not refreshed for this long stops counting (a partition that moved, an instance that stopped).',
      default: 30_000,
      min: 1_000,
    }),
    seriesExpiryMs: s.int({
      doc: 'A series none of whose streams reported for this long is no longer exposed. Counters of streams that stopped keep counting until then, so sums never go backwards.',
      default: 900_000,
      min: 10_000,
    }),
    maxSeries: s.int({
      doc: 'Series this sink holds at most (every metric together): samples of new series beyond it are not exposed and are counted (meshpipe_prometheus_sink_samples_total{result="overflow"}) until series expire. Existing series keep updating.',
      default: 100_000,
      min: 100,
      max: 10_000_000,
    }),
    exemplars: s.boolean({
      doc: 'Expose exemplars (trace_id, span_id) on histogram buckets in OpenMetrics responses.',
      default: true,
    }),
    ...host,
    listen: listenSpec({
      doc: 'Address of /metrics (the metrics topic, for Prometheus), /healthz and /readyz, host:port (port 0: any free port). 127.0.0.1 keeps it local; 0.0.0.0:9464 lets a Prometheus elsewhere scrape it.',
      default: '127.0.0.1:9464',
      env: 'MESHPIPE_PROMETHEUS_LISTEN',
      required: true,
    }),
    startFrom: s.enumOf(['earliest', 'latest'] as const, {
      doc: 'Where a new consumer group starts. `latest`: samples are cumulative and every live series is re-sent within one window, so history adds nothing. Once offsets are committed, they win.',
      default: 'latest',
    }),
  },
  {
    doc: 'The Prometheus sink (`meshpipe sink prometheus`): the metrics topic — RED metrics, the service graph and pipeline health — on a /metrics endpoint, Prometheus text and OpenMetrics with exemplars.',
  },
);
