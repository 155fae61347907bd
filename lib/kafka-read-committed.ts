/**
 * read_committed done right for kafkajs consumers: records of aborted transactions are hidden with the
 * algorithm of the Java consumer, not kafkajs's own.
 *
 * A fetch response lists, per partition, the aborted transactions that overlap the fetched range
 * (producer id, first offset); the consumer hides a transactional batch of producer P from the first
 * offset of one of P's aborted transactions until P's ABORT marker. The broker lists them in the order
 * of their markers (the partition's transaction index), not of their first offsets. kafkajs 2.2.4
 * (src/consumer/filterAbortedMessages.js) assumes first-offset order and starts at most one aborted
 * transaction per record, so when two producers' transactions on one partition are aborted in another
 * order than they began — exactly what happens when a restarted instance fences the open transactions
 * of the one that was killed — the first records of one of them are delivered as if committed. The
 * Java consumer (CompletedFetch#nextFetchedRecord) keeps the list in a priority queue by first offset
 * and, before each batch, starts every aborted transaction that begins at or before the batch's last
 * offset. That is done here, on the decoded fetch response, before kafkajs builds its batches.
 *
 * A hidden record is marked as a control record, which kafkajs already keeps out of `batch.messages`
 * while still counting its offset (the consumer moves past it), and the aborted list is emptied so that
 * kafkajs's own filter has nothing left to do. Installed once per process by importing this module;
 * lib/kafka.ts imports it, so every meshpipe consumer — processors, changelog restores, sinks, `tail`,
 * `subscribe()` — reads committed records only.
 */
import { createRequire } from 'node:module';

/** A record as kafkajs's fetch decoder leaves it (src/protocol/recordBatch). */
export interface FetchedRecord {
  offset: string;
  key?: Buffer | null;
  isControlRecord?: boolean;
  batchContext?: {
    firstOffset: string;
    lastOffsetDelta: number;
    producerId: string;
    inTransaction: boolean;
    isControlBatch: boolean;
  };
}

export interface FetchedPartition {
  abortedTransactions?: Array<{ producerId: string; firstOffset: string }>;
  messages: FetchedRecord[];
}

/** The key of an ABORT control record: version 0 (int16), type 0 = ABORT (int16). */
const ABORT_MARKER_KEY = Buffer.from([0, 0, 0, 0]);

/** Hides the records of aborted transactions in one partition of a fetch response; returns how many. */
export function hideAbortedRecords(partition: FetchedPartition): number {
  const aborted = partition.abortedTransactions ?? [];
  if (aborted.length === 0) return 0;
  const queue = aborted
    .map((t) => ({ producerId: t.producerId, firstOffset: BigInt(t.firstOffset) }))
    .sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  const open = new Set<string>();
  let next = 0;
  let hidden = 0;
  for (const record of partition.messages) {
    const batch = record.batchContext;
    if (batch === undefined || !batch.inTransaction) continue;
    const batchLast = BigInt(batch.firstOffset) + BigInt(batch.lastOffsetDelta);
    while (next < queue.length && queue[next]!.firstOffset <= batchLast) open.add(queue[next++]!.producerId);
    if (batch.isControlBatch) {
      if (record.key != null && Buffer.from(record.key).equals(ABORT_MARKER_KEY))
        open.delete(batch.producerId);
      continue;
    }
    if (open.has(batch.producerId) && record.isControlRecord !== true) {
      record.isControlRecord = true;
      hidden++;
    }
  }
  partition.abortedTransactions = [];
  return hidden;
}

interface FetchResponseModule {
  decode: (raw: Buffer) => Promise<{ responses: Array<{ partitions: FetchedPartition[] }> }>;
}

const PATCHED = Symbol.for('meshpipe.readCommitted');

/**
 * Wraps the decoders of the fetch versions that carry aborted transactions (v4 and later) in kafkajs's
 * module cache. Idempotent; returns the number of decoders wrapped so far (a test checks all are).
 */
export function installReadCommittedFix(): number {
  const require = createRequire(import.meta.url);
  let patched = 0;
  for (let version = 4; version <= 11; version++) {
    let module: FetchResponseModule & { [PATCHED]?: true };
    try {
      module = require(`kafkajs/src/protocol/requests/fetch/v${version}/response.js`);
    } catch {
      continue; // another kafkajs layout: the test of this module says so
    }
    if (module[PATCHED] !== true) {
      const decode = module.decode;
      module.decode = async (raw) => {
        const response = await decode(raw);
        for (const topic of response.responses) for (const p of topic.partitions) hideAbortedRecords(p);
        return response;
      };
      module[PATCHED] = true;
    }
    patched++;
  }
  return patched;
}

installReadCommittedFix();
