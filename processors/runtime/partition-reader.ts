/**
 * Reads chosen partitions of a topic from their first retained record to their current end, read_committed,
 * and stops. The processor host restores state this way (changelog.ts); tests read outputs this way.
 *
 * kafkajs has no manual `assign()`: a consumer only gets partitions through a consumer group. So the
 * reader joins a throw-away group of its own (a fresh id, never committed to, deleted afterwards) whose
 * partition assigner hands exactly the wanted partitions to its single member. Nothing else can join
 * that group, the processor's real group is untouched, and the fetch path is kafkajs's ordinary one
 * (read_committed isolation, aborted transactions and control records filtered). The cost is one group
 * join, which the broker may delay by group.initial.rebalance.delay.ms (3 s by default; meshpipe's local
 * broker sets 0).
 *
 * "The end" is the high watermark read before starting. Where a single transactional producer writes
 * the partition and has just been (re)initialised — the changelog case — that is also the last stable
 * offset, so read_committed reaches it.
 */
import { randomUUID } from 'node:crypto';
import { type Admin, AssignerProtocol, type Kafka, type KafkaMessage, type PartitionAssigner } from 'kafkajs';
import type { Logger } from '../../lib/logger.ts';

export interface ReadToEndOptions {
  kafka: Kafka;
  admin: Admin;
  topic: string;
  partitions: readonly number[];
  /** Called for every record, in offset order within a partition. */
  onRecord(partition: number, message: KafkaMessage): void;
  /** Prefix of the throw-away group's id. */
  groupPrefix: string;
  logger: Logger;
  signal?: AbortSignal;
  maxWaitMs?: number;
}

export interface ReadToEndResult {
  records: number;
  /** End offset reached per partition. */
  ends: Map<number, bigint>;
}

function fixedAssigner(topic: string, partitions: readonly number[]): PartitionAssigner {
  const name = 'MeshpipeFixedAssigner';
  return () => ({
    name,
    version: 0,
    protocol: ({ topics }) => ({
      name,
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
    }),
    assign: async ({ members }) =>
      members.map((member, i) => ({
        memberId: member.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 0,
          assignment: i === 0 ? { [topic]: [...partitions] } : {},
          userData: Buffer.alloc(0),
        }),
      })),
  });
}

export async function readPartitionsToEnd(options: ReadToEndOptions): Promise<ReadToEndResult> {
  const { topic, logger } = options;
  const offsets = await options.admin.fetchTopicOffsets(topic);
  const ends = new Map<number, bigint>();
  const remaining = new Set<number>();
  for (const partition of options.partitions) {
    const o = offsets.find((x) => x.partition === partition);
    if (o === undefined) throw new Error(`${topic} has no partition ${partition}`);
    ends.set(partition, BigInt(o.high));
    if (BigInt(o.high) > BigInt(o.low)) remaining.add(partition);
  }
  if (remaining.size === 0) return { records: 0, ends };

  const groupId = `${options.groupPrefix}-${randomUUID()}`;
  const consumer = options.kafka.consumer({
    groupId,
    partitionAssigners: [fixedAssigner(topic, [...remaining])],
    maxWaitTimeInMs: options.maxWaitMs ?? 100,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    readUncommitted: false,
  });
  let records = 0;
  let settle!: (err?: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    settle = (err) => (err === undefined ? resolve() : reject(err));
  });
  const reached = (partition: number, lastOffset: string) => {
    if (remaining.has(partition) && BigInt(lastOffset) + 1n >= ends.get(partition)!) {
      remaining.delete(partition);
      if (remaining.size === 0) settle();
    }
  };
  // END_BATCH_PROCESS also fires for batches holding only control records or aborted transactions,
  // which never reach eachBatch: the end of a transactional partition is usually a commit marker.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) =>
    reached(payload.partition, payload.lastOffset),
  );
  consumer.on(consumer.events.CRASH, ({ payload }) => settle(payload.error));
  const onAbort = () => settle(options.signal?.reason ?? new Error('aborted'));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const end = ends.get(batch.partition)!;
        for (const message of batch.messages) {
          if (BigInt(message.offset) >= end) break;
          options.onRecord(batch.partition, message);
          records++;
        }
      },
    });
    await done;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect().catch((err) => logger.debug({ err }, 'disconnecting a partition reader'));
    await options.admin.deleteGroups([groupId]).catch((err) => {
      logger.debug({ err, groupId }, 'could not delete a throw-away group (it expires by itself)');
    });
  }
  return { records, ends };
}
