/**
 * Drains the batch writer into the raw topic: batching (linger), compression, an idempotent producer,
 * and exact accounting of what Kafka accepted and what it did not.
 *
 *   RawBatchWriter ──take (after lingerMs): one batch record per partition──► producer.send ──► topic
 *
 * One send at a time, each holding every pending event: a record per partition, so the client's cost
 * is per send, not per event. A send that is not acknowledged within its delivery timeout (the client
 * retries until then: `collector.producer.retries` × 2 s) drops its events and counts them
 * (`kafka/produce_failed`), then the producer is replaced: a new producer id means fresh sequence
 * numbers, so nothing that follows can be refused as out of order after the gap.
 * While Kafka is unreachable the loop reconnects with backoff and the writer fills and then refuses
 * events (counted by the capture side): memory stays bounded and capture never waits.
 *
 * Partitions are the project's (lib/key-partition.ts: Java-compatible murmur2 of the connection key),
 * so both ends of a connection — equal keys — land on one partition whichever collector captured them.
 * The partition count is read from the broker when connecting, and again every minute.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../../lib/errors.ts';
import { findKafkaError, type KafkaClient, type KafkaProducer } from '../../lib/kafka.ts';
import type { Logger } from '../../lib/logger.ts';
import { type CaptureCounters, countDrop, DROP_REASON, DROP_STAGE } from '../capture-counters.ts';
import type { CollectorConfig } from '../config.ts';
import type { RawBatchRecord, RawBatchWriter } from './raw-batch-writer.ts';

export interface RawEventProducerOptions {
  kafka: KafkaClient;
  topic: string;
  settings: CollectorConfig['producer'];
  writer: RawBatchWriter;
  counters: CaptureCounters;
  logger: Logger;
}

/** How long a send may keep being retried, per configured retry. */
const DELIVERY_MS_PER_RETRY = 2_000;

/**
 * What the client may hold: one send at a time, whose records are at most a batch record per
 * partition; a larger send waits for room, it does not fail.
 */
const CLIENT_BUFFER_BYTES = 16 * 1_048_576;

/** How often the raw topic's partition count is read again. */
const PARTITIONS_REFRESH_MS = 60_000;

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10_000;

export class RawEventProducer {
  readonly #o: RawEventProducerOptions;
  readonly #stop = new AbortController();
  #producer: KafkaProducer | null = null;
  #loop: Promise<void> | null = null;
  #inFlight: { events: number; abandoned: boolean } | null = null;
  #lastError: string | null = null;
  #draining = false;
  #partitions = 0;
  #partitionsReadAt = 0;

  constructor(options: RawEventProducerOptions) {
    this.#o = options;
  }

  /** Connected to Kafka, and the last request (if any) succeeded. */
  get healthy(): boolean {
    return this.#producer !== null && this.#lastError === null;
  }

  /** The last produce or connect error, until a request succeeds. */
  get lastError(): string | null {
    return this.#lastError;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /**
   * Sends what is buffered (no more lingering) for at most `timeoutMs`, then stops. Events that could
   * not be sent by then are counted as `agent/shutdown` drops, so the accounting stays exact.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.#draining = true;
    const loop = this.#loop ?? Promise.resolve();
    const timer = setTimeout(() => this.#stop.abort(), timeoutMs);
    await this.#untilDrained(loop, timeoutMs);
    this.#stop.abort();
    clearTimeout(timer);
    // Whatever is still pending (or in a request we stop waiting for) will not reach Kafka from here.
    const left = this.#o.writer.size;
    this.#o.writer.take(1, { maxEvents: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER });
    countDrop(this.#o.counters, DROP_STAGE.agent, DROP_REASON.shutdown, left);
    if (this.#inFlight !== null && !this.#inFlight.abandoned) {
      this.#inFlight.abandoned = true;
      countDrop(this.#o.counters, DROP_STAGE.agent, DROP_REASON.shutdown, this.#inFlight.events);
    }
    await Promise.race([loop, sleep(1000)]);
    await this.#producer?.disconnect().catch(() => {});
    this.#producer = null;
  }

  async #untilDrained(loop: Promise<void>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && (this.#o.writer.size > 0 || this.#inFlight !== null)) {
      if (this.#producer === null && this.#o.writer.size > 0 && this.#inFlight === null) {
        // Not connected: give the reconnect loop its chance within the deadline, no more.
        await Promise.race([loop, sleep(100)]);
        continue;
      }
      await Promise.race([loop, sleep(20)]);
    }
  }

  async #run(): Promise<void> {
    const { writer, settings } = this.#o;
    const signal = this.#stop.signal;
    let backoff = RECONNECT_MIN_MS;
    while (!signal.aborted) {
      if (this.#producer === null) {
        if (await this.#connect()) {
          backoff = RECONNECT_MIN_MS;
        } else {
          await sleep(backoff, undefined, { signal }).catch(() => {});
          backoff = Math.min(backoff * 2, RECONNECT_MAX_MS);
        }
        continue;
      }
      await writer.whenNotEmpty(signal);
      if (signal.aborted) break;
      if (!this.#draining && settings.lingerMs > 0) await sleep(settings.lingerMs);
      if (Date.now() - this.#partitionsReadAt > PARTITIONS_REFRESH_MS) await this.#readPartitions();
      if (this.#partitions === 0) {
        // The topic's partitions are not known yet (Kafka went away meanwhile): keep the events.
        await sleep(RECONNECT_MIN_MS, undefined, { signal }).catch(() => {});
        continue;
      }
      const events = writer.size;
      const records = writer.take(this.#partitions, {
        maxEvents: settings.maxBatchEvents,
        maxBytes: settings.maxBatchBytes,
      });
      if (records.length > 0) await this.#send(records, events);
    }
  }

  /** The raw topic's partition count, from the broker (kept as it was when it cannot be read). */
  async #readPartitions(): Promise<void> {
    const admin = this.#o.kafka.admin();
    try {
      await admin.connect();
      const count = (await admin.partitionCounts([this.#o.topic])).get(this.#o.topic) ?? 0;
      if (count > 0) {
        if (this.#partitions !== 0 && count !== this.#partitions)
          this.#o.logger.warn(
            { topic: this.#o.topic, from: this.#partitions, to: count },
            'raw topic partitions changed',
          );
        this.#partitions = count;
        this.#partitionsReadAt = Date.now();
      }
    } catch (err) {
      this.#o.logger.debug({ err: errorMessage(err) }, 'reading the raw topic partitions failed');
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  async #connect(): Promise<boolean> {
    const { settings, kafka } = this.#o;
    // A batch record is at most maxBatchBytes (raw-batch-writer.ts), plus its framing.
    const largest = Math.max(1_000_000, settings.maxBatchBytes + 4096);
    const producer = kafka.producer({
      idempotent: true,
      compression: settings.compression,
      // The collector lingers itself (lingerMs) and sends every record at once: 1 ms lets the client
      // put them in one request per broker.
      lingerMs: 1,
      deliveryTimeoutMs: settings.retries * DELIVERY_MS_PER_RETRY,
      bufferBytes: CLIENT_BUFFER_BYTES,
      maxBatchBytes: largest,
      maxMessageBytes: largest,
    });
    try {
      await producer.connect();
      await this.#readPartitions();
      this.#producer = producer;
      this.#lastError = null;
      this.#o.logger.info({ topic: this.#o.topic }, 'connected to Kafka');
      return true;
    } catch (err) {
      this.#failed(err, 'connect');
      await producer.disconnect().catch(() => {});
      return false;
    }
  }

  async #send(records: RawBatchRecord[], events: number): Promise<void> {
    const producer = this.#producer!;
    const inFlight = { events, abandoned: false };
    this.#inFlight = inFlight;
    try {
      await producer.send({
        topic: this.#o.topic,
        messages: records.map((r) => ({ partition: r.partition, key: null, value: r.value })),
      });
      if (!inFlight.abandoned) this.#o.counters.produced += events;
      this.#lastError = null;
    } catch (err) {
      if (!inFlight.abandoned)
        countDrop(this.#o.counters, DROP_STAGE.kafka, DROP_REASON.produceFailed, events);
      this.#failed(err, 'produce');
      // Start over with a new producer id (see the file comment).
      this.#producer = null;
      await producer.disconnect().catch(() => {});
    } finally {
      this.#inFlight = null;
    }
  }

  #failed(err: unknown, what: 'connect' | 'produce'): void {
    // librdkafka's name of the error (ERR__MSG_TIMED_OUT: not acknowledged within the delivery timeout).
    const name = findKafkaError(err)?.type ?? (err instanceof Error ? err.name : 'Error');
    const errors = this.#o.counters.produceErrors;
    if (what === 'produce') errors[name] = (errors[name] ?? 0) + 1;
    const message = errorMessage(err);
    // One line per outage, not one per retry round.
    if (message !== this.#lastError) {
      this.#o.logger.warn(
        { err: message, what },
        `Kafka ${what} failed; events are buffered, then dropped and counted`,
      );
    }
    this.#lastError = message;
  }
}
