/**
 * Static membership (KIP-345), what both hosts do with it: each joins its consumer group with a stable
 * `group.instance.id` (lib/instance-slot.ts says how it is chosen), so an instance killed and started
 * again gets its partitions back at once instead of after the session timeout, and leaves the group
 * explicitly when it stops gracefully (a static member does not leave by closing: lib/kafka/
 * group-consumer.ts). What is left for here is the one failure static membership adds: another process
 * joined with the same id and the broker fenced this one out for good.
 */
import { ERRORS, MeshpipeError } from '../lib/errors.ts';
import { isInstanceFenced, type KafkaError } from '../lib/kafka.ts';

/**
 * A consumer's fatal error as KAFKA_GROUP_INSTANCE_FENCED (exit 69, naming the group and the id) when
 * another member with this instance id fenced it out; undefined for any other error, which the host
 * reports its own way.
 */
export function instanceFencedError(
  err: KafkaError,
  groupId: string,
  groupInstanceId: string | undefined,
): MeshpipeError | undefined {
  if (!isInstanceFenced(err)) return undefined;
  return new MeshpipeError(ERRORS.KAFKA_GROUP_INSTANCE_FENCED, [groupId, groupInstanceId ?? '?'], {
    cause: err,
  });
}
