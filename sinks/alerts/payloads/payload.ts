/**
 * What every payload format renders: the transitions of one request (a group of one or more), each with
 * its idempotency key. A format is a pure function of this, so the bytes that are signed, sent and
 * retried are reproducible from the job data.
 */
import type { AlertView } from '../alert-view.ts';

export interface DeliveryItem {
  /** `<receiver>.<transitionId>`: the BullMQ job id and the transition's idempotency key. */
  key: string;
  alert: AlertView;
}

export interface RenderInput {
  receiver: string;
  /** The request's Idempotency-Key: the transition's key, or a key derived from a group's keys. */
  requestKey: string;
  items: readonly DeliveryItem[];
  /** sinks.alerts.externalUrl ('' for none). */
  externalUrl: string;
  /** Now, ms: Alertmanager's endsAt of firing alerts is relative to it. */
  nowMs: number;
  /** How long a firing alert stays valid in Alertmanager without being re-sent, ms. */
  validForMs: number;
}

/** A link to the anomaly, when an external URL is configured. */
export function linkOf(externalUrl: string, alert: AlertView): string | undefined {
  if (externalUrl === '') return undefined;
  return `${externalUrl.replace(/\/+$/, '')}/anomalies/${encodeURIComponent(alert.fingerprint)}`;
}
