/**
 * The generic JSON payload (docs/alerts.md#generic-json): a versioned envelope around the transitions of
 * one request, close to Alertmanager's webhook format so existing handlers adapt easily. Every alert
 * carries its own `idempotencyKey`; a receiver that stores the keys it processed sees each transition
 * once, whatever retries, regrouping or Kafka redelivery happened on the way.
 */
import { linkOf, type RenderInput } from './payload.ts';

export const GENERIC_PAYLOAD_VERSION = '1';

export function renderGeneric(input: RenderInput): string {
  const alerts = input.items.map(({ key, alert }) => {
    const url = linkOf(input.externalUrl, alert);
    return { idempotencyKey: key, ...alert, ...(url === undefined ? {} : { url }) };
  });
  return JSON.stringify({
    version: GENERIC_PAYLOAD_VERSION,
    source: 'meshpipe',
    receiver: input.receiver,
    requestKey: input.requestKey,
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    alerts,
  });
}
