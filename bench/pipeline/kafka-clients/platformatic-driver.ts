/**
 * @platformatic/kafka (pure JavaScript), loaded from the bench's own install (install.ts). Only the
 * part of its API this benchmark uses is typed here.
 *
 * Its default partitioner is `murmur2(key) >>> 0`, which is not the Java client's
 * `murmur2(key) & 0x7fffffff` for keys whose hash is negative: the exported `compatibilityPartitioner`
 * is, and every producer here uses it (the checks compare both with kafkajs's partitions).
 * Compressions: gzip and zstd from node:zlib, lz4 and snappy from its WebAssembly build — none needs
 * native work.
 */
import { pathToFileURL } from 'node:url';
import {
  type ConsumeCase,
  type Driver,
  type IdleCase,
  type KafkaRecord,
  type LoopCase,
  type ProduceCase,
  sendSlices,
  type Window,
} from './driver.ts';
import { resolveClient } from './install.ts';

export interface PltMessage {
  topic: string;
  partition: number;
  offset: bigint;
  key?: Buffer;
  value?: Buffer;
  metadata: { consumer: { groupId: string; generationId: number; memberId: string; coordinatorId: number } };
}

export interface PltStream extends AsyncIterable<PltMessage> {
  on(event: 'data', listener: (m: PltMessage) => void): PltStream;
  on(event: 'error', listener: (err: Error) => void): PltStream;
  close(): Promise<void>;
  pause(): void;
  resume(): void;
}

export interface PltTransaction {
  send(o: {
    messages: Array<{ topic: string; key?: Buffer; value?: Buffer; partition?: number }>;
  }): Promise<unknown>;
  addConsumer(consumer: PltConsumer): Promise<void>;
  addOffset(message: Pick<PltMessage, 'topic' | 'partition' | 'offset' | 'metadata'>): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  cancel(): Promise<void>;
}

export interface PltProducer {
  send(o: {
    messages: Array<{ topic: string; key?: Buffer; value?: Buffer; partition?: number }>;
  }): Promise<unknown>;
  beginTransaction(): Promise<PltTransaction>;
  initIdempotentProducer(o: object): Promise<unknown>;
  close(force?: boolean): Promise<void>;
}

export interface PltConsumer {
  groupId: string;
  memberId: string | null;
  generationId: number;
  consume(o: object): Promise<PltStream>;
  joinGroup(o?: object): Promise<string>;
  on(event: string, listener: (payload: unknown) => void): void;
  close(force?: boolean): Promise<void>;
}

export interface PltAdmin {
  [method: string]: (o?: unknown) => Promise<unknown>;
}

export interface Platformatic {
  Producer: new (o: object) => PltProducer;
  Consumer: new (o: object) => PltConsumer;
  Admin: new (o: object) => PltAdmin;
  compatibilityPartitioner: unknown;
  defaultPartitioner: unknown;
  FetchIsolationLevels: { READ_COMMITTED: number };
  MessagesStreamModes: { EARLIEST: string; COMMITTED: string; MANUAL: string };
  MessagesStreamFallbackModes: { EARLIEST: string };
  ProduceAcks: { ALL: number };
}

/**
 * What every transactional producer here is given.
 *   - A transaction begun right after a commit meets CONCURRENT_TRANSACTIONS while the coordinator
 *     writes the markers (milliseconds); the client retries it after `retryDelay`, 250 ms by default —
 *     250 ms per transaction. meshpipe retries kafkajs's quickly for the same reason
 *     (partition-producer.ts).
 *   - InitProducerId carries the producer id and epoch the client believes it has (KIP-360); a new
 *     producer must send -1/-1, and the client sends 0/0 unless told: the coordinator then answers
 *     PRODUCER_FENCED to any new producer for a transactional id that already has state — every restart
 *     of a processor instance (checks.ts, "fencing").
 */
export const TRANSACTIONAL_OPTIONS = {
  retries: 10,
  retryDelay: (_client: unknown, _operation: string, attempt: number) => Math.min(2000, 10 * 2 ** attempt),
  producerId: -1n,
  producerEpoch: -1,
};

export async function loadPlatformatic(): Promise<Platformatic> {
  return (await import(pathToFileURL(resolveClient('platformatic')).href)) as Platformatic;
}

export async function platformaticDriver(brokers: string[]): Promise<Driver & { plt: Platformatic }> {
  const plt = await loadPlatformatic();
  const base = { clientId: 'bench-kafka-clients', bootstrapBrokers: brokers };
  const consumerOptions = (groupId: string) => ({
    ...base,
    groupId,
    isolationLevel: plt.FetchIsolationLevels.READ_COMMITTED,
    maxBytesPerPartition: 1_048_576,
    maxWaitTime: 100,
    autocommit: false,
  });
  const toSend = (topic: string, records: readonly KafkaRecord[]) =>
    records.map((r) => ({ topic, key: r.key, value: r.value }));

  return {
    plt,
    compressions: ['none', 'gzip', 'lz4', 'zstd'],
    loopModes: ['eos-v1', 'kip-447'],

    async produce(c: ProduceCase, window: Window) {
      const producer = new plt.Producer({
        ...base,
        idempotent: true,
        acks: plt.ProduceAcks.ALL,
        compression: c.compression,
        partitioner: plt.compatibilityPartitioner,
      });
      // Connects and fetches the producer id outside the measured window, like the others' connect().
      await producer.initIdempotentProducer({});
      window.start();
      for (const slice of sendSlices(c)) await producer.send({ messages: toSend(c.topic, slice) });
      window.end();
      await producer.close();
    },

    async consume(c: ConsumeCase, window: Window) {
      const consumer = new plt.Consumer(consumerOptions(c.groupId));
      consumer.on('consumer:group:join', () => window.start());
      const stream = await consumer.consume({ topics: [c.topic], mode: plt.MessagesStreamModes.EARLIEST });
      let records = 0;
      let bytes = 0;
      await new Promise<void>((resolve, reject) => {
        stream.on('error', reject);
        stream.on('data', (m) => {
          bytes += m.value?.length ?? 0;
          if (++records === c.expected) {
            window.end();
            resolve();
          }
        });
      });
      await stream.close();
      await consumer.close(true);
      return bytes;
    },

    async loop(c: LoopCase, window: Window) {
      const consumer = new plt.Consumer(consumerOptions(c.groupId));
      const producer = new plt.Producer({
        ...base,
        ...TRANSACTIONAL_OPTIONS,
        idempotent: true,
        acks: plt.ProduceAcks.ALL,
        partitioner: plt.compatibilityPartitioner,
        transactionalId: c.mode === 'eos-v1' ? `${c.groupId}-${c.input}-0` : `${c.groupId}-instance-0`,
      });
      const stream = await consumer.consume({
        topics: [c.input],
        mode: plt.MessagesStreamModes.COMMITTED,
        fallbackMode: plt.MessagesStreamFallbackModes.EARLIEST,
      });
      let processed = 0;
      let transactions = 0;
      let chunk: PltMessage[] = [];
      for await (const m of stream) {
        if (processed === 0 && chunk.length === 0) window.start();
        chunk.push(m);
        if (chunk.length < c.batchSize && processed + chunk.length < c.expected) continue;
        const last = chunk.at(-1)!;
        const tx = await producer.beginTransaction();
        await tx.send({
          messages: chunk.map((r) => ({
            topic: c.output,
            ...(r.key ? { key: r.key } : {}),
            ...(r.value ? { value: r.value } : {}),
          })),
        });
        await tx.addConsumer(consumer);
        // EOS v1: the offsets without the group generation (the transactional id fences); KIP-447: the
        // consumer's generation and member id, checked by the group coordinator.
        await tx.addOffset(
          c.mode === 'kip-447'
            ? last
            : {
                topic: last.topic,
                partition: last.partition,
                offset: last.offset,
                metadata: { consumer: { ...last.metadata.consumer, generationId: -1, memberId: '' } },
              },
        );
        await tx.commit();
        transactions++;
        processed += chunk.length;
        chunk = [];
        if (processed >= c.expected) break;
      }
      window.end();
      await stream.close().catch(() => {});
      await consumer.close(true);
      await producer.close();
      return transactions;
    },

    async idle(c: IdleCase) {
      const producer = new plt.Producer({ ...base, idempotent: true, acks: plt.ProduceAcks.ALL });
      await producer.initIdempotentProducer({});
      const consumer = new plt.Consumer(consumerOptions(c.groupId));
      const stream = await consumer.consume({ topics: [c.topic], mode: plt.MessagesStreamModes.EARLIEST });
      stream.on('data', () => {});
      const transactional: PltProducer[] = [];
      for (let i = 0; i < c.transactionalProducers; i++) {
        const p = new plt.Producer({
          ...base,
          ...TRANSACTIONAL_OPTIONS,
          idempotent: true,
          acks: plt.ProduceAcks.ALL,
          transactionalId: `${c.transactionalIdPrefix}-${i}`,
        });
        // InitProducerId for the transactional id happens when the first transaction begins; an empty
        // one is cancelled locally (aborting it would ask the broker to end a transaction it never saw).
        const tx = await p.beginTransaction();
        await tx.cancel();
        transactional.push(p);
      }
      return async () => {
        await Promise.all(transactional.map((p) => p.close()));
        await stream.close();
        await consumer.close(true);
        await producer.close();
      };
    },
  };
}
