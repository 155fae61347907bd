/**
 * Cluster administration: topics, their partitions, offsets and configuration, consumer groups.
 *
 * librdkafka's AdminClient through the binding, except for two requests. DescribeConfigs, which the
 * binding does not expose, is made by describe-configs.ts over its own connection. A group's committed
 * offsets are read by a consumer of the group (committed-offsets.ts): the admin client's
 * ListConsumerGroupOffsets crashes librdkafka when it meets NOT_COORDINATOR.
 *
 * Creating a topic returns when the controller accepted it, before every partition has a leader;
 * a produce or fetch sent at once may be answered UNKNOWN_TOPIC_OR_PARTITION (the broker's metadata
 * is not there yet) — on a loaded machine for seconds. So `createTopics` waits, bounded, until every
 * partition of every topic it created has a leader.
 */
import type { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { readCommittedOffsets } from './committed-offsets.ts';
import type { KafkaConnection } from './connection.ts';
import { describeTopicConfigs } from './describe-configs.ts';
import type { PartitionRef } from './group-consumer.ts';
import { code, KafkaError, kafkaError } from './kafka-error.ts';
import { type IAdminClient, librdkafka } from './librdkafka.ts';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  /** -1 (or absent): the broker's default. */
  replicationFactor?: number;
  /** Topic configuration, e.g. `{ 'cleanup.policy': 'compact' }`. */
  config?: Record<string, string>;
}

export interface PartitionOffsets {
  partition: number;
  /** The first retained offset. */
  low: bigint;
  /** The next offset to be written (the high watermark), or the last stable offset (read_committed). */
  high: bigint;
}

/** A consumer group as its coordinator sees it. */
export interface GroupState {
  /** Stable, PreparingRebalance, CompletingRebalance, Empty, Dead (Kafka's names). */
  state: string;
  members: Array<{
    memberId: string;
    /** The static member id (`group.instance.id`), for a static member. */
    groupInstanceId: string | undefined;
    clientId: string;
    partitions: PartitionRef[];
  }>;
}

/** librdkafka's rd_kafka_consumer_group_state_t, by value, with Kafka's names. */
const GROUP_STATES = ['Unknown', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead', 'Empty'];

/** Offsets a group committed, by topic and partition; partitions without a commit are absent. */
export type CommittedOffsets = Map<string, Map<number, bigint>>;

const LEADERS_WAIT_MS = 60_000;

function call<T>(what: string, f: (cb: (err: unknown, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    f((err, value) => (err ? reject(kafkaError(err, what)) : resolve(value)));
  });
}

export class KafkaAdmin {
  readonly #client: KafkaConnection;
  #admin: IAdminClient | undefined;

  constructor(client: KafkaConnection) {
    this.#client = client;
  }

  get #native(): IAdminClient {
    if (this.#admin === undefined) throw new Error('the Kafka admin client is not connected');
    return this.#admin;
  }

  /**
   * Creates the client and checks that the brokers answer (librdkafka connects lazily, so a
   * wrong address would otherwise only show at the first request); throws the KafkaError if not.
   */
  async connect(): Promise<void> {
    if (this.#admin !== undefined) return;
    const { AdminClient } = librdkafka();
    const admin = AdminClient.create(this.#client.properties() as never);
    this.#client.attachLogging(admin as never, 'admin');
    // Why the brokers did not answer (a TLS handshake refused, authentication failed) is only in
    // librdkafka's log: the request itself just times out. Kept to say so in the error.
    let lastFailure: string | undefined;
    const onLog = (entry: { severity: number; message: string }) => {
      if (entry.severity <= 3) lastFailure = entry.message.replace(/^\[thrd:[^\]]*\]: /, '');
    };
    (admin as unknown as EventEmitter).on('event.log', onLog);
    this.#admin = admin;
    try {
      await this.listTopics(Math.max(this.#client.connectionTimeout, 2_000));
    } catch (err) {
      await this.disconnect();
      const e = kafkaError(err);
      throw lastFailure === undefined
        ? e
        : new KafkaError(`${e.message} (${lastFailure})`, {
            code: e.code,
            retriable: e.retriable,
            cause: err,
          });
    } finally {
      (admin as unknown as EventEmitter).off('event.log', onLog);
    }
  }

  async disconnect(): Promise<void> {
    const admin = this.#admin;
    this.#admin = undefined;
    admin?.disconnect();
  }

  async listTopics(timeout = this.#client.requestTimeout): Promise<string[]> {
    return call<string[]>('listing topics', (cb) => this.#native.listTopics({ timeout }, cb));
  }

  /**
   * Creates topics and waits until each of their partitions has a leader. A topic that already exists
   * is left as it is (callers verify it); any other refusal is thrown.
   */
  async createTopics(topics: readonly TopicSpec[]): Promise<void> {
    const exists = code('ERR_TOPIC_ALREADY_EXISTS');
    const created: string[] = [];
    for (const t of topics) {
      try {
        await call<void>(`creating topic ${t.topic}`, (cb) =>
          this.#native.createTopic(
            {
              topic: t.topic,
              num_partitions: t.numPartitions,
              replication_factor: t.replicationFactor ?? -1,
              config: t.config ?? {},
            },
            this.#client.requestTimeout,
            cb,
          ),
        );
        created.push(t.topic);
      } catch (err) {
        if ((err as KafkaError).code !== exists) throw err;
      }
    }
    if (created.length > 0) await this.#waitForLeaders(created);
  }

  async #waitForLeaders(topics: readonly string[]): Promise<void> {
    const deadline = Date.now() + LEADERS_WAIT_MS;
    let pending = [...topics];
    for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
      const described = await this.#describe(pending).catch(() => new Map<string, boolean>());
      pending = pending.filter((t) => described.get(t) !== true);
      if (pending.length === 0) return;
      if (Date.now() > deadline)
        throw new KafkaError(
          `topics ${pending.join(', ')} have partitions without a leader after ${LEADERS_WAIT_MS / 1000} s`,
          {
            code: code('ERR_LEADER_NOT_AVAILABLE'),
            retriable: true,
          },
        );
      await sleep(delay);
    }
  }

  /** Whether every partition of each topic has a leader (absent: the topic is not known yet). */
  async #describe(topics: readonly string[]): Promise<Map<string, boolean>> {
    const descriptions = await call<
      Array<{ name: string; error?: unknown; partitions: Array<{ leader: unknown }> }>
    >('describing topics', (cb) =>
      this.#native.describeTopics([...topics], { timeout: this.#client.requestTimeout }, cb as never),
    );
    const out = new Map<string, boolean>();
    for (const d of descriptions) {
      if (d.error != null) continue;
      out.set(d.name, d.partitions.length > 0 && d.partitions.every((p) => p.leader != null));
    }
    return out;
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    for (const topic of topics) {
      await call<void>(`deleting topic ${topic}`, (cb) =>
        this.#native.deleteTopic(topic, this.#client.requestTimeout, cb),
      );
    }
  }

  /** Partition counts of the topics that exist (a missing topic is absent from the map). */
  async partitionCounts(topics: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (topics.length === 0) return out;
    const descriptions = await call<
      Array<{ name: string; error?: { code?: number }; partitions: unknown[] }>
    >('describing topics', (cb) =>
      this.#native.describeTopics([...topics], { timeout: this.#client.requestTimeout }, cb as never),
    ).catch((err: KafkaError) => {
      // One unknown topic fails the whole request: ask again for each, to tell which exist.
      if (err.code !== code('ERR_UNKNOWN_TOPIC_OR_PART') || topics.length === 1) throw err;
      return null;
    });
    if (descriptions === null) {
      for (const topic of topics) {
        const one = await this.partitionCounts([topic]).catch((err: KafkaError) => {
          if (err.code === code('ERR_UNKNOWN_TOPIC_OR_PART')) return new Map<string, number>();
          throw err;
        });
        for (const [name, count] of one) out.set(name, count);
      }
      return out;
    }
    // No partitions is not a state a topic can be in, only one the answering broker can be in: absent.
    for (const d of descriptions)
      if (d.error == null && d.partitions.length > 0) out.set(d.name, d.partitions.length);
    return out;
  }

  /**
   * Partition counts of topics known to exist (just created, or listed), asked again, bounded, while
   * some are missing: KRaft brokers learn new topics asynchronously, so the broker that answers may
   * not know yet a topic that another one just created or listed. Still missing at the deadline:
   * absent from the map.
   */
  async partitionCountsOfExisting(topics: readonly string[]): Promise<Map<string, number>> {
    const deadline = Date.now() + LEADERS_WAIT_MS;
    const out = await this.partitionCounts(topics);
    for (
      let delay = 50;
      out.size < topics.length && Date.now() < deadline;
      delay = Math.min(delay * 2, 1_000)
    ) {
      await sleep(delay);
      const missing = topics.filter((t) => !out.has(t));
      for (const [name, count] of await this.partitionCounts(missing)) out.set(name, count);
    }
    return out;
  }

  /** First and next offsets of every partition of a topic (`readCommitted`: the last stable offset). */
  async topicOffsets(topic: string, options: { readCommitted?: boolean } = {}): Promise<PartitionOffsets[]> {
    const count = (await this.partitionCounts([topic])).get(topic);
    if (count === undefined)
      throw new KafkaError(`topic ${topic} does not exist`, { code: code('ERR_UNKNOWN_TOPIC_OR_PART') });
    const { OffsetSpec, IsolationLevel } = librdkafka();
    const partitions = Array.from({ length: count }, (_, partition) => partition);
    const list = (spec: unknown) =>
      call<Array<{ partition: number; offset: number; error?: unknown }>>(
        `listing offsets of ${topic}`,
        (cb) =>
          this.#native.listOffsets(
            partitions.map((partition) => ({ topic, partition, offset: spec as never })),
            {
              timeout: this.#client.requestTimeout,
              isolationLevel:
                options.readCommitted === true
                  ? IsolationLevel.READ_COMMITTED
                  : IsolationLevel.READ_UNCOMMITTED,
            },
            cb as never,
          ),
      );
    const [low, high] = await Promise.all([list(OffsetSpec.EARLIEST), list(OffsetSpec.LATEST)]);
    return partitions.map((partition) => {
      const l = low.find((o) => o.partition === partition);
      const h = high.find((o) => o.partition === partition);
      if (l === undefined || h === undefined || l.error != null || h.error != null)
        throw kafkaError(l?.error ?? h?.error ?? -1, `listing offsets of ${topic}[${partition}]`);
      return { partition, low: BigInt(l.offset), high: BigInt(h.offset) };
    });
  }

  /**
   * The offsets `groupId` committed on `topics` (the next offset to read), every topic in the map and a
   * partition without a commit absent from it. Stable offsets only: an offset committed by a
   * transaction still open is waited for (KIP-447), so what is read is what the outputs imply. Read by
   * a consumer of the group that does not join it (committed-offsets.ts), within the request timeout.
   */
  async committedOffsets(groupId: string, topics: readonly string[]): Promise<CommittedOffsets> {
    const counts = await this.partitionCounts(topics);
    const partitions = [...counts].flatMap(([topic, count]) =>
      Array.from({ length: count }, (_, partition) => ({ topic, partition })),
    );
    const out: CommittedOffsets = new Map(topics.map((t) => [t, new Map<number, bigint>()]));
    if (partitions.length === 0) return out;
    const read = await readCommittedOffsets(this.#client, groupId, partitions, this.#client.requestTimeout);
    for (const [topic, offsets] of read) for (const [p, offset] of offsets) out.get(topic)?.set(p, offset);
    return out;
  }

  async createPartitions(topic: string, count: number): Promise<void> {
    await call<void>(`raising the partitions of ${topic}`, (cb) =>
      this.#native.createPartitions(topic, count, this.#client.requestTimeout, cb),
    );
  }

  /** Configuration values of topics, by topic and name (see describe-configs.ts). */
  describeConfigs(
    topics: readonly string[],
    names: readonly string[],
  ): Promise<Map<string, Map<string, string>>> {
    return describeTopicConfigs(this.#client, topics, names);
  }

  async listGroups(): Promise<string[]> {
    const result = await call<{ groups: Array<{ groupId: string }> }>('listing groups', (cb) =>
      this.#native.listGroups({ timeout: this.#client.requestTimeout }, cb as never),
    );
    return result.groups.map((g) => g.groupId);
  }

  async describeGroup(groupId: string): Promise<GroupState> {
    const result = await call<{
      groups: Array<{
        error?: unknown;
        state: number;
        members: Array<{
          memberId: string;
          groupInstanceId?: string;
          clientId: string;
          assignment?: { topicPartitions: PartitionRef[] };
        }>;
      }>;
    }>(`describing group ${groupId}`, (cb) =>
      this.#native.describeGroups([groupId], { timeout: this.#client.requestTimeout }, cb as never),
    );
    const group = result.groups[0];
    if (group === undefined)
      throw new KafkaError(`group ${groupId} was not described`, { code: code('ERR__FAIL') });
    if (group.error != null) throw kafkaError(group.error, `describing group ${groupId}`);
    return {
      state: GROUP_STATES[group.state] ?? 'Unknown',
      members: group.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId === '' ? undefined : m.groupInstanceId,
        clientId: m.clientId,
        partitions: (m.assignment?.topicPartitions ?? []).map((p) => ({
          topic: p.topic,
          partition: p.partition,
        })),
      })),
    };
  }

  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    const results = await call<Array<{ groupId: string; error?: unknown }>>('deleting groups', (cb) =>
      this.#native.deleteGroups([...groupIds], { timeout: this.#client.requestTimeout }, cb as never),
    );
    const failed = results.find((r) => r.error != null);
    if (failed !== undefined) throw kafkaError(failed.error, `deleting group ${failed.groupId}`);
  }
}
