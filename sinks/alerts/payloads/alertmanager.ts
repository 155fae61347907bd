/**
 * Alertmanager API v2 (`POST /api/v2/alerts`, a list of postableAlert:
 * https://github.com/prometheus/alertmanager/blob/main/api/v2/openapi.yaml).
 *
 * Alertmanager identifies an alert by its label set, so labels are only what identifies the anomaly —
 * alertname (from the type), service, route, method, severity, its identity labels and the fingerprint —
 * identical on the firing and the resolved transition. Evidence goes to annotations. Label names must
 * match [a-zA-Z_][a-zA-Z0-9_]* (Alertmanager 0.25's classic validation).
 *
 * endsAt: a resolved transition carries the time it resolved. A firing alert is given endsAt = now +
 * `validForMs` and is re-posted before that (sinks.alerts.alertmanagerResendMs), the contract Prometheus
 * keeps too: Alertmanager resolves alerts that stop being sent and holds no alerts across its restarts,
 * so a firing alert must keep being sent — and stops being shown if meshpipe stops for good.
 */
import { type AlertView, IDENTITY_LABELS } from '../alert-view.ts';
import { linkOf, type RenderInput } from './payload.ts';

export const ALERTMANAGER_PATH = '/api/v2/alerts';

/** The URL alerts are posted to: the configured base URL plus /api/v2/alerts (unless already there). */
export function alertmanagerUrl(base: string): string {
  const trimmed = base.replace(/\/+$/, '');
  return trimmed.endsWith(ALERTMANAGER_PATH) ? trimmed : `${trimmed}${ALERTMANAGER_PATH}`;
}

/** `LATENCY_P99` → `MeshpipeLatencyP99` */
export function alertnameOf(type: string): string {
  return `Meshpipe${type
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('')}`;
}

function labelName(key: string): string {
  const name = key.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[a-zA-Z_]/.test(name) ? name : `_${name}`;
}

export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

export function postableAlertOf(
  alert: AlertView,
  key: string,
  input: Pick<RenderInput, 'externalUrl' | 'nowMs' | 'validForMs'>,
): PostableAlert {
  const labels: Record<string, string> = {
    alertname: alertnameOf(alert.type),
    severity: alert.severity,
    service: alert.service,
    meshpipe_fingerprint: alert.fingerprint,
  };
  if (alert.route !== null) labels.route = alert.route;
  if (alert.method !== null) labels.method = alert.method;
  for (const k of IDENTITY_LABELS) if (alert.labels[k] !== undefined) labels[labelName(k)] = alert.labels[k]!;
  if (alert.test) labels.meshpipe_test = 'true';

  const e = alert.evidence;
  const annotations: Record<string, string> = {
    summary: alert.summary,
    description: alert.description,
    observed: e.observed === null ? '' : String(e.observed),
    baseline: e.baseline === null ? '' : String(e.baseline),
    threshold: e.threshold === null ? '' : String(e.threshold),
    unit: e.unit,
    window_start: e.windowStart,
    window_end: e.windowEnd,
    example_trace_ids: e.exampleTraceIds.join(','),
    transition_id: alert.transitionId,
    idempotency_key: key,
  };
  for (const [k, v] of Object.entries(alert.labels)) {
    if (!(IDENTITY_LABELS as readonly string[]).includes(k)) annotations[labelName(k)] = v;
  }
  const endsAt =
    alert.status === 'resolved' && alert.endsAt !== null
      ? alert.endsAt
      : new Date(input.nowMs + input.validForMs).toISOString();
  const url = linkOf(input.externalUrl, alert);
  return {
    labels,
    annotations,
    startsAt: alert.startsAt,
    endsAt,
    ...(url === undefined ? {} : { generatorURL: url }),
  };
}

export function renderAlertmanager(input: RenderInput): string {
  return JSON.stringify(input.items.map(({ key, alert }) => postableAlertOf(alert, key, input)));
}
