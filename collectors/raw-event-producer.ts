/**
 * Drains the event buffer into the raw topic: batching (linger), compression, an idempotent producer,
 * and exact accounting of what Kafka accepted and what it did not.
 *
 *   EventBuffer ──take (≤ maxBatchEvents / maxBatchBytes, after lingerMs)──► producer.send ──► topic
 *
 * One request at a time (the idempotent producer allows one in flight per partition anyway; kafkajs
 * splits a request per broker). A request that still fails after its retries drops its events and
 * counts them (`kafka/produce_failed`), then the producer is replaced: a new producer id means fresh
 * sequence numbers, so the broker does not reject what follows as out of order after a gap. While
 * Kafka is unreachable the loop reconnects with backoff and the buffer fills and then refuses events
 * (counted by the capture side): memory stays bounded and capture never waits.
 *
 * The partitioner is the project's (lib/kafka.ts: Java-compatible murmur2 of the key, remembered per
 * key: key-partitioner.ts), so both ends of a connection — equal keys — land on one partition whichever
 * client produced them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CompressionTypes, type Kafka, type Producer } from 'kafkajs';
import type { CollectorConfig } from '../lib/config/meshpipe-config.ts';
import { errorMessage } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { type CaptureCounters, countDrop, DROP_REASON, DROP_STAGE } from './capture-counters.ts';
import type { BufferedEvent, EventBuffer } from './event-buffer.ts';
import { memoizedKeyPartitioner } from './key-partitioner.ts';

export interface RawEventProducerOptions {
  kafka: Kafka;
  topic: string;
  settings: CollectorConfig['producer'];
  buffer: EventBuffer;
  counters: CaptureCounters;
  logger: Logger;
}

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10_000;

export class RawEventProducer {
  readonly #o: RawEventProducerOptions;
  readonly #stop = new AbortController();
  #producer: Producer | null = null;
  #loop: Promise<void> | null = null;
  #inFlight: { events: number; abandoned: boolean } | null = null;
  #lastError: string | null = null;
  #draining = false;

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
    // Whatever is still buffered (or in a request we stop waiting for) will not reach Kafka from here.
    const left = this.#o.buffer.take(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER).length;
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
    while (Date.now() < deadline && (this.#o.buffer.size > 0 || this.#inFlight !== null)) {
      if (this.#producer === null && this.#o.buffer.size > 0 && this.#inFlight === null) {
        // Not connected: give the reconnect loop its chance within the deadline, no more.
        await Promise.race([loop, sleep(100)]);
        continue;
      }
      await Promise.race([loop, sleep(20)]);
    }
  }

  async #run(): Promise<void> {
    const { buffer, settings } = this.#o;
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
      await buffer.whenNotEmpty(signal);
      if (signal.aborted) break;
      if (
        !this.#draining &&
        settings.lingerMs > 0 &&
        buffer.size < settings.maxBatchEvents &&
        buffer.bytes < settings.maxBatchBytes
      ) {
        await sleep(settings.lingerMs);
      }
      const batch = buffer.take(settings.maxBatchEvents, settings.maxBatchBytes);
      if (batch.length > 0) await this.#send(batch);
    }
  }

  async #connect(): Promise<boolean> {
    const { settings, kafka } = this.#o;
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: memoizedKeyPartitioner,
      retry: { retries: settings.retries, initialRetryTime: 100, maxRetryTime: 2000 },
    });
    try {
      await producer.connect();
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

  async #send(batch: BufferedEvent[]): Promise<void> {
    const producer = this.#producer!;
    const inFlight = { events: batch.length, abandoned: false };
    this.#inFlight = inFlight;
    try {
      await producer.send({
        topic: this.#o.topic,
        acks: -1,
        compression: this.#o.settings.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
        messages: batch,
      });
      if (!inFlight.abandoned) this.#o.counters.produced += batch.length;
      this.#lastError = null;
    } catch (err) {
      if (!inFlight.abandoned)
        countDrop(this.#o.counters, DROP_STAGE.kafka, DROP_REASON.produceFailed, batch.length);
      this.#failed(err, 'produce');
      // Start over with a new producer id (see the file comment).
      this.#producer = null;
      await producer.disconnect().catch(() => {});
    } finally {
      this.#inFlight = null;
    }
  }

  #failed(err: unknown, what: 'connect' | 'produce'): void {
    const name = err instanceof Error ? err.name : 'Error';
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
