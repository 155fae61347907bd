/**
 * Turns two successive DemoStats into what a person watching wants: rates and error ratios over the last
 * interval (counters are cumulative), p50/p99 per service, and the active faults — as one status line or
 * as one JSON object.
 */
import { describeFault } from './fault.ts';
import { SERVICES, type ServiceName } from './layout.ts';
import type { DemoStats } from './topology.ts';

export interface RateSummary {
  /** Requests in the interval, per second. */
  ratePerSec: number;
  /** 5xx (and, for the load, unanswered) over all requests of the interval; 0 when there were none. */
  errorRatio: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface StatusSummary {
  time: string;
  load:
    | (RateSummary & { sent: number; ok: number; clientErrors: number; errors: number; skipped: number })
    | null;
  services: Record<
    ServiceName,
    RateSummary & { requests: number; errors: number; connections: number; fault: string }
  >;
}

const ratio = (part: number, whole: number) => (whole > 0 ? Math.round((part / whole) * 10_000) / 10_000 : 0);
const perSec = (count: number, ms: number) => (ms > 0 ? Math.round((count / ms) * 10_000) / 10 : 0);

/** `prev` undefined: the first summary, over everything since start. */
export function summarize(prev: DemoStats | undefined, cur: DemoStats): StatusSummary {
  const ms = prev === undefined ? 0 : Date.parse(cur.time) - Date.parse(prev.time);
  let load: StatusSummary['load'] = null;
  if (cur.load !== null) {
    const before = prev?.load;
    const errors = cur.load.serverErrors + cur.load.failed;
    const sent = cur.load.sent - (before?.sent ?? 0);
    const newErrors =
      errors - (before === undefined || before === null ? 0 : before.serverErrors + before.failed);
    load = {
      sent: cur.load.sent,
      ok: cur.load.ok,
      clientErrors: cur.load.clientErrors,
      errors,
      skipped: cur.load.skipped,
      ratePerSec: perSec(sent, ms || cur.load.elapsedMs),
      errorRatio: ratio(newErrors, sent),
      ...cur.load.latency,
    };
  }
  const services = {} as StatusSummary['services'];
  for (const name of SERVICES) {
    const now = cur.services[name];
    const before = prev?.services[name];
    const errors = now.statusClasses['5xx'] ?? 0;
    const requests = now.requests - (before?.requests ?? 0);
    services[name] = {
      requests: now.requests,
      errors,
      connections: now.connections.open,
      fault: describeFault(now.fault),
      ratePerSec: perSec(requests, ms),
      errorRatio: ratio(errors - (before?.statusClasses['5xx'] ?? 0), requests),
      ...now.latency,
    };
  }
  return { time: cur.time, load, services };
}

const ms = (v: number | null) => (v === null ? '-' : v < 10 ? v.toFixed(1) : String(Math.round(v)));
const pct = (r: number) => `${(r * 100).toFixed(1)}%`;

/** `load 20.0/s 0.0% err p50 4.2 p99 12 ms · gateway 20.0/s 0.0% p50 3.6 p99 11 · orders ... [latency 300 ms]` */
export function statusLine(summary: StatusSummary): string {
  const parts: string[] = [];
  const { load } = summary;
  if (load !== null)
    parts.push(
      `load ${load.ratePerSec.toFixed(1)}/s ${pct(load.errorRatio)} err p50 ${ms(load.p50Ms)} p99 ${ms(load.p99Ms)} ms`,
    );
  for (const name of SERVICES) {
    const s = summary.services[name];
    const fault = s.fault === 'none' ? '' : ` [${s.fault}]`;
    parts.push(
      `${name} ${s.ratePerSec.toFixed(1)}/s ${pct(s.errorRatio)} p50 ${ms(s.p50Ms)} p99 ${ms(s.p99Ms)}${fault}`,
    );
  }
  return parts.join(' · ');
}
