/**
 * Receivers as delivery sees them: the configured entry plus its signing key (from the environment when
 * it names a variable), the URL requests go to, its queue and its group limit. Resolved once at start, so a
 * missing key stops the sink with an error naming the receiver rather than failing every request.
 */
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import type { AlertsSinkConfig, ReceiverConfig } from './config.ts';
import { alertmanagerUrl } from './payloads/alertmanager.ts';
import { SLACK_MAX_ALERTS } from './payloads/slack.ts';
import { standardWebhooksKey } from './standard-webhooks.ts';

export interface ResolvedReceiver extends ReceiverConfig {
  /** The HMAC key every request is signed with. */
  key: string;
  /** The key as Standard Webhooks reads it (the base64 after `whsec_`), when that scheme is on. */
  standardKey: Buffer | null;
  /** Where requests go. */
  endpoint: string;
  /** BullMQ queue of this receiver. */
  queue: string;
  /** Transitions per request at most (Slack's block limit caps it). */
  groupLimit: number;
}

/** One BullMQ queue per receiver: its own rate limit, its own 429 pause, its own groups. */
export function queueNameOf(receiver: string): string {
  return `alerts-${receiver}`;
}

/** The queue every exhausted or rejected transition ends in, whatever its receiver. */
export const DEAD_LETTER_QUEUE = 'alerts-dead-letters';

/**
 * The job id of a transition for a receiver, which is also its idempotency key: BullMQ ignores an add
 * whose job id exists, so a transition Kafka delivers twice is enqueued once. BullMQ reserves ":" in
 * custom ids; it is escaped (as are "%"), keeping ids one-to-one with transition ids.
 */
export function jobIdOf(receiver: string, transitionId: string): string {
  return `${receiver}.${transitionId.replace(/%/g, '%25').replace(/:/g, '%3A')}`;
}

export function resolveReceiver(
  receiver: ReceiverConfig,
  env: Record<string, string | undefined> = process.env,
): ResolvedReceiver {
  let key = receiver.secret;
  if (receiver.secretEnv !== '') {
    key = env[receiver.secretEnv] ?? '';
    if (key === '') {
      throw new MeshpipeError(ERRORS.ALERTS_SECRET_MISSING, [
        receiver.name,
        `the environment variable ${receiver.secretEnv} (secretEnv) is empty or not set`,
      ]);
    }
  }
  if (key === '') {
    throw new MeshpipeError(ERRORS.ALERTS_SECRET_MISSING, [
      receiver.name,
      'neither secretEnv nor secret is set',
    ]);
  }
  let standardKey: Buffer | null = null;
  if (receiver.signatures.includes('standard-webhooks')) {
    const decoded = standardWebhooksKey(key);
    if (!Buffer.isBuffer(decoded))
      throw new MeshpipeError(ERRORS.ALERTS_SECRET_INVALID, [receiver.name, decoded.problem]);
    standardKey = decoded;
  }
  return {
    ...receiver,
    key,
    standardKey,
    endpoint: receiver.type === 'alertmanager' ? alertmanagerUrl(receiver.url) : receiver.url,
    queue: queueNameOf(receiver.name),
    groupLimit:
      receiver.type === 'slack' ? Math.min(receiver.maxGroupSize, SLACK_MAX_ALERTS) : receiver.maxGroupSize,
  };
}

export function resolveReceivers(
  config: Pick<AlertsSinkConfig, 'receivers'>,
  env: Record<string, string | undefined> = process.env,
): ResolvedReceiver[] {
  return config.receivers.map((r) => resolveReceiver(r, env));
}
