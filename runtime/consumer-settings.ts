/**
 * The consumer keys every host reads from its component's `runtime` section (`processors.<name>.runtime`,
 * `sinks.<name>.runtime`): specified once, so both sections read alike and are checked alike. The host
 * hands them to lib/kafka's `consumerTuning`, the one mapping to the client's settings.
 */
import { invalid, s } from '../lib/config/spec.ts';

/** Consumer-group session and fetch keys, in the order the config reference lists them. */
export const consumerFields = {
  sessionTimeoutMs: s.int({
    doc: 'Consumer-group session timeout: how long the group waits for a silent instance before moving its partitions to the others (the broker bounds it with group.min/max.session.timeout.ms).',
    default: 30_000,
    min: 1_000,
    max: 3_600_000,
  }),
  heartbeatIntervalMs: s.int({
    doc: 'Heartbeat interval of the consumer; about a third of sessionTimeoutMs.',
    default: 3_000,
    min: 100,
    max: 600_000,
  }),
  maxWaitMs: s.int({
    doc: 'Longest a fetch waits for new records: lower means less latency when traffic is light, more requests.',
    default: 500,
    min: 10,
    max: 30_000,
  }),
};

/** `runtime.maxBatchBytes`: what one fetch returns per partition; `doc` says what it bounds for the host. */
export function maxBatchBytesSpec(doc: string) {
  return s.int({ doc, default: 1_048_576, min: 1_024, max: 64 * 1_048_576 });
}

/** `runtime.metricsIntervalMs`: how often a host publishes its pipeline-health samples. */
export const metricsIntervalSpec = s.int({
  doc: 'How often pipeline-health samples are published to the metrics topic.',
  default: 5_000,
  min: 200,
  max: 600_000,
});

/**
 * What the spec cannot say key by key: a heartbeat as long as the session would let the group expel a
 * healthy member. `key` is the section's dotted key (`processors.span-assembler.runtime`).
 */
export function checkConsumerSettings(
  key: string,
  settings: { heartbeatIntervalMs: number; sessionTimeoutMs: number },
): void {
  if (settings.heartbeatIntervalMs >= settings.sessionTimeoutMs) {
    throw invalid(
      `${key}.heartbeatIntervalMs`,
      `must be lower than sessionTimeoutMs (${settings.sessionTimeoutMs}), got ${settings.heartbeatIntervalMs}`,
    );
  }
}
