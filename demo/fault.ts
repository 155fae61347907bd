/**
 * Fault injection for the demo services: added latency (with optional jitter) and a ratio of requests
 * answered 500/503. A fault is plain data so it can travel as a flag (`--fault orders:latency=200`), as
 * JSON to a service's admin API, and into status lines.
 *
 *   latency=<ms>            every response of the service waits this long first
 *   latency=<ms>~<jitter>   ... uniformly between ms-jitter and ms+jitter
 *   errors=<ratio>          this fraction (0..1, or a percentage like 20%) is answered 500 or 503
 *   none                    clears both
 */
import { ERRORS, MeshpipeError } from '../lib/errors.ts';
import { isServiceName, SERVICES, type ServiceName } from './layout.ts';

export interface Fault {
  latencyMs: number;
  jitterMs: number;
  /** Fraction of requests answered with an injected 500/503, 0..1. */
  errorRate: number;
}

export const NO_FAULT: Fault = Object.freeze({ latencyMs: 0, jitterMs: 0, errorRate: 0 });

/** Latency above this is a typo, not a fault: a minute would only trip client timeouts. */
export const MAX_LATENCY_MS = 60_000;

function bad(text: string, why: string): MeshpipeError {
  return new MeshpipeError(ERRORS.DEMO_BAD_FAULT, [text, why]);
}

/** `latency=300`, `latency=300~50`, `errors=0.2`, `errors=20%`, or `none` → the fields it sets. */
export function parseFaultSetting(text: string): Partial<Fault> {
  if (text.trim() === 'none') return { ...NO_FAULT };
  const m = /^(latency|errors)=(.+)$/.exec(text.trim());
  if (m === null) throw bad(text, 'expected latency=<ms>[~<jitter>] or errors=<ratio>');
  const [, kind, value] = m as unknown as [string, string, string];
  if (kind === 'latency') {
    const lm = /^(\d+(?:\.\d+)?)(?:~(\d+(?:\.\d+)?))?$/.exec(value);
    if (lm === null)
      throw bad(text, 'latency is milliseconds, optionally ~jitter: latency=300 or latency=300~50');
    return checked(text, { latencyMs: Number(lm[1]), jitterMs: lm[2] === undefined ? 0 : Number(lm[2]) });
  }
  const percent = value.endsWith('%');
  const ratio = Number(percent ? value.slice(0, -1) : value) / (percent ? 100 : 1);
  if (value === '' || !Number.isFinite(ratio)) throw bad(text, 'errors is a ratio such as 0.2 or 20%');
  return checked(text, { errorRate: ratio });
}

/** `orders:latency=300` → which service and what changes. */
export function parseServiceFault(text: string): { service: ServiceName; change: Partial<Fault> } {
  const colon = text.indexOf(':');
  const service = colon < 0 ? '' : text.slice(0, colon);
  if (!isServiceName(service))
    throw bad(text, `expected <service>:<setting> with service one of ${SERVICES.join(', ')}`);
  return { service, change: parseFaultSetting(text.slice(colon + 1)) };
}

function checked(text: string, change: Partial<Fault>): Partial<Fault> {
  const { latencyMs, jitterMs, errorRate } = change;
  if (latencyMs !== undefined && !(latencyMs >= 0 && latencyMs <= MAX_LATENCY_MS))
    throw bad(text, `latency must be 0..${MAX_LATENCY_MS} ms`);
  if (jitterMs !== undefined && !(jitterMs >= 0 && jitterMs <= MAX_LATENCY_MS))
    throw bad(text, `jitter must be 0..${MAX_LATENCY_MS} ms`);
  if (errorRate !== undefined && !(errorRate >= 0 && errorRate <= 1)) throw bad(text, 'errors must be 0..1');
  return change;
}

/** Applies a change (from a flag or the admin API, so possibly untrusted JSON) to a fault. */
export function mergeFault(current: Fault, change: unknown): Fault {
  const text = JSON.stringify(change) ?? String(change);
  if (typeof change !== 'object' || change === null) throw bad(text, 'expected an object');
  const next: Fault = { ...current };
  for (const [key, value] of Object.entries(change)) {
    if (key !== 'latencyMs' && key !== 'jitterMs' && key !== 'errorRate')
      throw bad(text, `unknown field ${key}`);
    if (typeof value !== 'number') throw bad(text, `${key} must be a number`);
    next[key] = value;
  }
  checked(text, next);
  return next;
}

/** How long to hold this response: latency ± a uniform jitter, never negative. */
export function faultDelayMs(fault: Fault, random: () => number = Math.random): number {
  if (fault.latencyMs === 0 && fault.jitterMs === 0) return 0;
  return Math.max(0, fault.latencyMs + (random() * 2 - 1) * fault.jitterMs);
}

/** Whether to answer this request with an injected error. */
export function injectError(fault: Fault, random: () => number = Math.random): boolean {
  return fault.errorRate > 0 && random() < fault.errorRate;
}

/** `latency 300±50 ms, errors 20%`, or `none`. */
export function describeFault(fault: Fault): string {
  const parts: string[] = [];
  if (fault.latencyMs > 0 || fault.jitterMs > 0)
    parts.push(`latency ${fault.latencyMs}${fault.jitterMs > 0 ? `±${fault.jitterMs}` : ''} ms`);
  if (fault.errorRate > 0) parts.push(`errors ${Math.round(fault.errorRate * 1000) / 10}%`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

/** The settings that express a change, for a service's --fault flags (the inverse of parseFaultSetting). */
export function faultSettings(change: Partial<Fault>): string[] {
  const settings: string[] = [];
  if (change.latencyMs !== undefined || change.jitterMs !== undefined)
    settings.push(`latency=${change.latencyMs ?? 0}~${change.jitterMs ?? 0}`);
  if (change.errorRate !== undefined) settings.push(`errors=${change.errorRate}`);
  return settings;
}
