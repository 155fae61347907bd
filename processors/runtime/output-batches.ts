/**
 * Outputs to batched topics (schemas/topics.ts `batch`) leave a transaction as batch records: the
 * values of each partition — the partition a record keyed by the value's key would go to — packed
 * into as few records as the topic's max.message.bytes allows, in emit order. Handlers never see this:
 * they emit one value at a time (encoded then, so a bad value fails its own call), and every reader
 * unbatches. One record per partition per transaction instead of one per value is what makes a Kafka
 * client's per-record cost disappear from the cost per event (docs/benchmarks.md).
 */
import { partitionOfKey } from '../../lib/key-partition.ts';
import { type MessageSizeLimits, RECORD_BATCH_OVERHEAD, recordBytes } from './message-size.ts';
import type { OutgoingRecord } from './partition-task.ts';
import type { ResolvedTopic } from './processor-topics.ts';

/** Bytes a batch record adds around its items' bodies: header, array block count and end. */
const BATCH_FRAME_BYTES = 5 + 10 + 1;
/** What each item loses when it joins a batch: its own 5-byte header. */
const ITEM_HEADER_BYTES = 5;

export interface OutputBatchOptions {
  /** The batched output a topic name is, if it is one. */
  batchedOutput(topic: string): ResolvedTopic | undefined;
  /** Partition count of an output topic. */
  partitions(topic: string): number;
  limits: MessageSizeLimits;
}

/**
 * The records to write: every record of a topic without batches as it is, the values of each batched
 * topic packed per partition. The order of records within a partition is kept.
 */
export function packOutputs(
  records: readonly OutgoingRecord[],
  options: OutputBatchOptions,
): OutgoingRecord[] {
  let groups: Map<string, { topic: ResolvedTopic; partition: number; items: Buffer[] }> | undefined;
  const out: OutgoingRecord[] = [];
  for (const r of records) {
    const topic = options.batchedOutput(r.topic);
    if (topic === undefined) {
      out.push(r);
      continue;
    }
    // The emit checked that the key is the value's own (partition-task.ts), so never null here.
    const partition = partitionOfKey(r.key ?? '', options.partitions(r.topic));
    groups ??= new Map();
    const slot = `${partition}|${r.topic}`;
    let group = groups.get(slot);
    if (group === undefined) {
      group = { topic, partition, items: [] };
      groups.set(slot, group);
    }
    group.items.push(r.value);
  }
  if (groups === undefined) return out;
  for (const { topic, partition, items } of groups.values()) {
    const limit = options.limits.topic(topic.name) - RECORD_BATCH_OVERHEAD - recordBytes(null, null);
    let start = 0;
    let bytes = BATCH_FRAME_BYTES;
    for (let i = 0; i <= items.length; i++) {
      const size = i < items.length ? items[i]!.length - ITEM_HEADER_BYTES : 0;
      // Close the batch before the item that would not fit (an item never goes alone over the limit:
      // the emit measured it, message-size.ts).
      if (i === items.length || (i > start && bytes + size > limit)) {
        out.push({
          topic: topic.name,
          key: null,
          value: topic.values.batchFromEncoded(items.slice(start, i)),
          headers: {},
          partition,
        });
        start = i;
        bytes = BATCH_FRAME_BYTES;
      }
      bytes += size;
    }
  }
  return out;
}
