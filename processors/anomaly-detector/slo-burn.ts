/**
 * SLO burn-rate alerts per service, as in the Google SRE workbook, "Alerting on SLOs", recommendation 6
 * (multiwindow, multi-burn-rate): https://sre.google/workbook/alerting-on-slos/
 *
 *   burn rate over W = (bad requests / requests over W) / (1 − objective)
 *
 * A burn rate of 1 spends the error budget exactly over the SLO period; 14.4 spends 2% of a 30-day budget
 * in one hour. A tier fires when both its long window (significance: a short spike cannot page) and its
 * short window (reset time: it stops soon after the burn stops) exceed its burn rate:
 *
 *   fast (page):   14.4x over 1 h and 5 min
 *   slow (ticket):  6x   over 6 h and 30 min
 *
 * Bad means a server error (5xx or no response) for availability, and a request slower than the latency
 * threshold (rounded up to a bucket bound) for the latency SLO. The windows are sums over a ring of
 * per-window counts, so they slide by one evaluation window; `slo.windowScale` shrinks them for tests.
 */
import { formatDuration, formatValue, type TransitionSpec } from './anomaly-events.ts';
import { type DetectorConfig, objectiveFor } from './config.ts';
import { countAbove } from './histogram.ts';
import { stepCheck, type Verdict } from './hysteresis.ts';
import type { Emit } from './route-detectors.ts';
import {
  type Check,
  type Example,
  newCheck,
  type ServiceState,
  type SloWindow,
  type WindowAcc,
} from './state.ts';

/** What the routes of a service added up to in one window. */
export interface ServiceWindow {
  total: number;
  bad: number;
  slow: number;
  failing: Example[];
  slowest: Example[];
}

export function newService(service: string): ServiceState {
  return { service, ring: [], windows: 0, checks: {} };
}

/** Window counts of one tier, in evaluation windows (at least 1). */
export function tierWindows(config: DetectorConfig, tier: 'fast' | 'slow'): { long: number; short: number } {
  const t = config.slo[tier];
  const scaled = (ms: number) => Math.max(1, Math.ceil((ms * config.slo.windowScale) / config.windowMs));
  return { long: scaled(t.longWindowMs), short: scaled(t.shortWindowMs) };
}

function ringCapacity(config: DetectorConfig): number {
  return Math.max(...(['fast', 'slow'] as const).flatMap((t) => Object.values(tierWindows(config, t))));
}

/** Adds a route's window to its service's totals. */
export function addRouteWindow(
  totals: ServiceWindow,
  acc: WindowAcc,
  service: string,
  config: DetectorConfig,
): void {
  totals.total += acc.count;
  totals.bad += acc.errors;
  const objective = objectiveFor(config, service);
  if (objective !== undefined && objective.latencySeconds > 0 && acc.bounds.length > 0) {
    // Requests the histogram could not bucket count as good: we cannot tell.
    totals.slow += countAbove(objective.latencySeconds, acc.bounds, acc.buckets).slow;
  }
  mergeExamples(totals.failing, acc.failing, config.maxExampleTraces);
  mergeExamples(totals.slowest, acc.slowest, config.maxExampleTraces, true);
}

export function mergeExamples(
  into: Example[],
  from: readonly Example[],
  max: number,
  bySlowest = false,
): void {
  for (const e of from) if (!into.some((x) => x.traceId === e.traceId)) into.push(e);
  if (bySlowest) into.sort((a, b) => b.value - a.value);
  if (into.length > max) into.splice(max);
}

function ratio(
  ring: readonly SloWindow[],
  windows: number,
  counted: 'bad' | 'slow',
): { ratio: number; total: number } {
  let total = 0;
  let bad = 0;
  for (let i = Math.max(0, ring.length - windows); i < ring.length; i++) {
    total += ring[i]!.total;
    bad += ring[i]![counted];
  }
  return { ratio: total === 0 ? 0 : bad / total, total };
}

/** Pushes one window of a service and evaluates its SLO tiers. */
export function evaluateServiceWindow(
  service: ServiceState,
  totals: ServiceWindow,
  startMs: number,
  config: DetectorConfig,
  emit: Emit,
): void {
  service.ring.push({ total: totals.total, bad: totals.bad, slow: totals.slow });
  const capacity = ringCapacity(config);
  if (service.ring.length > capacity) service.ring.splice(0, service.ring.length - capacity);
  service.windows++;
  const objective = objectiveFor(config, service.service);
  if (!config.slo.enabled || objective === undefined) return;
  const slos: Array<{ slo: 'availability' | 'latency'; objective: number; counted: 'bad' | 'slow' }> = [];
  if (objective.availability > 0)
    slos.push({ slo: 'availability', objective: objective.availability, counted: 'bad' });
  if (objective.latencySeconds > 0)
    slos.push({ slo: 'latency', objective: objective.latencyObjective, counted: 'slow' });
  const endMs = startMs + config.windowMs;
  const hysteresis = config.slo;

  for (const { slo, objective: target, counted } of slos) {
    const budget = 1 - target;
    for (const tier of ['fast', 'slow'] as const) {
      const name = `SLO:${slo}:${tier}`;
      const windows = tierWindows(config, tier);
      const rate = config.slo[tier].burnRate;
      const long = ratio(service.ring, windows.long, counted);
      const short = ratio(service.ring, windows.short, counted);
      const burnLong = long.ratio / budget;
      const burnShort = short.ratio / budget;
      // Warm-up: a long window that has not filled yet would make a few bad requests look like a fire.
      const warm = service.windows >= Math.min(windows.long, config.warmupWindows);
      const resolveAt = 1 + (rate - 1) * config.slo.resolveFraction;
      let verdict: Verdict;
      if (burnLong > rate && burnShort > rate) verdict = warm ? 'breach' : 'deadband';
      else if (burnShort <= resolveAt || burnLong <= resolveAt) verdict = 'clear';
      else verdict = 'deadband';
      const state: Check = service.checks[name] ?? newCheck();
      const firedAtMs = state.firedAtMs;
      const transition = stepCheck(state, verdict, hysteresis);
      if (transition === 'FIRING') {
        state.firedAtMs = endMs;
        state.severity = config.slo[tier].severity;
      }
      if (state.phase === 'ok') delete service.checks[name];
      else service.checks[name] = state;
      if (transition === undefined) continue;

      const longMs = windows.long * config.windowMs;
      const shortMs = windows.short * config.windowMs;
      const what =
        slo === 'availability' ? 'availability' : `latency (≤ ${formatValue(objective.latencySeconds, 's')})`;
      const bad = slo === 'availability' ? 'server errors' : 'slow requests';
      const spec: TransitionSpec = {
        type: 'SLO_BURN_RATE',
        status: transition,
        severity: state.severity ?? config.slo[tier].severity,
        service: service.service,
        route: null,
        method: null,
        identity: { slo, tier },
        extra: {
          objective: String(target),
          burn_rate_threshold: String(rate),
          long_window: formatDuration(longMs).replace(' ', ''),
          short_window: formatDuration(shortMs).replace(' ', ''),
          burn_rate_long: burnLong.toFixed(2),
          burn_rate_short: burnShort.toFixed(2),
          ...(slo === 'latency' ? { latency_threshold_seconds: String(objective.latencySeconds) } : {}),
        },
        observed: burnLong,
        baseline: 1,
        threshold: transition === 'FIRING' ? rate : resolveAt,
        unit: '{burn rate}',
        windowStartMs: endMs - longMs,
        windowEndMs: endMs,
        exampleTraceIds: (slo === 'availability' ? totals.failing : totals.slowest).map((e) => e.traceId),
        firedAtMs: (transition === 'RESOLVED' ? firedAtMs : state.firedAtMs) ?? endMs,
        summary:
          transition === 'FIRING'
            ? `${service.service} is burning its ${what} error budget at ${formatValue(burnLong, '{burn rate}')} (${tier} burn: > ${rate}x over ${formatDuration(longMs)} and ${formatDuration(shortMs)})`
            : `${service.service} ${what} burn rate is back below ${formatValue(resolveAt, '{burn rate}')}`,
        description:
          transition === 'FIRING'
            ? `Objective ${target} (${slo}): ${(long.ratio * 100).toFixed(3)}% ${bad} over the last ${formatDuration(longMs)} (${long.total} requests) is a burn rate of ${burnLong.toFixed(2)}, and ${(short.ratio * 100).toFixed(3)}% over the last ${formatDuration(shortMs)} is ${burnShort.toFixed(2)}; both exceed ${rate}. At this rate a 30-day error budget lasts ${budgetDays(burnLong)}.`
            : `Burn rate over the last ${formatDuration(shortMs)} is ${burnShort.toFixed(2)} and over ${formatDuration(longMs)} ${burnLong.toFixed(2)}; it fired at ${new Date(firedAtMs ?? endMs).toISOString()}.`,
      };
      emit(spec);
    }
  }
}

function budgetDays(burn: number): string {
  if (burn <= 0) return 'forever';
  const hours = (30 * 24) / burn;
  return hours >= 48 ? `${(hours / 24).toFixed(1)} days` : `${hours.toFixed(1)} hours`;
}

/** Resolves every firing SLO check of a service that is being forgotten. */
export function resolveAllServiceChecks(
  service: ServiceState,
  startMs: number,
  config: DetectorConfig,
  emit: Emit,
): void {
  const endMs = startMs + config.windowMs;
  for (const [name, state] of Object.entries(service.checks).sort(([a], [b]) => a.localeCompare(b))) {
    if (state.phase !== 'firing') continue;
    const [, slo = 'availability', tier = 'fast'] = name.split(':');
    emit({
      type: 'SLO_BURN_RATE',
      status: 'RESOLVED',
      severity: state.severity ?? 'WARNING',
      service: service.service,
      route: null,
      method: null,
      identity: { slo, tier },
      extra: { reason: 'service_expired' },
      observed: 0,
      baseline: 1,
      threshold: 0,
      unit: '{burn rate}',
      windowStartMs: startMs,
      windowEndMs: endMs,
      exampleTraceIds: [],
      firedAtMs: state.firedAtMs ?? endMs,
      summary: `${service.service} has no traffic left to burn its ${slo} budget`,
      description: `Every route of ${service.service} has been idle long enough to be forgotten; the burn-rate alert resolves with it.`,
    });
  }
}
