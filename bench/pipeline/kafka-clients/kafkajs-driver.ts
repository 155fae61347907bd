/**
 * kafkajs as meshpipe used it before lib/kafka/ (issue 11): the collector's producer settings
 * (idempotent, one request in flight), and the processor host's transactional loop (one transaction
 * per batch, offsets sent with it, EOS v1). meshpipe no longer uses kafkajs; this driver keeps the
 * comparison reproducible.
 *
 * kafkajs has gzip built in; lz4 and snappy need codec packages. zstd comes from node:zlib, registered
 * here (as meshpipe did) — no native work.
 */
import { promisify } from 'node:util';
import { zstdCompress, zstdDecompress } from 'node:zlib';
import kafkajs, { CompressionTypes, Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';

const compress = promisify(zstdCompress);
const decompress = promisify(zstdDecompress);
kafkajs.CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  compress: (encoder: { buffer: Buffer }) => compress(encoder.buffer),
  decompress: (buffer: Buffer) => decompress(buffer),
});
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const partitioner = Partitioners.DefaultPartitioner;

/** A kafkajs client, quiet but for errors. */
export function createKafka(options: { brokers: string[]; clientId: string; logger?: unknown }): Kafka {
  return new Kafka({
    brokers: options.brokers,
    clientId: options.clientId,
    logLevel: logLevel.ERROR,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5000 },
  });
}

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

export function kafkajsDriver(brokers: string[]): Driver & { kafka: Kafka } {
  const kafka = createKafka({ brokers, clientId: 'bench-kafka-clients' });
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
      const producer = kafka.producer({
        transactionalId: `${c.groupId}-${c.input}-0`,
        transactionTimeout: 30_000,
        maxInFlightRequests: 1,
        idempotent: true,
      });
      await producer.connect();
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
                const txn = await producer.transaction();
                await txn.send({
                  topic: c.output,
                  messages: chunk.map((m) => ({ key: m.key, value: m.value })),
                });
                await txn.sendOffsets({
                  consumerGroupId: c.groupId,
                  topics: [
                    {
                      topic: c.input,
                      partitions: [{ partition: batch.partition, offset: String(BigInt(last.offset) + 1n) }],
                    },
                  ],
                });
                await txn.commit();
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
      await producer.disconnect();
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
      const transactional: Producer[] = [];
      for (let i = 0; i < c.transactionalProducers; i++) {
        const p = kafka.producer({
          transactionalId: `${c.transactionalIdPrefix}-${i}`,
          transactionTimeout: 30_000,
          maxInFlightRequests: 1,
          idempotent: true,
        });
        await p.connect();
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
