/**
 * anomaly-detector: RED metrics (meshpipe.metrics.v1) → anomaly transitions (meshpipe.anomalies.v1).
 *
 *   metrics ──stage 1──► deltas, keyed by service ──stage 2──► windows ──► detectors ──► anomalies
 *   (by series)          (anomaly-detector.deltas.v1)          (per partition)            (by fingerprint)
 *
 * Stage 1 (delta-extractor.ts) turns cumulative histogram samples into deltas; stage 2 (windows.ts)
 * sums them per route and window, and evaluates the detectors (route-detectors.ts, slo-burn.ts) with
 * hysteresis (hysteresis.ts) against robust baselines (robust-baseline.ts). Why metrics rather than
 * spans, the math and the configuration are in docs/alerts.md.
 */
import { defineProcessor } from '../runtime/definition.ts';
import { detectorConfigSpec } from './config.ts';
import { processSample } from './delta-extractor.ts';
import { detectorStores, legacyDetectorState } from './state.ts';
import { DELTA_SCHEMA, DELTAS_TOPIC, type WindowDelta } from './topics.ts';
import { processDelta, punctuateDetector } from './windows.ts';

export default defineProcessor<
  typeof detectorConfigSpec.fields,
  typeof detectorStores,
  'metrics' | typeof DELTAS_TOPIC
>({
  name: 'anomaly-detector',
  description:
    'RED metrics → latency, error-ratio, traffic, new-status-class and SLO burn-rate anomalies per service and route, as firing/resolved transitions with evidence',
  inputs: ['metrics', DELTAS_TOPIC],
  // The deltas topic is both: stage 1 writes it, stage 2 reads it back, repartitioned by service.
  outputs: ['anomalies', DELTAS_TOPIC],
  schemas: [DELTA_SCHEMA],
  config: detectorConfigSpec,
  stores: detectorStores,
  legacyState: legacyDetectorState,
  process(record, ctx) {
    if (record.input === 'metrics') processSample(record.value as never, ctx);
    else processDelta(record.value as WindowDelta, ctx);
  },
  punctuate: {
    intervalMs: (config) => config.punctuateMs,
    run(ctx) {
      punctuateDetector(ctx);
    },
  },
});
