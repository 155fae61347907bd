/**
 * The project's partitioner (lib/kafka.ts: Java-compatible murmur2 of the key), remembered per key.
 *
 * All events of a connection share one key Buffer (raw-event-builder.ts builds it once per connection),
 * and kafkajs calls the partitioner for every message: murmur2 over the key plus a filter of the
 * partition metadata each time. For a keyed message the answer depends only on the key and the number
 * of partitions, so it is cached against the Buffer object (a WeakMap: a closed connection's entry goes
 * with its key) and recomputed when the partition count changes. Same partitions as the plain
 * partitioner, by construction: the cache only ever holds its answers.
 */
import type { ICustomPartitioner } from 'kafkajs';
import { partitioner as projectPartitioner } from '../lib/kafka.ts';

export const memoizedKeyPartitioner: ICustomPartitioner = () => {
  const partition = projectPartitioner();
  const cache = new WeakMap<object, { partitions: number; partition: number }>();
  return (args) => {
    const key = args.message.key;
    if (!(key instanceof Buffer) || (args.message.partition !== undefined && args.message.partition !== null))
      return partition(args);
    const partitions = args.partitionMetadata.length;
    const hit = cache.get(key);
    if (hit !== undefined && hit.partitions === partitions) return hit.partition;
    const answer = partition(args);
    cache.set(key, { partitions, partition: answer });
    return answer;
  };
};
