/**
 * anomaly-detector: per-window deltas of the request-duration histograms (meshpipe.anomaly-detector.
 * deltas.v1, keyed by service, made by anomaly-deltas from the RED metrics) → anomaly transitions
 * (meshpipe.anomalies.v1).
 *
 *   metrics ──anomaly-deltas──► deltas, keyed by service ──anomaly-detector──► windows ──► detectors ──► anomalies
 *   (by series)                 (schemas/topics.ts `deltas`)                    (per partition)           (by fingerprint)
 *
 * windows.ts sums the deltas per route and window, and evaluates the detectors (route-detectors.ts,
 * slo-burn.ts) with hysteresis (hysteresis.ts) against robust baselines (robust-baseline.ts). Why metrics
 * rather than spans, the math and the configuration are in docs/alerts.md.
 */
import { defineProcessor } from '../runtime/definition.ts';
import { detectorConfigSpec } from './config.ts';
import { detectorStores, legacyDetectorState } from './stores.ts';
import { processDelta, punctuateDetector } from './windows.ts';

export default defineProcessor<typeof detectorConfigSpec.fields, typeof detectorStores, 'deltas'>({
  name: 'anomaly-detector',
  description:
    'Per-window deltas of the RED metrics (from anomaly-deltas) → latency, error-ratio, traffic, new-status-class and SLO burn-rate anomalies per service and route, as firing/resolved transitions with evidence',
  inputs: ['deltas'],
  outputs: ['anomalies'],
  config: detectorConfigSpec,
  stores: detectorStores,
  legacyState: legacyDetectorState,
  process(record, ctx) {
    processDelta(record.value, ctx);
  },
  punctuate: {
    intervalMs: (config) => config.punctuateMs,
    run(ctx) {
      punctuateDetector(ctx);
    },
  },
});
