/**
 * red-metrics: linked spans (meshpipe.spans.v2) → RED metrics per service and route
 * (`http.server.request.duration`, `http.client.request.duration`; gRPC: `rpc.server.duration`,
 * `rpc.client.duration`) and service-graph edges (Grafana Tempo's `traces_service_graph_*`) as
 * cumulative MetricSample records on meshpipe.metrics.v1, one stream per input partition. The rules
 * are in series.ts (gRPC: rpc-series.ts), resolved once per combination of the span fields they read
 * in series-index.ts; the windows in aggregator.ts, the state in state.ts, the user's view in
 * docs/metrics.md.
 */
import { defineProcessor } from '../runtime/definition.ts';
import { closeWindows, processSpan } from './aggregator.ts';
import { redMetricsConfigSpec } from './config.ts';
import { legacyRedMetricsState, redMetricsStores } from './state.ts';

export default defineProcessor<typeof redMetricsConfigSpec.fields, typeof redMetricsStores, 'spans'>({
  name: 'red-metrics',
  description:
    'Spans → RED metrics per service and route (OTel http.server/client.request.duration) and service-graph edges, cumulative per input partition, on the metrics topic',
  inputs: ['spans'],
  outputs: ['metrics'],
  config: redMetricsConfigSpec,
  // Every span reads and rewrites the same few series: kept decoded, each changed series is encoded
  // once per transaction instead of decoded and encoded per span (every change is followed by
  // set, aggregator.ts).
  stateAccess: 'live',
  stores: redMetricsStores,
  legacyState: legacyRedMetricsState,
  process(record, ctx) {
    processSpan(record, ctx);
  },
  punctuate: {
    intervalMs: (config) => config.punctuateMs,
    run(ctx) {
      closeWindows(ctx);
    },
  },
});
