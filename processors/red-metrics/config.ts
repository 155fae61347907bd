/**
 * red-metrics configuration (`processors.red-metrics` in meshpipe.json). Times are milliseconds; window
 * boundaries are on span end time, the waiting for late spans on the processor's clock (docs/metrics.md).
 */
import { type InferFields, s } from '../../lib/config/spec.ts';
import { checkRouteRules } from '../shared/route-template.ts';

export const redMetricsConfigSpec = s.object(
  {
    windowMs: s.int({
      doc: 'Aggregation window, by span end time: every window closes with one sample of every live series (cumulative), so a restarted sink is complete again within one window.',
      default: 10_000,
      min: 1_000,
      max: 600_000,
    }),
    allowedLatenessMs: s.int({
      doc: 'How long a window stays open after its end for spans still on their way (span assembly and trace linking hold spans for a few seconds). A span later than that is not lost: it is counted in the next window that closes (and as `late_spans`).',
      default: 5_000,
      min: 0,
      max: 600_000,
    }),
    idleSeriesTimeoutMs: s.int({
      doc: 'A series with no span for this long stops being emitted and is forgotten (its cumulative values restart from zero, with a new start time, if it comes back).',
      default: 900_000,
      min: 10_000,
    }),
    cardinalityLimit: s.int({
      doc: 'Series per service, metric and stream (input partition), overflow series included: past it, new label sets are counted in the overflow series `http.route="__overflow__"`, `otel.metric.overflow="true"` (service-graph edges: `server="__overflow__"`). Prometheus sees at most this times the partitions of the spans topic per service and metric.',
      default: 1_000,
      min: 10,
      max: 1_000_000,
    }),
    maxSeries: s.int({
      doc: 'Series per stream (input partition) across all services, overflow series included. The per-service limit alone does not bound them: a service name falls back to the process name, so every new process is a new budget. Past it, new label sets of any service are counted in one global overflow series (`service.name="__overflow__"`, `http.route="__overflow__"`, `otel.metric.overflow="true"`; edges: `client` and `server` `"__overflow__"`).',
      default: 20_000,
      min: 20,
      max: 10_000_000,
    }),
    exemplars: s.boolean({
      doc: 'Attach exemplars (trace id, span id, value, time) to histogram samples: the latest span of every bucket.',
      default: true,
    }),
    unknownClient: s.string({
      doc: "Client node of service-graph edges whose caller meshpipe does not know (not captured, not mapped): Tempo's `user` by default.",
      default: 'user',
      check: (v) => (v.trim() === '' ? 'must not be empty' : undefined),
    }),
    routeRules: s.record(s.string({ doc: 'Replacement, e.g. `{version}`.', default: '' }), {
      doc: 'Route templating for spans that arrive without http.route (spans from span-assembler carry one, templated with processors.span-assembler.routeRules, so spans and metrics agree): segment regular expression → replacement, tried before the built-in rules.',
      default: {},
      check: checkRouteRules,
    }),
    routeMaxSegments: s.int({
      doc: 'Path segments kept when templating a route here; longer paths end in `/{rest}`.',
      default: 12,
      min: 1,
    }),
    punctuateMs: s.int({
      doc: 'How often the processor checks whether a window can close.',
      default: 1_000,
      min: 50,
    }),
  },
  {
    doc: 'red-metrics: spans → RED metrics (OTel http.server/client.request.duration) and Tempo-compatible service-graph edges on the metrics topic.',
  },
);

export type RedMetricsConfig = InferFields<typeof redMetricsConfigSpec.fields>;
