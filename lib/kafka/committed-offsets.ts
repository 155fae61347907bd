/**
 * A group's committed offsets, read by a short-lived consumer of that group that never subscribes: it
 * finds the group's coordinator and sends OffsetFetch, but never joins, so the group's members, its
 * generation and its assignment are left as they are. It closes once it has read them.
 *
 * Not the admin client's ListConsumerGroupOffsets: when that request meets NOT_COORDINATOR (a
 * coordinator still loading, or moving — a fresh broker, a restarted one) librdkafka asks the admin
 * client's consumer group to look for the coordinator again, and an admin client has none: the process
 * dies (SIGSEGV in rd_kafka_cgrp_op, confluentinc/librdkafka#5040). A consumer has its group, so the
 * same error only sends it looking; librdkafka answers the call with the error, and it is asked again.
 *
 * Stable offsets only: the consumer is read_committed, which makes librdkafka's committed() ask with
 * require_stable (KIP-447), and the coordinator answers UNSTABLE_OFFSET_COMMIT for a partition whose
 * offsets an open transaction holds; librdkafka repeats the request until that transaction ends or the
 * call times out. So what is read is what the outputs written beside the offsets imply.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { KafkaConnection } from './connection.ts';
import type { PartitionRef } from './group-consumer.ts';
import { code, KafkaError, kafkaError } from './kafka-error.ts';
import { type KafkaConsumer, librdkafka, type TopicPartitionOffset } from './librdkafka.ts';

/**
 * The coordinator is moving or loading: ask again. librdkafka itself waits when it knows of no
 * coordinator yet (ERR__WAIT_COORD) or lost its connection, but returns these from the broker.
 */
const COORDINATOR_RETRIABLE = [
  'ERR_NOT_COORDINATOR',
  'ERR_COORDINATOR_LOAD_IN_PROGRESS',
  'ERR_COORDINATOR_NOT_AVAILABLE',
] as const;

/**
 * The committed offsets of `groupId` on the partitions (the next offset to read; a partition without
 * one is absent), asked again while the coordinator is moving or loading, until `timeoutMs` has passed.
 * Throws a KafkaError naming the group.
 */
export async function readCommittedOffsets(
  client: KafkaConnection,
  groupId: string,
  partitions: readonly PartitionRef[],
  timeoutMs: number,
): Promise<Map<string, Map<number, bigint>>> {
  const what = `reading the offsets of group ${groupId}`;
  const deadline = Date.now() + timeoutMs;
  const consumer = await connect(client, groupId);
  try {
    const retriable = new Set(COORDINATOR_RETRIABLE.map(code));
    for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
      try {
        return toOffsets(await committed(consumer, partitions, Math.max(deadline - Date.now(), 1)), what);
      } catch (err) {
        const e = kafkaError(err, what);
        if (!retriable.has(e.code) || Date.now() + delay > deadline) throw e;
        await sleep(delay);
      }
    }
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
}

/**
 * A consumer of the group, connected, never subscribed. If connecting fails the binding has already
 * closed what it opened, so there is nothing to disconnect.
 */
async function connect(client: KafkaConnection, groupId: string): Promise<KafkaConsumer> {
  const consumer = new (librdkafka().KafkaConsumer)(
    client.properties({
      'group.id': groupId,
      // Nothing of the group's is ever written by this consumer, not even on close.
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'isolation.level': 'read_committed',
      'allow.auto.create.topics': false,
    }) as never,
    {},
  );
  client.attachLogging(consumer, `offsets of ${groupId}`);
  await new Promise<void>((resolve, reject) =>
    consumer.connect({ allTopics: false, timeout: Math.max(client.connectionTimeout, 2_000) }, (err) =>
      err
        ? reject(kafkaError(err, `connecting a consumer to read the offsets of group ${groupId}`))
        : resolve(),
    ),
  );
  return consumer;
}

/**
 * The binding's answer, in the order asked. A partition the broker answered with an error comes back
 * as an Error in its place, with librdkafka's text and no code.
 */
function committed(
  consumer: KafkaConsumer,
  partitions: readonly PartitionRef[],
  timeoutMs: number,
): Promise<Array<{ asked: PartitionRef; answer: TopicPartitionOffset | Error }>> {
  return new Promise((resolve, reject) =>
    consumer.committed(
      partitions.map((p) => ({ topic: p.topic, partition: p.partition })),
      timeoutMs,
      (err, answers: Array<TopicPartitionOffset | Error>) =>
        err
          ? reject(err)
          : resolve(partitions.map((asked, i) => ({ asked, answer: answers[i] ?? new Error('no answer') }))),
    ),
  );
}

function toOffsets(
  answers: ReadonlyArray<{ asked: PartitionRef; answer: TopicPartitionOffset | Error }>,
  what: string,
): Map<string, Map<number, bigint>> {
  const out = new Map<string, Map<number, bigint>>();
  for (const { asked, answer } of answers) {
    if (answer instanceof Error)
      throw new KafkaError(`${what}: ${asked.topic}[${asked.partition}]: ${answer.message}`, {
        code: code('ERR__FAIL'),
        cause: answer,
      });
    // No offset (librdkafka's OFFSET_INVALID, left out by the binding): nothing committed.
    if (answer.offset === undefined || answer.offset < 0) continue;
    const byPartition = out.get(asked.topic) ?? new Map<number, bigint>();
    out.set(asked.topic, byPartition.set(asked.partition, BigInt(answer.offset)));
  }
  return out;
}
