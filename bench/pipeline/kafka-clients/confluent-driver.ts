/**
 * @confluentinc/kafka-javascript (librdkafka) through its KafkaJS-compatible API, loaded from the
 * bench's own install (install.ts). Only the part of its API this benchmark uses is typed here.
 *
 * Differences from kafkajs that matter here: acks and compression are producer settings, not send()
 * options; `eachBatch` batches are made client-side (`js.consumer.max.batch.size`, 32 by default; -1
 * here: everything the fetch brought); sendOffsets takes the consumer itself, so offsets always carry
 * its group metadata (KIP-447) — a transactional producer per input partition is still possible, but
 * not without a consumer. Compressions: gzip, snappy and lz4 are built into librdkafka; zstd when the
 * build found libzstd (Debian's libzstd-dev).
 */
import { createRequire } from 'node:module';
import {
  type Compression,
  type ConsumeCase,
  type Driver,
  type IdleCase,
  type LoopCase,
  type ProduceCase,
  sendSlices,
  type Window,
} from './driver.ts';
import { resolveClient } from './install.ts';

export interface CkMessage {
  key: Buffer | null;
  value: Buffer | null;
  offset: string;
}

export interface CkBatch {
  topic: string;
  partition: number;
  messages: CkMessage[];
}

export interface CkTransaction {
  send(o: {
    topic: string;
    messages: Array<{ key?: Buffer | null; value: Buffer | null }>;
  }): Promise<unknown>;
  sendOffsets(o: {
    consumer: CkConsumer;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>;
  }): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface CkProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  send(o: {
    topic: string;
    messages: Array<{ key?: Buffer | string | null; value: Buffer | string | null }>;
  }): Promise<unknown>;
  transaction(): Promise<CkTransaction>;
}

export interface CkConsumer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  subscribe(o: { topics: string[] }): Promise<void>;
  run(o: {
    eachBatch?: (p: { batch: CkBatch; resolveOffset(o: string): void }) => Promise<void>;
    eachMessage?: (p: { topic: string; partition: number; message: CkMessage }) => Promise<void>;
    eachBatchAutoResolve?: boolean;
  }): Promise<void>;
  pause(t: Array<{ topic: string; partitions?: number[] }>): void;
  resume(t: Array<{ topic: string; partitions?: number[] }>): void;
  seek(o: { topic: string; partition: number; offset: string }): void;
  /** Flat, one entry per partition (kafkajs: grouped by topic). */
  assignment(): Array<{ topic: string; partition: number }>;
}

export interface CkAdmin {
  [method: string]: (...args: unknown[]) => Promise<unknown>;
}

export interface CkKafka {
  producer(o: object): CkProducer;
  consumer(o: object): CkConsumer;
  admin(o?: object): CkAdmin;
}

export interface Confluent {
  KafkaJS: {
    Kafka: new (o: object) => CkKafka;
    logLevel: Record<'NOTHING' | 'ERROR' | 'WARN' | 'INFO', number>;
    CompressionTypes: Record<string, string>;
    PartitionAssigners: Record<string, string>;
  };
  AdminClient: { create(o: object): Record<string, (...args: unknown[]) => void> };
  features: string[];
  librdkafkaVersion: string;
}

/** librdkafka's RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, the rebalance callback's "assigned" code. */
export const ERR_ASSIGN_PARTITIONS = -175;

export function loadConfluent(): Confluent {
  return createRequire(import.meta.url)(resolveClient('confluent')) as Confluent;
}

export function confluentKafka(ck: Confluent, brokers: string[]): CkKafka {
  return new ck.KafkaJS.Kafka({
    kafkaJS: { brokers, clientId: 'bench-kafka-clients', logLevel: ck.KafkaJS.logLevel.ERROR },
  });
}

export function confluentDriver(brokers: string[]): Driver & { ck: Confluent; kafka: CkKafka } {
  const ck = loadConfluent();
  const kafka = confluentKafka(ck, brokers);
  const compressions: Compression[] = ['none', 'gzip', 'lz4'];
  if (ck.features.includes('zstd')) compressions.push('zstd');
  const codec = (c: Compression) => (c === 'none' ? ck.KafkaJS.CompressionTypes.None : c);
  const consumerOptions = (groupId: string) => ({
    kafkaJS: {
      groupId,
      fromBeginning: true,
      autoCommit: false,
      maxBytesPerPartition: 1_048_576,
      maxWaitTimeInMs: 100,
    },
    'isolation.level': 'read_committed',
    'js.consumer.max.batch.size': -1,
  });

  return {
    ck,
    kafka,
    compressions,
    loopModes: ['eos-v1', 'kip-447'],

    async produce(c: ProduceCase, window: Window) {
      const producer = kafka.producer({
        kafkaJS: { idempotent: true, acks: -1, compression: codec(c.compression) },
        // Each awaited send() is one slice: send it at once rather than after the default 5 ms linger.
        'linger.ms': 1,
      });
      await producer.connect();
      window.start();
      for (const messages of sendSlices(c)) await producer.send({ topic: c.topic, messages });
      window.end();
      await producer.disconnect();
    },

    async consume(c: ConsumeCase, window: Window) {
      const consumer = kafka.consumer({
        ...consumerOptions(c.groupId),
        // Observes the assignment only (the binding assigns when the callback does not).
        rebalance_cb: (err: { code: number }, assignment: unknown[]) => {
          if (err.code === ERR_ASSIGN_PARTITIONS && assignment.length > 0) window.start();
        },
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [c.topic] });
      let records = 0;
      let bytes = 0;
      await new Promise<void>((resolve) => {
        void consumer.run({
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) bytes += m.value?.length ?? 0;
            records += batch.messages.length;
            if (records >= c.expected) {
              window.end();
              resolve();
            }
          },
        });
      });
      await consumer.disconnect();
      return bytes;
    },

    async loop(c: LoopCase, window: Window) {
      const consumer = kafka.consumer(consumerOptions(c.groupId));
      // EOS v1 as the host does it: a producer per input partition (here one); KIP-447: one per instance.
      // Either way librdkafka sends the consumer's group metadata with the offsets.
      const producer = kafka.producer({
        kafkaJS: {
          idempotent: true,
          acks: -1,
          transactionalId: c.mode === 'eos-v1' ? `${c.groupId}-${c.input}-0` : `${c.groupId}-instance-0`,
          maxInFlightRequests: 1,
        },
        'linger.ms': 1,
      });
      await producer.connect();
      await consumer.connect();
      await consumer.subscribe({ topics: [c.input] });
      let processed = 0;
      let transactions = 0;
      await new Promise<void>((resolve, reject) => {
        void consumer.run({
          eachBatchAutoResolve: false,
          eachBatch: async ({ batch, resolveOffset }) => {
            if (processed >= c.expected) return;
            if (processed === 0) window.start();
            const messages = batch.messages.slice(0, c.expected - processed);
            try {
              for (let i = 0; i < messages.length; i += c.batchSize) {
                const chunk = messages.slice(i, i + c.batchSize);
                const last = chunk.at(-1)!;
                const tx = await producer.transaction();
                await tx.send({
                  topic: c.output,
                  messages: chunk.map((m) => ({ key: m.key, value: m.value })),
                });
                await tx.sendOffsets({
                  consumer,
                  topics: [
                    {
                      topic: c.input,
                      partitions: [{ partition: batch.partition, offset: String(BigInt(last.offset) + 1n) }],
                    },
                  ],
                });
                await tx.commit();
                transactions++;
                processed += chunk.length;
                resolveOffset(last.offset);
              }
            } catch (err) {
              reject(err);
              return;
            }
            if (processed >= c.expected) {
              window.end();
              resolve();
            }
          },
        });
      });
      await consumer.disconnect();
      await producer.disconnect();
      return transactions;
    },

    async idle(c: IdleCase) {
      const producer = kafka.producer({ kafkaJS: { idempotent: true, acks: -1 } });
      await producer.connect();
      const consumer = kafka.consumer(consumerOptions(c.groupId));
      await consumer.connect();
      await consumer.subscribe({ topics: [c.topic] });
      await consumer.run({ eachBatch: async () => {} });
      const deadline = Date.now() + 30_000;
      while (consumer.assignment().length === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      const transactional: CkProducer[] = [];
      for (let i = 0; i < c.transactionalProducers; i++) {
        const p = kafka.producer({
          kafkaJS: { idempotent: true, acks: -1, transactionalId: `${c.transactionalIdPrefix}-${i}` },
        });
        await p.connect(); // initTransactions (InitProducerId) happens in connect()
        transactional.push(p);
      }
      return async () => {
        await Promise.all(transactional.map((p) => p.disconnect()));
        await consumer.disconnect();
        await producer.disconnect();
      };
    },
  };
}
