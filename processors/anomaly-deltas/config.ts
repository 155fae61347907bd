/**
 * `processors.anomaly-deltas`: which histograms the anomaly detector watches, and how their cumulative
 * samples become deltas (docs/alerts.md). The detector's own settings are `processors.anomaly-detector`
 * (processors/anomaly-detector/config.ts); `windowMs` must be the same in both.
 */
import { type InferFields, s } from '../../lib/config/spec.ts';

export const deltasConfigSpec = s.object(
  {
    metric: s.string({
      doc: "The histogram the detector watches: red-metrics' server-side request duration, i.e. what each service itself answered.",
      default: 'http.server.request.duration',
    }),
    rpcMetric: s.string({
      doc: "The gRPC histogram watched beside `metric`: red-metrics' `rpc.server.duration` (milliseconds; its routes are `{rpc.service}/{rpc.method}`, errors the calls the server failed by the gRPC rules). Empty: HTTP only.",
      default: 'rpc.server.duration',
    }),
    windowMs: s.int({
      doc: "The detector's evaluation window, ms: keep it equal to processors.anomaly-detector.windowMs. A quiet series sends one heartbeat (a zero delta carrying its event time) per window, so the detector's windows close on time.",
      default: 60_000,
      min: 100,
      max: 3_600_000,
    }),
    maxExampleTraces: s.int({
      doc: 'Example trace ids (from exemplars) carried per delta, the slowest first.',
      default: 5,
      min: 0,
      max: 50,
    }),
    seriesIdleMs: s.int({
      doc: 'A cumulative series (per producing stream) not updated for this long is forgotten.',
      default: 3_600_000,
      min: 1_000,
      max: 30 * 86_400_000,
    }),
    punctuateMs: s.int({
      doc: 'How often each partition looks for idle series to forget, ms (at most once a minute is done).',
      default: 1_000,
      min: 50,
      max: 600_000,
    }),
  },
  {
    doc: 'anomaly-deltas: the histograms the anomaly detector watches, turned from cumulative samples into per-window deltas.',
  },
);

export type DeltasConfig = InferFields<(typeof deltasConfigSpec)['fields']>;
