/**
 * kafkajs as meshpipe uses it today: lib/kafka.ts's client (with its read_committed fix installed), the
 * collector's producer settings (idempotent, one request in flight), and the processor host's
 * transactional producer (processors/runtime/partition-producer.ts, EOS v1).
 *
 * kafkajs has gzip built in; lz4 and snappy need codec packages. zstd comes from node:zlib, registered
 * by lib/kafka.ts for every meshpipe client — no native work of ours.
 */
import { CompressionTypes, type Kafka, type Producer } from 'kafkajs';
import { createKafka, partitioner } from '../../../lib/kafka.ts';
import { createLogger } from '../../../lib/logger.ts';
import { PartitionProducer } from '../../../processors/runtime/partition-producer.ts';
import {
  type ConsumeCase,
  type Driver,
  type IdleCase,
  type LoopCase,
  type ProduceCase,
  sendSlices,
  type Window,
} from './driver.ts';

const CODECS = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  zstd: CompressionTypes.ZSTD,
  lz4: CompressionTypes.LZ4,
} as const;

const logger = createLogger({ component: 'bench/kafka-clients/kafkajs', level: 'error' });

export function kafkajsDriver(brokers: string[]): Driver & { kafka: Kafka } {
  const kafka = createKafka({ brokers, clientId: 'bench-kafka-clients', logger });
  return {
    kafka,
    compressions: ['none', 'gzip', 'zstd'],
    loopModes: ['eos-v1'],

    async produce(c: ProduceCase, window: Window) {
      const producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: partitioner,
      });
      await producer.connect();
      window.start();
      for (const messages of sendSlices(c)) {
        await producer.send({ topic: c.topic, acks: -1, compression: CODECS[c.compression], messages });
      }
      window.end();
      await producer.disconnect();
    },

    async consume(c: ConsumeCase, window: Window) {
      const consumer = kafka.consumer({
        groupId: c.groupId,
        readUncommitted: false,
        maxBytesPerPartition: 1_048_576,
        maxWaitTimeInMs: 100,
      });
      consumer.on(consumer.events.GROUP_JOIN, () => window.start());
      await consumer.connect();
      await consumer.subscribe({ topic: c.topic, fromBeginning: true });
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
      const producer = new PartitionProducer({
        kafka,
        transactionalId: `${c.groupId}-${c.input}-0`,
        transactionTimeoutMs: 30_000,
        logger,
      });
      await producer.init();
      const consumer = kafka.consumer({
        groupId: c.groupId,
        readUncommitted: false,
        maxBytesPerPartition: 1_048_576,
        maxWaitTimeInMs: 100,
      });
      await consumer.connect();
      await consumer.subscribe({ topic: c.input, fromBeginning: true });
      let processed = 0;
      let transactions = 0;
      await new Promise<void>((resolve, reject) => {
        void consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
            if (processed === 0) window.start();
            const messages = batch.messages.slice(0, c.expected - processed);
            for (let i = 0; i < messages.length; i += c.batchSize) {
              const chunk = messages.slice(i, i + c.batchSize);
              const last = chunk.at(-1)!;
              try {
                await producer.commit(
                  chunk.map((m) => ({ topic: c.output, key: m.key, value: m.value!, headers: {} })),
                  undefined,
                  {
                    groupId: c.groupId,
                    partition: batch.partition,
                    next: new Map([[c.input, BigInt(last.offset) + 1n]]),
                  },
                );
              } catch (err) {
                reject(err);
                return;
              }
              transactions++;
              processed += chunk.length;
              resolveOffset(last.offset);
              await heartbeat();
            }
            if (processed >= c.expected) {
              window.end();
              resolve();
            }
          },
        });
      });
      await consumer.disconnect();
      await producer.close();
      return transactions;
    },

    async idle(c: IdleCase) {
      const producer: Producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: partitioner,
      });
      await producer.connect();
      const consumer = kafka.consumer({ groupId: c.groupId, readUncommitted: false });
      await consumer.connect();
      await consumer.subscribe({ topic: c.topic, fromBeginning: true });
      const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
      await consumer.run({ eachBatch: async () => {} });
      await joined;
      const transactional: PartitionProducer[] = [];
      for (let i = 0; i < c.transactionalProducers; i++) {
        const p = new PartitionProducer({
          kafka,
          transactionalId: `${c.transactionalIdPrefix}-${i}`,
          transactionTimeoutMs: 30_000,
          logger,
        });
        await p.init();
        transactional.push(p);
      }
      return async () => {
        await Promise.all(transactional.map((p) => p.close()));
        await consumer.disconnect();
        await producer.disconnect();
      };
    },
  };
}
