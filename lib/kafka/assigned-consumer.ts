/**
 * A consumer of partitions it chooses itself, outside any consumer group: no join, no commits, no
 * group left behind on the broker. The processor host restores state with it (changelog partitions
 * read to their end), `meshpipe tail` follows topics with it, tests read outputs back with it.
 *
 * `poll()` returns the records of one poll in offset order per partition, and the partitions that
 * reached their end in it (librdkafka's partition EOF: for a read_committed consumer, the last stable
 * offset), with the offset of that end — past any commit markers, which are never records.
 */
import { KafkaAdmin } from './admin.ts';
import type { KafkaConnection } from './connection.ts';
import type { ConsumedRecord, PartitionRef } from './group-consumer.ts';
import { fetchProperties, toRecord } from './group-consumer.ts';
import { kafkaError } from './kafka-error.ts';
import { type KafkaConsumer, librdkafka, type Message } from './librdkafka.ts';

export interface AssignedConsumerOptions {
  /** Only records of committed transactions (default true). */
  readCommitted?: boolean;
  /** Longest a poll waits for records, ms (default 100). */
  maxWaitMs?: number;
  /** Bytes per partition per fetch (default 1 MiB). */
  maxBytesPerPartition?: number;
}

export type StartAt = bigint | 'beginning' | 'end';

export interface Poll {
  records: ConsumedRecord[];
  /** Partitions whose end was reached during the poll, and the offset of that end. */
  ends: Array<PartitionRef & { offset: bigint }>;
}

/** The consumer's group id: never joined, never committed to (librdkafka wants one set). */
const NO_GROUP = 'meshpipe-assigned-consumer';

export class AssignedConsumer {
  readonly #client: KafkaConnection;
  readonly #o: AssignedConsumerOptions;
  #consumer: KafkaConsumer | undefined;
  #ends: Poll['ends'] = [];

  constructor(client: KafkaConnection, options: AssignedConsumerOptions) {
    this.#client = client;
    this.#o = options;
  }

  async connect(): Promise<void> {
    const perPartition = this.#o.maxBytesPerPartition ?? 1_048_576;
    const consumer = new (librdkafka().KafkaConsumer)(
      this.#client.properties({
        'group.id': NO_GROUP,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'enable.partition.eof': true,
        'isolation.level': this.#o.readCommitted === false ? 'read_uncommitted' : 'read_committed',
        ...fetchProperties(this.#o.maxWaitMs ?? 100, perPartition),
      }) as never,
      { 'auto.offset.reset': 'earliest' },
    );
    this.#client.attachLogging(consumer, 'assigned consumer');
    consumer.on('partition.eof', (e) =>
      this.#ends.push({ topic: e.topic, partition: e.partition, offset: BigInt(e.offset) }),
    );
    await new Promise<void>((resolve, reject) =>
      consumer.connect(
        { allTopics: false, timeout: Math.max(this.#client.connectionTimeout, 2_000) },
        (err) => (err ? reject(kafkaError(err, 'connecting a consumer')) : resolve()),
      ),
    );
    consumer.setDefaultConsumeTimeout(this.#o.maxWaitMs ?? 100);
    (
      consumer as unknown as { setDefaultIsTimeoutOnlyForFirstMessage(v: boolean): void }
    ).setDefaultIsTimeoutOnlyForFirstMessage(true);
    this.#consumer = consumer;
  }

  /** Reads these partitions (and no others) from where each says. */
  assign(partitions: ReadonlyArray<PartitionRef & { from: StartAt }>): void {
    const consumer = this.#native();
    consumer.assign(
      partitions.map((p) => ({
        topic: p.topic,
        partition: p.partition,
        // librdkafka's logical offsets: -2 the beginning, -1 the end.
        offset: p.from === 'beginning' ? -2 : p.from === 'end' ? -1 : Number(p.from),
      })),
    );
  }

  async poll(maxRecords = 10_000): Promise<Poll> {
    const consumer = this.#native();
    const messages = await new Promise<Message[]>((resolve, reject) =>
      consumer.consume(maxRecords, (err, m) => (err ? reject(kafkaError(err, 'consuming')) : resolve(m))),
    );
    const ends = this.#ends;
    this.#ends = [];
    return { records: messages.map(toRecord), ends };
  }

  async disconnect(): Promise<void> {
    const consumer = this.#consumer;
    this.#consumer = undefined;
    if (consumer !== undefined) await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }

  #native(): KafkaConsumer {
    if (this.#consumer === undefined) throw new Error('the consumer is not connected');
    return this.#consumer;
  }
}

/**
 * Reads partitions of a topic from their first retained record to their end as of the start, and
 * stops. "The end" is the high watermark read first; read_committed reaches it once no transaction is
 * open below it — where one transactional producer writes the partition and has just been
 * (re)initialised (a changelog), at once.
 */
export async function readPartitionsToEnd(options: {
  kafka: KafkaConnection;
  /** A connected admin to read the ends with (default: one of its own, for this call). */
  admin?: KafkaAdmin;
  topic: string;
  partitions: readonly number[];
  /** Called for every record, in offset order within a partition. */
  onRecord(partition: number, record: ConsumedRecord): void;
  signal?: AbortSignal;
  readCommitted?: boolean;
}): Promise<{ records: number; ends: Map<number, bigint> }> {
  const { kafka, topic } = options;
  const admin = options.admin ?? new KafkaAdmin(kafka);
  if (options.admin === undefined) await admin.connect();
  let offsets: Awaited<ReturnType<KafkaAdmin['topicOffsets']>>;
  try {
    offsets = await admin.topicOffsets(topic);
  } finally {
    if (options.admin === undefined) await admin.disconnect();
  }
  const ends = new Map<number, bigint>();
  const remaining = new Set<number>();
  for (const partition of options.partitions) {
    const o = offsets.find((x) => x.partition === partition);
    if (o === undefined) throw new Error(`${topic} has no partition ${partition}`);
    ends.set(partition, o.high);
    if (o.high > o.low) remaining.add(partition);
  }
  let records = 0;
  if (remaining.size === 0) return { records, ends };
  const consumer = new AssignedConsumer(
    kafka,
    options.readCommitted === undefined ? {} : { readCommitted: options.readCommitted },
  );
  await consumer.connect();
  try {
    consumer.assign([...remaining].map((partition) => ({ topic, partition, from: 'beginning' as const })));
    while (remaining.size > 0) {
      options.signal?.throwIfAborted();
      const poll = await consumer.poll();
      for (const record of poll.records) {
        const end = ends.get(record.partition)!;
        if (!remaining.has(record.partition) || BigInt(record.offset) >= end) continue;
        options.onRecord(record.partition, record);
        records++;
        if (BigInt(record.offset) + 1n >= end) remaining.delete(record.partition);
      }
      for (const e of poll.ends) if (e.offset >= ends.get(e.partition)!) remaining.delete(e.partition);
    }
  } finally {
    await consumer.disconnect();
  }
  return { records, ends };
}
