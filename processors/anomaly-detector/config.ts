/**
 * `processors.anomaly-detector`: windows, baselines, hysteresis and the detectors' thresholds (what
 * anomaly-deltas watches, and how it makes deltas, is `processors.anomaly-deltas`: its config.ts). Every
 * default is chosen for production (one-minute windows, Google SRE workbook burn rates); tests shrink the
 * windows (`windowMs: 1000`, `slo.windowScale`) rather than the logic. docs/alerts.md explains the math
 * behind each key.
 */
import { type InferFields, s } from '../../lib/config/spec.ts';

const SEVERITIES = ['INFO', 'WARNING', 'CRITICAL'] as const;

function hysteresisFields(defaults: { fire: number; resolve: number }) {
  return {
    fireWindows: s.int({
      doc: 'Consecutive windows beyond the fire threshold before the anomaly fires.',
      default: defaults.fire,
      min: 1,
      max: 1000,
    }),
    resolveWindows: s.int({
      doc: 'Consecutive windows back within the resolve threshold before a firing anomaly resolves.',
      default: defaults.resolve,
      min: 1,
      max: 1000,
    }),
  };
}

const resolveFraction = s.number({
  doc: 'Where the resolve threshold sits between the baseline (0) and the fire threshold (1): values between the two neither fire nor resolve, so an anomaly does not flap around one line.',
  default: 0.5,
  min: 0,
  max: 1,
});

/** Floors of a latency quantile's fire threshold, beside the statistical one. */
function quantileFloors(defaults: { relative: number; absolute: number }) {
  return s.object(
    {
      minRelativeIncrease: s.number({
        doc: 'The quantile must exceed the baseline by this fraction (1: twice as slow)...',
        default: defaults.relative,
        min: 0,
        max: 100,
      }),
      minAbsoluteIncreaseSeconds: s.number({
        doc: '...and by this many seconds, so the jitter of fast routes (and bucket widths) is not an anomaly.',
        default: defaults.absolute,
        min: 0,
        max: 3600,
      }),
    },
    { doc: "Floors of this quantile's fire threshold." },
  );
}

const sensitivity = (what: string) =>
  s.number({
    doc: `How far ${what} must be from the baseline median, in robust standard deviations (1.4826 × the median absolute deviation).`,
    default: 4,
    min: 0.5,
    max: 100,
  });

/** One SLO: availability and, optionally, latency (`latencySeconds` 0 disables it). */
export const objectiveSpec = s.object(
  {
    availability: s.number({
      doc: 'Availability objective: the share of requests answered without a server error (5xx, or no answer). 0 disables it.',
      default: 0.999,
      min: 0,
      max: 0.999999,
    }),
    latencySeconds: s.number({
      doc: 'Latency SLO threshold, seconds; rounded up to the next histogram bucket bound (the histogram cannot say more). 0 disables the latency SLO.',
      default: 0,
      min: 0,
      max: 3600,
    }),
    latencyObjective: s.number({
      doc: 'Share of requests that must be at most `latencySeconds`.',
      default: 0.99,
      min: 0.5,
      max: 0.999999,
    }),
  },
  { doc: 'Objectives of one service.' },
);

export type Objective = InferFields<(typeof objectiveSpec)['fields']>;

const burnTier = (defaults: {
  burnRate: number;
  longWindowMs: number;
  shortWindowMs: number;
  severity: string;
}) =>
  s.object(
    {
      burnRate: s.number({
        doc: 'Burn rate (multiples of the error budget spent evenly over the SLO period) both windows must exceed.',
        default: defaults.burnRate,
        min: 1,
        max: 1000,
      }),
      longWindowMs: s.int({
        doc: 'The long window, ms (before `windowScale`): it makes the alert significant.',
        default: defaults.longWindowMs,
        min: 1,
        max: 30 * 86_400_000,
      }),
      shortWindowMs: s.int({
        doc: 'The short window, ms (before `windowScale`): it makes the alert resolve soon after the burn stops.',
        default: defaults.shortWindowMs,
        min: 1,
        max: 30 * 86_400_000,
      }),
      severity: s.enumOf(SEVERITIES, {
        doc: 'Severity of this tier.',
        default: defaults.severity as (typeof SEVERITIES)[number],
      }),
    },
    { doc: 'A multi-window burn-rate alert.' },
  );

export const detectorConfigSpec = s.object(
  {
    windowMs: s.int({
      doc: "Length of one evaluation window, ms. Choose several red-metrics flush intervals: a cumulative sample's delta is counted in the window its time falls in. Keep processors.anomaly-deltas.windowMs equal (it sends the heartbeats of quiet series once per window).",
      default: 60_000,
      min: 100,
      max: 3_600_000,
    }),
    allowedLatenessMs: s.int({
      doc: 'How long after its end a window waits for samples (flush interval plus pipeline delay, across all red-metrics partitions). Later samples are counted in the oldest open window (counter `late_deltas`).',
      default: 30_000,
      min: 0,
      max: 3_600_000,
    }),
    idleTimeoutMs: s.int({
      doc: 'With no input at all for this long, windows go on closing on the wall clock (at the event-time lag last seen), so traffic that stopped entirely shows as a drop. Keep it above any pause of the pipeline (a rebalance), or those pauses look like drops.',
      default: 300_000,
      min: 100,
      max: 86_400_000,
    }),
    punctuateMs: s.int({
      doc: 'How often each partition checks for idleness and prunes state, ms.',
      default: 1_000,
      min: 50,
      max: 600_000,
    }),
    levels: s.list(s.enumOf(['route', 'service'] as const, { doc: 'level', default: 'route' }), {
      doc: 'Where the latency, error-ratio, traffic and status-class detectors run: per route (method and http.route), per service (all its routes summed: catches what routes too sparse for a baseline cannot show), or both. SLOs are always per service.',
      default: ['route', 'service'],
    }),
    warmupWindows: s.int({
      doc: 'Windows with data a baseline needs before its detector may alert. Until then it only learns.',
      default: 30,
      min: 3,
      max: 10_000,
    }),
    historyWindows: s.int({
      doc: 'Windows a baseline remembers (median and median absolute deviation are taken over them).',
      default: 120,
      min: 3,
      max: 10_000,
    }),
    relearnAfterWindows: s.int({
      doc: 'Windows beyond the threshold are kept out of the baseline (outliers must not become normal) — except after an anomaly has fired for this many windows: then the baseline learns the new level, and the anomaly resolves once it is the norm.',
      default: 120,
      min: 1,
      max: 1_000_000,
    }),
    minRequests: s.int({
      doc: 'Requests a window needs for its latency quantiles and error ratio to count; thinner windows neither fire nor feed the baseline (they let a firing anomaly resolve).',
      default: 20,
      min: 1,
      max: 1_000_000,
    }),
    maxExampleTraces: s.int({
      doc: 'Example trace ids (from exemplars) per anomaly.',
      default: 5,
      min: 0,
      max: 50,
    }),
    routeExpiryWindows: s.int({
      doc: 'A route without a request for this many windows is forgotten (its firing anomalies resolve).',
      default: 1_440,
      min: 1,
      max: 1_000_000,
    }),
    maxRoutes: s.int({
      doc: 'Routes tracked per partition at most; further ones are ignored and counted (`routes_over_limit`), which keeps state bounded if route templating fails upstream.',
      default: 10_000,
      min: 1,
      max: 10_000_000,
    }),
    latency: s.object(
      {
        enabled: s.boolean({ doc: 'Detect p50 and p99 latency increases.', default: true }),
        sensitivity: sensitivity('a quantile'),
        p50: quantileFloors({ relative: 0.5, absolute: 0.01 }),
        // The p99 of a window is its few slowest requests: it wobbles far more than the median (a GC
        // pause, a cold cache), so it must move further before that is news.
        p99: quantileFloors({ relative: 1, absolute: 0.025 }),
        resolveFraction,
        ...hysteresisFields({ fire: 3, resolve: 5 }),
      },
      { doc: 'Latency (p50, p99) against its baseline.' },
    ),
    errorRatio: s.object(
      {
        enabled: s.boolean({ doc: 'Detect error-ratio increases.', default: true }),
        sensitivity: sensitivity('the error ratio'),
        minAbsoluteIncrease: s.number({
          doc: 'The ratio must also exceed the baseline by this much (0.05: five percentage points).',
          default: 0.05,
          min: 0,
          max: 1,
        }),
        significanceZ: s.number({
          doc: 'A window breaches only if the lower bound of the Wilson score interval of its ratio (this many standard errors; 2.58 ≈ 99%) is above the threshold: 2 errors in 30 requests is not evidence of a 5% error rate.',
          default: 2.58,
          min: 0,
          max: 10,
        }),
        resolveFraction,
        ...hysteresisFields({ fire: 3, resolve: 5 }),
      },
      { doc: 'Server errors (5xx, or no answer) per request against its baseline.' },
    ),
    traffic: s.object(
      {
        enabled: s.boolean({
          doc: 'Detect traffic drops (also to nothing at all) and surges.',
          default: true,
        }),
        sensitivity: sensitivity('the request rate'),
        dropBelow: s.number({
          doc: 'A drop fires below this fraction of the baseline rate (and below the statistical threshold).',
          default: 0.5,
          min: 0,
          max: 1,
        }),
        surgeAbove: s.number({
          doc: 'A surge fires above this multiple of the baseline rate (and above the statistical threshold).',
          default: 3,
          min: 1,
          max: 1000,
        }),
        minBaselineRequests: s.int({
          doc: 'Drops are only detected on routes whose baseline has at least this many requests per window.',
          default: 20,
          min: 1,
          max: 1_000_000,
        }),
        resolveFraction,
        ...hysteresisFields({ fire: 3, resolve: 5 }),
      },
      { doc: 'Request rate against its baseline.' },
    ),
    newStatusClass: s.object(
      {
        enabled: s.boolean({
          doc: 'Report a status class a route has never answered before.',
          default: true,
        }),
        classes: s.list(
          s.enumOf(['1xx', '2xx', '3xx', '4xx', '5xx'] as const, { doc: 'class', default: '5xx' }),
          {
            doc: 'Which classes to report when they first appear after warm-up (e.g. ["4xx", "5xx"]).',
            default: ['5xx'],
          },
        ),
        resolveWindows: s.int({
          doc: 'Consecutive windows without the class before the anomaly resolves. The class is known from then on and does not fire again.',
          default: 10,
          min: 1,
          max: 100_000,
        }),
      },
      { doc: 'First appearance of a status class on a route (e.g. the first 5xx ever).' },
    ),
    slo: s.object(
      {
        enabled: s.boolean({ doc: 'Multi-window, multi-burn-rate SLO alerts per service.', default: true }),
        objectives: s.record(objectiveSpec, {
          doc: 'Objectives by service name; "*" applies to services not listed. E.g. {"*": {"availability": 0.999}, "checkout": {"availability": 0.9995, "latencySeconds": 0.5, "latencyObjective": 0.99}}.',
          default: { '*': { availability: 0.999, latencySeconds: 0, latencyObjective: 0.99 } },
        }),
        windowScale: s.number({
          doc: 'Multiplies every burn-rate window (tests use 1/360: 1 h becomes 10 s). Windows are rounded up to whole evaluation windows.',
          default: 1,
          min: 1e-6,
          max: 100,
        }),
        fast: burnTier({
          burnRate: 14.4,
          longWindowMs: 3_600_000,
          shortWindowMs: 300_000,
          severity: 'CRITICAL',
        }),
        slow: burnTier({
          burnRate: 6,
          longWindowMs: 21_600_000,
          shortWindowMs: 1_800_000,
          severity: 'WARNING',
        }),
        resolveFraction,
        ...hysteresisFields({ fire: 1, resolve: 3 }),
      },
      {
        doc: 'SLO burn rate (Google SRE workbook, ch. 5): page at 14.4x over 1 h and 5 min (2% of a 30-day budget in an hour), ticket at 6x over 6 h and 30 min.',
      },
    ),
  },
  {
    doc: 'Latency, error-ratio, traffic, status-class and SLO burn-rate anomalies per service and route, from the RED metrics, as firing/resolved transitions on meshpipe.anomalies.v1.',
  },
);

export type DetectorConfig = InferFields<(typeof detectorConfigSpec)['fields']>;
export type Severity = (typeof SEVERITIES)[number];

/** The objective of a service: its own entry, else "*", else none. */
export function objectiveFor(config: DetectorConfig, service: string): Objective | undefined {
  return config.slo.objectives[service] ?? config.slo.objectives['*'];
}
