/**
 * The changelog: how partition state survives restarts and rebalances.
 *
 * Every state change of a transaction is one record on `<prefix>.<name>.changelog.v1` — key =
 * `<store>/<key>` (partition-stores.ts), value = the encoded value (null for a delete), partition = the
 * input partition the state belongs to, no headers — written in the same transaction as the outputs and
 * the input offsets. The topic is compacted, so it converges to the latest value of every key, and
 * read_committed readers never see changes of aborted transactions. Restoring a partition is reading its changelog partition to the end
 * and applying every record in order (later values of a key win, as compaction would decide).
 */
import {
  type KafkaAdmin,
  type KafkaClient,
  type OutgoingMessage,
  readPartitionsToEnd,
} from '../../lib/kafka.ts';
import type { Logger } from '../../lib/logger.ts';
import type { SourceRecord } from '../../runtime/input-record.ts';
import type { ChangelogChanges } from './partition-stores.ts';

/**
 * The changelog records of a transaction's state changes. The key names the store; a header would too,
 * at about half as much CPU again per record in the producer (partition-stores.ts).
 */
export function changelogMessages(changes: ChangelogChanges, partition: number): OutgoingMessage[] {
  const messages: OutgoingMessage[] = [];
  for (const [key, { value }] of changes) messages.push({ key, value, partition });
  return messages;
}

/** Where a partition's changelog records go while restoring (partition-stores.ts). */
export interface RestoreTarget {
  restore(record: SourceRecord): void;
}

export interface RestoreResult {
  records: number;
  durationMs: number;
}

/**
 * Rebuilds the committed state of `stores` (by partition) from the changelog. The caller must have
 * initialised the transactional producer of each partition first: that fences any previous owner and
 * completes its open transaction, so the changelog is stable up to its end while this reads it.
 */
export async function restoreState(options: {
  kafka: KafkaClient;
  admin: KafkaAdmin;
  topic: string;
  stores: ReadonlyMap<number, RestoreTarget>;
  logger: Logger;
  signal?: AbortSignal;
}): Promise<RestoreResult> {
  const started = performance.now();
  const { records } = await readPartitionsToEnd({
    kafka: options.kafka,
    admin: options.admin,
    topic: options.topic,
    partitions: [...options.stores.keys()],
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    onRecord(partition, message) {
      if (message.key === null) {
        // Only the host writes here, always with a key: something else wrote to the topic.
        options.logger.warn(
          { topic: options.topic, partition, offset: message.offset },
          'skipping a changelog record without a key',
        );
        return;
      }
      options.stores.get(partition)!.restore({
        topic: options.topic,
        partition,
        offset: message.offset,
        key: message.key,
        value: message.value,
        timestampMs: message.timestamp,
        headers: message.headers,
      });
    },
  });
  return { records, durationMs: performance.now() - started };
}
