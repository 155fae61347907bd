/**
 * Anomaly records (schemas/anomaly.avsc): stable fingerprints, transition ids and the words around the
 * evidence. Everything here is a function of detector state and input, so a replay after a crash emits
 * byte-identical records — which is what lets the alert sink deduplicate by `transitionId`.
 */
import { createHash } from 'node:crypto';
import type { Anomaly, AnomalyType } from '../../schemas/types.ts';
import type { Severity } from './config.ts';

export interface TransitionSpec {
  type: AnomalyType;
  status: 'FIRING' | 'RESOLVED';
  severity: Severity;
  service: string;
  route: string | null;
  method: string | null;
  /** Labels that tell this anomaly from others of its type on the same route (part of the fingerprint). */
  identity: Record<string, string>;
  /** Further labels (evidence details), not part of the fingerprint. */
  extra: Record<string, string>;
  observed: number;
  baseline: number;
  threshold: number;
  unit: string;
  windowStartMs: number;
  windowEndMs: number;
  exampleTraceIds: string[];
  /** When it fired (end of the window it fired in), ms. */
  firedAtMs: number;
  summary: string;
  description: string;
}

export function fingerprintOf(
  type: AnomalyType,
  service: string,
  route: string | null,
  method: string | null,
  identity: Record<string, string>,
): string {
  const labels = Object.keys(identity)
    .sort()
    .map((k) => [k, identity[k]]);
  return createHash('sha256')
    .update(JSON.stringify([type, service, route, method, labels]))
    .digest('hex')
    .slice(0, 16);
}

const NS_PER_MS = 1_000_000n;

export function anomalyOf(spec: TransitionSpec): Anomaly {
  const fingerprint = fingerprintOf(spec.type, spec.service, spec.route, spec.method, spec.identity);
  // At most one transition per fingerprint per window end, so this is unique — and the same on replay.
  const transitionId = `${fingerprint}-${spec.status === 'FIRING' ? 'firing' : 'resolved'}-${spec.windowEndMs}`;
  return {
    fingerprint,
    transitionId,
    status: spec.status,
    type: spec.type,
    severity: spec.severity,
    service: spec.service,
    route: spec.route,
    method: spec.method,
    summary: spec.summary,
    description: spec.description,
    evidence: {
      observed: spec.observed,
      baseline: spec.baseline,
      threshold: spec.threshold,
      unit: spec.unit,
      windowStartUnixNano: BigInt(spec.windowStartMs) * NS_PER_MS,
      windowEndUnixNano: BigInt(spec.windowEndMs) * NS_PER_MS,
      exampleTraceIds: spec.exampleTraceIds,
    },
    startsAtUnixNano: BigInt(spec.firedAtMs) * NS_PER_MS,
    endsAtUnixNano: spec.status === 'RESOLVED' ? BigInt(spec.windowEndMs) * NS_PER_MS : null,
    labels: { ...spec.extra, ...spec.identity },
  };
}

/** `GET /orders/:id on orders`, `orders` for service-wide anomalies. */
export function subjectOf(service: string, method: string | null, route: string | null): string {
  if (route === null && method === null) return service;
  return `${[method, route ?? '(no route)'].filter((x) => x !== null).join(' ')} on ${service}`;
}

/** A value in its unit, for people: 0.512 s → "512 ms", 0.031 (ratio) → "3.1%". */
export function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'no data';
  switch (unit) {
    case 's':
      return value < 1 ? `${round(value * 1000)} ms` : `${round(value)} s`;
    case '1':
      return `${round(value * 100)}%`;
    case '{request}/s':
      return `${round(value)} req/s`;
    case '{burn rate}':
      return `${round(value)}x`;
    case '{request}':
      return `${round(value)} requests`;
    default:
      return `${round(value)} ${unit}`;
  }
}

/** Three significant digits, no exponent. */
function round(value: number): string {
  if (value === 0) return '0';
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(value))));
  return Number(value.toFixed(Math.min(digits, 6))).toString();
}

/** `60 s`, `5 min`, `1 h` */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${round(ms / 1000)} s`;
}

export function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}
