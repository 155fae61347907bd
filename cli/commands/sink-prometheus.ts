/**
 * `meshpipe sink prometheus`: the metrics topic on a Prometheus /metrics endpoint (sinks/prometheus).
 * Built like every sink command (cli/commands/sink.ts); `meshpipe up` runs it by default.
 */
import { sinkCommand } from './sink.ts';

export const command = sinkCommand({
  name: 'prometheus',
  summary: 'Serve RED metrics, the service graph and pipeline health on /metrics for Prometheus.',
  description:
    'Reads the metrics topic and serves /metrics (Prometheus text, or OpenMetrics with trace-id exemplars when the scraper asks for it), /healthz (liveness) and /readyz (readiness: after the warm-up). Cumulative samples are summed over their producing streams, so restarts and rebalances upstream neither double count nor send a counter backwards. Instances share the topic by series: scrape them all. Configuration: sinks.prometheus (`meshpipe config`); metric names and dashboards: docs/metrics.md.',
  load: async () => (await import('../../sinks/prometheus/sink.ts')).prometheusSink,
  options: {
    listen: {
      type: 'string',
      value: '<host:port>',
      doc: 'Address of /metrics, /healthz and /readyz (default: sinks.prometheus.listen, $MESHPIPE_PROMETHEUS_LISTEN, 127.0.0.1:9464).',
    },
  },
  overrides: () => ({}),
  examples: [
    'meshpipe sink prometheus',
    'meshpipe sink prometheus --listen 0.0.0.0:9464 --json',
    'curl -H "Accept: application/openmetrics-text" http://127.0.0.1:9464/metrics',
  ],
});
