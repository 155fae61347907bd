/**
 * red-metrics: linked spans (meshpipe.spans.v2) → RED metrics per service and route
 * (`http.server.request.duration`, `http.client.request.duration`) and service-graph edges (Grafana
 * Tempo's `traces_service_graph_*`) as cumulative MetricSample records on meshpipe.metrics.v1, one
 * stream per input partition. The rules are in series.ts, the windows and state in aggregator.ts, the
 * user's view in docs/metrics.md.
 */

import { redMetricsConfigSpec } from '../../../processors/red-metrics/config.ts';
import { defineProcessor } from '../../../processors/runtime/definition.ts';
import { closeWindows, processSpan, referenceStores } from './aggregator.ts';

export default defineProcessor<typeof redMetricsConfigSpec.fields, typeof referenceStores, 'spans'>({
  name: 'red-metrics',
  description:
    'Spans → RED metrics per service and route (OTel http.server/client.request.duration) and service-graph edges, cumulative per input partition, on the metrics topic',
  inputs: ['spans'],
  outputs: ['metrics'],
  config: redMetricsConfigSpec,
  stores: referenceStores,
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
