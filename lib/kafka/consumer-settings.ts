/**
 * The one way a long-running consumer group member is tuned from configuration: the processor host and
 * the sink host both read these keys (`processors.<name>.runtime`, `sinks.<name>.runtime`, specified in
 * runtime/consumer-settings.ts) and hand them here, so the same key means the same librdkafka setting in
 * both, and a new one is wired once.
 */
import type { GroupConsumerOptions } from './group-consumer.ts';

export interface ConsumerSettings {
  /** Where a partition without a committed offset starts (or one whose offset fell out of range). */
  startFrom: 'earliest' | 'latest';
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** How long a rebalance waits for members (default: the client's). */
  rebalanceTimeoutMs?: number;
  /** Longest a fetch waits for new records, ms. */
  maxWaitMs: number;
  /** Most bytes one fetch returns per partition. */
  maxBatchBytes: number;
}

export type ConsumerTuning = Pick<
  GroupConsumerOptions,
  | 'fromBeginning'
  | 'sessionTimeoutMs'
  | 'heartbeatIntervalMs'
  | 'rebalanceTimeoutMs'
  | 'maxWaitMs'
  | 'maxBytesPerPartition'
>;

/** The group consumer options (lib/kafka `consumer()`) that `settings` stand for. */
export function consumerTuning(settings: ConsumerSettings): ConsumerTuning {
  return {
    fromBeginning: settings.startFrom === 'earliest',
    sessionTimeoutMs: settings.sessionTimeoutMs,
    heartbeatIntervalMs: settings.heartbeatIntervalMs,
    ...(settings.rebalanceTimeoutMs === undefined ? {} : { rebalanceTimeoutMs: settings.rebalanceTimeoutMs }),
    maxWaitMs: settings.maxWaitMs,
    maxBytesPerPartition: settings.maxBatchBytes,
  };
}
