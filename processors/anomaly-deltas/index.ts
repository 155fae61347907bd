/**
 * anomaly-deltas: RED metrics (meshpipe.metrics.v1) → per-window deltas of the request-duration
 * histograms, keyed by service (meshpipe.anomaly-detector.deltas.v1), the input of anomaly-detector.
 *
 *   metrics ──anomaly-deltas──► deltas, keyed by service ──anomaly-detector──► anomalies
 *   (by series)                 (schemas/topics.ts `deltas`)                   (by fingerprint)
 *
 * The metrics topic is keyed by series, the detector needs every series of a service in one place: this
 * processor is the repartition between them (schemas/topics.ts explains why). The rules are in
 * delta-extractor.ts; docs/alerts.md has the whole detector.
 */
import { defineProcessor } from '../runtime/definition.ts';
import { deltasConfigSpec } from './config.ts';
import { processSample, pruneIdleSeries } from './delta-extractor.ts';
import { deltasStores } from './state.ts';

export default defineProcessor<typeof deltasConfigSpec.fields, typeof deltasStores, 'metrics'>({
  name: 'anomaly-deltas',
  description:
    "RED metrics → per-window deltas of the request-duration histograms, keyed by service: the anomaly detector's input",
  inputs: ['metrics'],
  outputs: ['deltas'],
  config: deltasConfigSpec,
  stores: deltasStores,
  // Cumulative samples heal themselves: with no cursor yet, a series' first sample is where it starts
  // counting. Reading the metrics retained before the first start would turn history into deltas the
  // detector counts as new traffic.
  startFrom: 'latest',
  process(record, ctx) {
    processSample(record.value, ctx);
  },
  punctuate: {
    intervalMs: (config) => config.punctuateMs,
    run(ctx) {
      pruneIdleSeries(ctx);
    },
  },
});
