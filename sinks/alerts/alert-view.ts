/**
 * One anomaly transition as the alert path carries it: JSON-safe (no BigInt: nanosecond times become
 * RFC 3339 strings with millisecond precision, non-finite evidence becomes null), because it travels as
 * BullMQ job data and ends up in every payload format. Built once per Kafka record by the sink's
 * `prepare`, so a record that cannot be delivered is dead-lettered before anything is enqueued.
 */
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import type { Anomaly } from '../../schemas/types.ts';

export interface AlertView {
  fingerprint: string;
  transitionId: string;
  status: 'firing' | 'resolved';
  /** The anomaly type (`LATENCY_P99`...), or `TEST` for `meshpipe alerts test`. */
  type: string;
  severity: 'info' | 'warning' | 'critical';
  service: string;
  route: string | null;
  method: string | null;
  summary: string;
  description: string;
  evidence: {
    observed: number | null;
    baseline: number | null;
    threshold: number | null;
    unit: string;
    windowStart: string;
    windowEnd: string;
    exampleTraceIds: string[];
  };
  startsAt: string;
  endsAt: string | null;
  labels: Record<string, string>;
  /** A test alert from `meshpipe alerts test`. */
  test: boolean;
}

/**
 * Label keys that identify an anomaly beside its type and route (processors/anomaly-detector): Alertmanager
 * needs identical label sets for the firing and the resolved transition, so only these become labels
 * there; evidence labels (burn rates, windows) go to annotations.
 */
export const IDENTITY_LABELS = ['slo', 'tier', 'status_class'] as const;

const NS_PER_MS = 1_000_000n;

function iso(ns: bigint): string {
  return new Date(Number(ns / NS_PER_MS)).toISOString();
}

function finite(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

export function alertViewOf(anomaly: Anomaly): AlertView {
  if (anomaly.transitionId === '' || anomaly.fingerprint === '') {
    throw new MeshpipeError(ERRORS.ALERTS_RECORD_INVALID, [
      anomaly.transitionId || '(none)',
      'the transition id and the fingerprint must not be empty',
    ]);
  }
  return {
    fingerprint: anomaly.fingerprint,
    transitionId: anomaly.transitionId,
    status: anomaly.status === 'FIRING' ? 'firing' : 'resolved',
    type: anomaly.type,
    severity: anomaly.severity.toLowerCase() as AlertView['severity'],
    service: anomaly.service,
    route: anomaly.route,
    method: anomaly.method,
    summary: anomaly.summary,
    description: anomaly.description,
    evidence: {
      observed: finite(anomaly.evidence.observed),
      baseline: finite(anomaly.evidence.baseline),
      threshold: finite(anomaly.evidence.threshold),
      unit: anomaly.evidence.unit,
      windowStart: iso(anomaly.evidence.windowStartUnixNano),
      windowEnd: iso(anomaly.evidence.windowEndUnixNano),
      exampleTraceIds: anomaly.evidence.exampleTraceIds,
    },
    startsAt: iso(anomaly.startsAtUnixNano),
    endsAt: anomaly.endsAtUnixNano === null ? null : iso(anomaly.endsAtUnixNano),
    labels: anomaly.labels,
    test: false,
  };
}

/** When the transition happened: the end of the window that caused it. */
export function transitionTimeOf(alert: AlertView): number {
  return Date.parse(alert.evidence.windowEnd);
}

const SEVERITY_RANK = { info: 0, warning: 1, critical: 2 } as const;

export function atLeast(alert: AlertView, minSeverity: 'INFO' | 'WARNING' | 'CRITICAL'): boolean {
  return SEVERITY_RANK[alert.severity] >= SEVERITY_RANK[minSeverity.toLowerCase() as AlertView['severity']];
}
