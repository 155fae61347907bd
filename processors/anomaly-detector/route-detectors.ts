/**
 * The per-route detectors, evaluated once per closed window: latency (p50, p99), error ratio, traffic
 * drop and surge against robust baselines, and the first appearance of a status class. Each returns its
 * transitions through `emit`; all state changes are on the RouteState passed in.
 *
 * One window of one route:
 *
 *   acc ──► rate, p50, p99, error ratio ──► baseline (median, MAD of history) ──► thresholds ──► verdict
 *                                        └─ warm-up: history shorter than warmupWindows → only learn
 *   verdict ──► hysteresis (fireWindows / resolveWindows) ──► FIRING / RESOLVED
 *   value ──► history, unless it breached (outliers stay out) — or the anomaly is older than
 *             relearnAfterWindows (then the new level becomes the baseline)
 */
import type { AnomalyType } from '../../schemas/types.ts';
import { formatDuration, formatValue, subjectOf, type TransitionSpec } from './anomaly-events.ts';
import type { DetectorConfig, Severity } from './config.ts';
import { histogramQuantile } from './histogram.ts';
import { type HysteresisOptions, stepCheck, type Verdict, verdictAbove, verdictBelow } from './hysteresis.ts';
import { type Baseline, baselineOf, lowerThresholds, remember, upperThresholds } from './robust-baseline.ts';
import {
  type Check,
  type Example,
  newCheck,
  type RouteHistory,
  type RouteState,
  type WindowAcc,
} from './state.ts';

export type Emit = (spec: TransitionSpec) => void;

export function newRoute(service: string, method: string | null, route: string | null): RouteState {
  return {
    service,
    method,
    route,
    windows: 0,
    busyWindows: 0,
    idleWindows: 0,
    history: { rate: [], p50: [], p99: [], errorRatio: [] },
    knownClasses: [],
    checks: {},
  };
}

export function emptyAcc(): WindowAcc {
  return {
    count: 0,
    errors: 0,
    sum: 0,
    bounds: [],
    buckets: [],
    bucketed: 0,
    classes: {},
    slowest: [],
    failing: [],
    byClass: {},
  };
}

/** Everything a check needs to phrase its evidence. */
interface WindowContext {
  route: RouteState;
  acc: WindowAcc;
  startMs: number;
  endMs: number;
  config: DetectorConfig;
  emit: Emit;
}

/** How one check reads the window, its thresholds and its words. */
interface MetricCheck {
  type: AnomalyType;
  name: string;
  severity: (observed: number) => Severity;
  direction: 'above' | 'below';
  hysteresis: HysteresisOptions;
  /** Thresholds from the baseline, or undefined when this check does not apply to it. */
  thresholds(b: Baseline): { fire: number; resolve: number } | undefined;
  /** Whether a breach may count (a surge needs enough requests, an error ratio significance). */
  eligible?(observed: number, fire: number, acc: WindowAcc): boolean;
  what: string;
  examples(acc: WindowAcc): Example[];
}

/**
 * Evaluates one closed window of a route. With `detect` false (a level the configuration leaves out) only
 * the bookkeeping runs: window counts, idleness.
 */
export function evaluateRouteWindow(
  route: RouteState,
  acc: WindowAcc,
  startMs: number,
  config: DetectorConfig,
  emit: Emit,
  detect = true,
): void {
  const ctx: WindowContext = { route, acc, startMs, endMs: startMs + config.windowMs, config, emit };
  route.windows++;
  route.idleWindows = acc.count === 0 ? route.idleWindows + 1 : 0;
  const seconds = config.windowMs / 1000;
  const sufficient = acc.count >= config.minRequests;
  if (sufficient) route.busyWindows++;
  if (!detect) return;
  const latencyKnown = sufficient && acc.bucketed >= config.minRequests;

  if (config.traffic.enabled) {
    runMetric(ctx, 'rate', acc.count / seconds, trafficChecks(config));
  }
  if (config.latency.enabled) {
    for (const [q, key, type] of [
      [0.5, 'p50', 'LATENCY_P50'],
      [0.99, 'p99', 'LATENCY_P99'],
    ] as const) {
      const value = latencyKnown ? histogramQuantile(q, acc.bounds, acc.buckets) : undefined;
      runMetric(ctx, key, value, [latencyCheck(config, type, key)]);
    }
  }
  if (config.errorRatio.enabled) {
    runMetric(ctx, 'errorRatio', sufficient ? acc.errors / acc.count : undefined, [errorRatioCheck(config)]);
  }
  if (config.newStatusClass.enabled) statusClasses(ctx);
  else for (const c of Object.keys(acc.classes)) learnClass(route, c);
}

function runMetric(
  ctx: WindowContext,
  key: keyof RouteHistory,
  value: number | undefined,
  checks: MetricCheck[],
): void {
  const { route, config } = ctx;
  const history = route.history[key];
  if (value === undefined) {
    // No evidence this window: nothing is learnt, nothing fires; a firing anomaly counts it towards
    // resolving (like a Prometheus alert whose series disappeared), the traffic detectors report silence.
    for (const check of checks) {
      const state = route.checks[check.name];
      if (state === undefined) continue;
      const firedAtMs = state.firedAtMs;
      const transition = stepCheck(state, 'clear', check.hysteresis);
      if (transition === 'RESOLVED') {
        const baseline = history.length > 0 ? baselineOf(history) : undefined;
        ctx.emit(
          transitionOf(ctx, check, { ...state, firedAtMs }, 'RESOLVED', Number.NaN, baseline, undefined),
        );
      }
      if (state.phase === 'ok') delete route.checks[check.name];
    }
    return;
  }
  // A history shorter than the warm-up could never end it: the smaller of the two counts.
  if (history.length < Math.min(config.warmupWindows, config.historyWindows)) {
    remember(history, value, config.historyWindows);
    return;
  }
  const baseline = baselineOf(history);
  let keep = true;
  for (const check of checks) {
    const thresholds = check.thresholds(baseline);
    let verdict: Verdict = 'clear';
    if (thresholds !== undefined) {
      verdict =
        check.direction === 'above' ? verdictAbove(value, thresholds) : verdictBelow(value, thresholds);
      if (
        verdict === 'breach' &&
        check.eligible !== undefined &&
        !check.eligible(value, thresholds.fire, ctx.acc)
      )
        verdict = 'deadband';
    }
    const state = route.checks[check.name] ?? newCheck();
    const firedAtMs = state.firedAtMs;
    const transition = stepCheck(state, verdict, check.hysteresis);
    if (transition === 'FIRING') {
      state.firedAtMs = ctx.endMs;
      state.severity = check.severity(value);
    }
    if (transition !== undefined) {
      const at = transition === 'RESOLVED' ? { ...state, firedAtMs } : state;
      ctx.emit(transitionOf(ctx, check, at, transition, value, baseline, thresholds));
    }
    if (
      verdict === 'breach' &&
      !(state.phase === 'firing' && state.firingWindows >= config.relearnAfterWindows)
    ) {
      keep = false;
    }
    if (state.phase === 'ok') delete route.checks[check.name];
    else route.checks[check.name] = state;
  }
  if (keep) remember(history, value, config.historyWindows);
}

function transitionOf(
  ctx: WindowContext,
  check: MetricCheck,
  state: Check,
  status: 'FIRING' | 'RESOLVED',
  observed: number,
  baseline: Baseline | undefined,
  thresholds: { fire: number; resolve: number } | undefined,
): TransitionSpec {
  const { route, config, acc } = ctx;
  const unit = unitOf(check.type);
  const subject = subjectOf(route.service, route.method, route.route);
  const window = formatDuration(config.windowMs);
  const threshold =
    status === 'FIRING' ? (thresholds?.fire ?? Number.NaN) : (thresholds?.resolve ?? Number.NaN);
  const base = baseline?.median ?? Number.NaN;
  const summary =
    status === 'FIRING'
      ? `${check.what} of ${subject} is ${formatValue(observed, unit)} (baseline ${formatValue(base, unit)})`
      : `${check.what} of ${subject} is back to normal`;
  const hysteresis = status === 'FIRING' ? check.hysteresis.fireWindows : check.hysteresis.resolveWindows;
  const description =
    status === 'FIRING'
      ? `${check.what} of ${subject} was ${formatValue(observed, unit)} over the ${window} window ending ${new Date(ctx.endMs).toISOString()}, ${check.direction} the threshold ${formatValue(threshold, unit)}, for ${hysteresis} consecutive window(s). Baseline: median ${formatValue(base, unit)}, robust sigma ${formatValue(baseline?.sigma ?? Number.NaN, unit)} over ${baseline?.n ?? 0} windows; ${acc.count} requests in the window.`
      : Number.isFinite(observed)
        ? `${check.what} of ${subject} was ${formatValue(observed, unit)} (within ${formatValue(threshold, unit)}) for ${hysteresis} consecutive window(s) of ${window}; it fired at ${new Date(state.firedAtMs ?? ctx.endMs).toISOString()}.`
        : `${subject} had fewer than ${config.minRequests} requests per window for ${hysteresis} consecutive window(s) of ${window}, so ${check.what} is no longer anomalous; it fired at ${new Date(state.firedAtMs ?? ctx.endMs).toISOString()}.`;
  return {
    type: check.type,
    status,
    severity: state.severity ?? check.severity(observed),
    service: route.service,
    route: route.route,
    method: route.method,
    identity: {},
    extra: {
      window: window.replace(' ', ''),
      baseline_windows: String(baseline?.n ?? 0),
      requests: String(acc.count),
    },
    observed,
    baseline: base,
    threshold,
    unit,
    windowStartMs: ctx.startMs,
    windowEndMs: ctx.endMs,
    exampleTraceIds: check.examples(acc).map((e) => e.traceId),
    firedAtMs: state.firedAtMs ?? ctx.endMs,
    summary,
    description,
  };
}

function unitOf(type: AnomalyType): string {
  switch (type) {
    case 'LATENCY_P50':
    case 'LATENCY_P99':
      return 's';
    case 'ERROR_RATIO':
      return '1';
    case 'TRAFFIC_DROP':
    case 'TRAFFIC_SURGE':
      return '{request}/s';
    default:
      return '{request}';
  }
}

function latencyCheck(
  config: DetectorConfig,
  type: 'LATENCY_P50' | 'LATENCY_P99',
  key: 'p50' | 'p99',
): MetricCheck {
  const c = config.latency;
  const floors = c[key];
  return {
    type,
    name: type,
    what: `${key} latency`,
    direction: 'above',
    severity: () => 'WARNING',
    hysteresis: c,
    thresholds: (b) =>
      upperThresholds(
        b,
        c.sensitivity,
        [b.median * (1 + floors.minRelativeIncrease), b.median + floors.minAbsoluteIncreaseSeconds],
        c.resolveFraction,
      ),
    examples: (acc) => acc.slowest,
  };
}

function errorRatioCheck(config: DetectorConfig): MetricCheck {
  const c = config.errorRatio;
  return {
    type: 'ERROR_RATIO',
    name: 'ERROR_RATIO',
    what: 'error ratio',
    direction: 'above',
    severity: () => 'CRITICAL',
    hysteresis: c,
    thresholds: (b) =>
      upperThresholds(b, c.sensitivity, [b.median + c.minAbsoluteIncrease], c.resolveFraction),
    eligible: (_observed, fire, acc) => wilsonLowerBound(acc.errors, acc.count, c.significanceZ) > fire,
    examples: (acc) => acc.failing,
  };
}

/**
 * Lower bound of the Wilson score interval of a binomial proportion: with `errors` of `n` requests, the
 * true error ratio is above this with the confidence `z` stands for. Unlike the raw ratio it knows that
 * 2 of 30 says little, while 200 of 3000 says a lot.
 * https://en.wikipedia.org/wiki/Binomial_proportion_confidence_interval#Wilson_score_interval
 */
export function wilsonLowerBound(errors: number, n: number, z: number): number {
  if (n === 0) return 0;
  const p = errors / n;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const spread = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return Math.max(0, (centre - spread) / (1 + z2 / n));
}

function trafficChecks(config: DetectorConfig): MetricCheck[] {
  const c = config.traffic;
  const seconds = config.windowMs / 1000;
  return [
    {
      type: 'TRAFFIC_DROP',
      name: 'TRAFFIC_DROP',
      what: 'request rate',
      direction: 'below',
      // All traffic gone is worse than some of it.
      severity: (observed) => (observed === 0 ? 'CRITICAL' : 'WARNING'),
      hysteresis: c,
      thresholds: (b) =>
        b.median * seconds < c.minBaselineRequests
          ? undefined
          : lowerThresholds(b, c.sensitivity, [b.median * c.dropBelow], c.resolveFraction),
      examples: (acc) => acc.slowest,
    },
    {
      type: 'TRAFFIC_SURGE',
      name: 'TRAFFIC_SURGE',
      what: 'request rate',
      direction: 'above',
      severity: () => 'INFO',
      hysteresis: c,
      thresholds: (b) =>
        upperThresholds(
          b,
          c.sensitivity,
          [b.median * c.surgeAbove, config.minRequests / seconds],
          c.resolveFraction,
        ),
      eligible: (observed) => observed * seconds >= config.minRequests,
      examples: (acc) => acc.slowest,
    },
  ];
}

function learnClass(route: RouteState, cls: string): boolean {
  if (route.knownClasses.includes(cls)) return false;
  route.knownClasses.push(cls);
  route.knownClasses.sort();
  return true;
}

/**
 * A status class the route never answered before. It fires at once (the event is the news; a persistent
 * error level is the error-ratio and SLO detectors' business), and resolves after the class has been
 * absent for `resolveWindows`. During warm-up classes are only learnt, and a known class never fires
 * again.
 */
function statusClasses(ctx: WindowContext): void {
  const { route, acc, config } = ctx;
  const c = config.newStatusClass;
  // Only a route that has been busy for a while has a meaningful "never": a sparse route seeing its first
  // 5xx after a handful of requests is not news (its service-wide route covers it).
  const warm = route.busyWindows > config.warmupWindows;
  const hysteresis = { fireWindows: 1, resolveWindows: c.resolveWindows };
  for (const cls of Object.keys(acc.classes).sort()) {
    if (!learnClass(route, cls) || !warm || !(c.classes as readonly string[]).includes(cls)) continue;
    const name = `NEW_STATUS_CLASS:${cls}`;
    const state = newCheck();
    stepCheck(state, 'breach', hysteresis);
    state.firedAtMs = ctx.endMs;
    state.severity = cls === '5xx' || cls === 'none' ? 'WARNING' : 'INFO';
    route.checks[name] = state;
    ctx.emit(statusClassTransition(ctx, cls, state, 'FIRING'));
  }
  for (const [name, state] of Object.entries(route.checks)) {
    if (!name.startsWith('NEW_STATUS_CLASS:')) continue;
    const cls = name.slice('NEW_STATUS_CLASS:'.length);
    if (state.firedAtMs === ctx.endMs) continue; // fired in this very window
    const firedAtMs = state.firedAtMs;
    const transition = stepCheck(state, (acc.classes[cls] ?? 0) > 0 ? 'breach' : 'clear', hysteresis);
    if (transition === 'RESOLVED') {
      ctx.emit(statusClassTransition(ctx, cls, { ...state, firedAtMs }, 'RESOLVED'));
      delete route.checks[name];
    }
  }
}

function statusClassTransition(
  ctx: WindowContext,
  cls: string,
  state: Check,
  status: 'FIRING' | 'RESOLVED',
): TransitionSpec {
  const { route, acc, config } = ctx;
  const subject = subjectOf(route.service, route.method, route.route);
  const seen = acc.classes[cls] ?? 0;
  const label = cls === 'none' ? 'requests without a response' : `${cls} responses`;
  return {
    type: 'NEW_STATUS_CLASS',
    status,
    severity: state.severity ?? 'WARNING',
    service: route.service,
    route: route.route,
    method: route.method,
    identity: { status_class: cls },
    extra: { window: formatDuration(config.windowMs).replace(' ', ''), requests: String(acc.count) },
    observed: seen,
    baseline: 0,
    threshold: 0,
    unit: '{request}',
    windowStartMs: ctx.startMs,
    windowEndMs: ctx.endMs,
    exampleTraceIds: (acc.byClass[cls] ?? []).map((e) => e.traceId),
    firedAtMs: state.firedAtMs ?? ctx.endMs,
    summary:
      status === 'FIRING'
        ? `${subject} answered ${label} for the first time (${seen} of ${acc.count})`
        : `no more ${label} from ${subject}`,
    description:
      status === 'FIRING'
        ? `${subject} had never answered ${label} in ${route.windows - 1} windows of ${formatDuration(config.windowMs)} (${route.busyWindows - 1} with at least ${config.minRequests} requests); the window ending ${new Date(ctx.endMs).toISOString()} had ${seen} of ${acc.count} requests.`
        : `${subject} answered no ${label} for ${config.newStatusClass.resolveWindows} consecutive windows; the class is known from now on.`,
  };
}

/** Resolves every firing check of a route that is being forgotten. */
export function resolveAllRouteChecks(
  route: RouteState,
  startMs: number,
  config: DetectorConfig,
  emit: Emit,
): void {
  const ctx: WindowContext = {
    route,
    acc: emptyAcc(),
    startMs,
    endMs: startMs + config.windowMs,
    config,
    emit,
  };
  const byName: Record<string, MetricCheck> = {};
  for (const check of [
    ...trafficChecks(config),
    latencyCheck(config, 'LATENCY_P50', 'p50'),
    latencyCheck(config, 'LATENCY_P99', 'p99'),
    errorRatioCheck(config),
  ])
    byName[check.name] = check;
  for (const [name, state] of Object.entries(route.checks).sort(([a], [b]) => a.localeCompare(b))) {
    if (state.phase !== 'firing') continue;
    if (name.startsWith('NEW_STATUS_CLASS:')) {
      emit(statusClassTransition(ctx, name.slice('NEW_STATUS_CLASS:'.length), state, 'RESOLVED'));
      continue;
    }
    const check = byName[name];
    if (check === undefined) continue;
    const spec = transitionOf(ctx, check, state, 'RESOLVED', 0, undefined, undefined);
    spec.description = `${subjectOf(route.service, route.method, route.route)} had no request for ${route.idleWindows} windows and is no longer tracked; ${check.what} resolves with it.`;
    spec.extra.reason = 'route_expired';
    emit(spec);
  }
}
