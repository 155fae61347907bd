/**
 * The sink host, the commit-after-acknowledgement host: runs any SinkDefinition against Kafka with
 * at-least-once delivery. (Processors have the transactional host, processors/runtime/host.ts; both
 * build on the runtime core, runtime/.)
 *
 *   Kafka ──fetch──► decode + prepare ──► Batcher ──► queue ──► retry(exporter) ──ack──► commit offsets
 *     ▲   (pause/resume)     │ undecodable                          │ failed for good
 *     └── backpressure ◄─────┴──────────► dead-letter topic ◄───────┘ (then commit)
 *
 * Guarantees and their limits:
 * - Offsets are committed only after the receiver acknowledged a batch (or its records reached the
 *   dead-letter topic), so a crash or kill never loses a record: whatever was not committed is read
 *   again. Batches are delivered one at a time, in order, so committing "one past the last offset of
 *   the batch" per partition never skips an unacknowledged record.
 * - Duplicate window: a record can reach the receiver more than once, by at most one batch per event —
 *   (1) the process dies between the receiver's acknowledgement and the commit; (2) an attempt whose
 *   answer was lost (timeout, connection reset) had in fact been accepted, and is retried; (3) a
 *   rebalance: every assigned partition is read again from its committed offset after a rejoin, so
 *   the batch that was in flight during the rebalance is read and delivered again. Duplicates carry
 *   the same ids (span ids are deterministic), so receivers and tests can detect them.
 * - Rebalance safety: on every new assignment everything buffered but not in flight is dropped (it will
 *   be read again by whoever owns it now), and an in-flight batch commits only partitions this member
 *   still owns (offsets.ts explains why the broker does not check that for us).
 * - Backpressure: when `maxBufferedRecords` wait in memory (the receiver is slow or down and retries
 *   pile up), the input topic is paused (fetching stops, heartbeats go on, the group stays stable) and
 *   resumed at half. Kafka keeps what we do not read.
 * - A batch the receiver rejects for good is dead-lettered record by record with the error, and the
 *   sink moves on: nothing blocks forever, nothing is dropped silently.
 * - Shutdown: intake stops, the open batch is flushed and delivered and committed within
 *   `shutdownTimeoutMs`; what is left is simply not committed and is redelivered after the restart.
 *   Then the member leaves the group, so its partitions move to the other instances at once.
 * - Static membership (with `groupInstanceId`; runtime/group-instance.ts): an instance killed and
 *   started again with the same id gets its partitions back at once, without waiting out the session
 *   timeout, and reads on from the committed offsets (so the duplicate window is the same as for any
 *   restart). Another process joining with the same id fences it out: it stops, naming the id.
 */
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ComponentStatus, reportStatus } from '../../lib/component-status.ts';
import type { InferFields } from '../../lib/config/spec.ts';
import { ERRORS, errorMessage, MeshpipeError } from '../../lib/errors.ts';
import type { HttpServer } from '../../lib/http/server.ts';
import {
  type ConsumedBatch,
  type ConsumedRecord,
  connectAdmin,
  consumerTuning,
  type GroupConsumer,
  type KafkaAdmin,
  type KafkaClient,
  type KafkaProducer,
} from '../../lib/kafka.ts';
import type { Logger } from '../../lib/logger.ts';
import { checkConsumerSettings } from '../../runtime/consumer-settings.ts';
import { asRecordError } from '../../runtime/dead-letter.ts';
import { DeadLetterWriter } from '../../runtime/dead-letter-writer.ts';
import { instanceFencedError } from '../../runtime/group-instance.ts';
import { type InputRecord, sourceRecordOf } from '../../runtime/input-record.ts';
import { RetentionLoss } from '../../runtime/retention-loss.ts';
import { type TopicRef, topicDefinitionOf, type ValueOf } from '../../runtime/topic-ref.ts';
import { schemaRegistry } from '../../schemas/registry.ts';
import { type TopicCodec, topicCodec } from '../../schemas/topic-codec.ts';
import { TOPICS, topicName } from '../../schemas/topics.ts';
import type { SinkContext, SinkDefinition, SinkHostConfig, SinkHostFields } from './definition.ts';
import { DeliveryPipeline, type Entry } from './delivery-pipeline.ts';
import type { Exporter } from './exporter.ts';
import { serveSinkEndpoint } from './http-endpoint.ts';
import { OffsetLedger, PartitionOwnership } from './offsets.ts';
import { publishSamples, SinkMetrics } from './sink-metrics.ts';
import { type SinkSnapshot, sinkStatus } from './status.ts';

export interface SinkHostOptions {
  kafka: KafkaClient;
  /** The bootstrap servers of `kafka`, for error messages. */
  brokers?: readonly string[];
  /** Prefix of every topic name (`kafka.topicPrefix`). */
  topicPrefix: string;
  logger: Logger;
  /** Consumer group; default `<topic prefix>-sink-<name>` (sinkGroupId). */
  groupId?: string;
  /**
   * This instance's static member id in the group (`group.instance.id`), stable across its restarts:
   * a restarted instance takes its partitions back at once. Absent: a dynamic member.
   */
  groupInstanceId?: string;
  /** Where status goes; default: the supervisor's IPC channel (lib/component-status.ts). */
  onStatus?: (status: ComponentStatus) => void;
  /** How often status is reported, ms (the supervisor restarts a component silent for too long). */
  statusIntervalMs?: number;
}

export interface RunningSink {
  readonly name: string;
  readonly groupId: string;
  /** The input topic's full name. */
  readonly topic: string;
  /** Resolves once the consumer joined its group and has an assignment. */
  readonly ready: Promise<void>;
  /** Resolves when the sink stopped; rejects with the error that stopped it, if one did. */
  readonly done: Promise<void>;
  snapshot(): SinkSnapshot;
  /** Graceful stop: flush, deliver and commit within `shutdownTimeoutMs`, then leave the group. */
  stop(): Promise<void>;
}

/** After the shutdown budget is spent, how long an export attempt under way may still finish. */
const SHUTDOWN_GRACE_AFTER_ABORT_MS = 1000;
/** How long closing the exporter and the Kafka clients may take at the very end. */
const CLOSE_WAIT_MS = 2000;
/** Ceiling on a receiver-named retry delay. */
const MAX_RETRY_AFTER_MS = 300_000;

/** A sink's consumer group: `<topic prefix>-sink-<name>` (processors' are `<prefix>-<name>`). */
export function sinkGroupId(topicPrefix: string, sink: string): string {
  return `${topicPrefix}-sink-${sink}`;
}

/** Starts a sink: `SinkHost.start`, the entry point the CLI and tests call. */
export function startSink<F extends SinkHostFields, I extends TopicRef, T>(
  definition: SinkDefinition<F, I, T>,
  config: InferFields<F>,
  options: SinkHostOptions,
): Promise<RunningSink> {
  return SinkHost.start(definition, config, options);
}

/** What `SinkHost.start` sets up before the host exists: each is closed again if a later step fails. */
interface Started<C, T> {
  ctx: SinkContext<C>;
  exporter: Exporter<T>;
  admin: KafkaAdmin;
  metrics: SinkMetrics;
  http: HttpServer | undefined;
}

export class SinkHost<F extends SinkHostFields, I extends TopicRef, T> implements RunningSink {
  readonly name: string;
  readonly groupId: string;
  readonly topic: string;
  readonly ready: Promise<void>;
  readonly done: Promise<void>;

  readonly #groupInstanceId: string | undefined;
  readonly #definition: SinkDefinition<F, I, T>;
  readonly #config: SinkHostConfig;
  readonly #ctx: SinkContext<InferFields<F>>;
  readonly #component: string;
  readonly #logger: Logger;
  readonly #values: TopicCodec<ValueOf<I>>;
  readonly #metricsTopic: string;
  readonly #requestTimeoutMs: number;
  readonly #exporter: Exporter<T>;
  readonly #admin: KafkaAdmin;
  readonly #metrics: SinkMetrics;
  readonly #http: HttpServer | undefined;
  // Dead letters and metric samples. Not idempotent: a dead letter can be written twice anyway (crash
  // between the write and the commit), and the metrics are cumulative values, last one wins.
  readonly #producer: KafkaProducer;
  readonly #consumer: GroupConsumer;
  readonly #pipeline: DeliveryPipeline<T>;
  readonly #ownership = new PartitionOwnership();
  readonly #ledger = new OffsetLedger();
  /**
   * Where each partition goes on (the offset after the last record read); unknown after a (re)join,
   * where the consumer resumes at the committed offset.
   */
  readonly #expectedNext = new Map<number, bigint>();
  readonly #retention: RetentionLoss;
  readonly #abort = new AbortController();
  readonly #onStatus: (status: ComponentStatus) => void;
  readonly #timers: NodeJS.Timeout[] = [];

  #status: ComponentStatus = { state: 'starting', summary: 'starting' };
  #lastSnapshot: SinkSnapshot | undefined;
  #lastStatusAt = Date.now();
  #lag: number | null = null;
  #fatal: Error | undefined;
  #stopping = false;
  #loop: Promise<void> = Promise.resolve();
  #stopPromise: Promise<void> | undefined;
  #markReady: () => void = () => {};
  #failReady: (err: Error) => void = () => {};
  #resolveDone: () => void = () => {};
  #rejectDone: (err: Error) => void = () => {};

  /**
   * Checks the configuration, creates the exporter (first, so a configuration problem of the exporter
   * is reported before anything touches Kafka), checks the topics, serves the endpoint, then joins the
   * group. Whatever was opened is closed again when a step fails.
   */
  static async start<F extends SinkHostFields, I extends TopicRef, T>(
    definition: SinkDefinition<F, I, T>,
    config: InferFields<F>,
    options: SinkHostOptions,
  ): Promise<SinkHost<F, I, T>> {
    const hostConfig = config as SinkHostConfig;
    checkConsumerSettings(`sinks.${definition.name}.runtime`, hostConfig.runtime);
    const logger = options.logger.child({ sink: definition.name });
    const topic = topicName(topicDefinitionOf(definition.input), options.topicPrefix);
    const component = `sink/${definition.name}`;

    const ctx: SinkContext<InferFields<F>> = { config, logger };
    const exporter = await definition.createExporter(ctx);
    const { kafka } = options;
    let admin: KafkaAdmin;
    try {
      admin = await connectAdmin(kafka, options.brokers ?? kafka.brokers);
    } catch (err) {
      await exporter.shutdown().catch(() => {});
      throw err;
    }
    const existing = new Set(await admin.listTopics());
    for (const needed of [
      topic,
      topicName(TOPICS.dlq, options.topicPrefix),
      topicName(TOPICS.metrics, options.topicPrefix),
    ]) {
      if (!existing.has(needed)) {
        await Promise.allSettled([admin.disconnect(), exporter.shutdown()]);
        throw new MeshpipeError(ERRORS.KAFKA_TOPIC_MISSING, [needed]);
      }
    }

    const metrics = new SinkMetrics(
      definition.name,
      topic,
      `${component}/${hostname()}-${process.pid}`,
      BigInt(Date.now()) * 1_000_000n,
    );
    // /metrics, /healthz and /readyz at sinks.<name>.listen, like every component's (http-endpoint.ts).
    let host: SinkHost<F, I, T> | undefined;
    const http = await serveSinkEndpoint({
      sink: definition.name,
      listen: hostConfig.listen,
      exporter: exporter as Exporter<unknown>,
      samples: () => metrics.series.samples(),
      status: () => host?.status() ?? { state: 'starting', summary: 'starting' },
      logger,
    }).catch(async (err: unknown) => {
      await Promise.allSettled([admin.disconnect(), exporter.shutdown()]);
      throw err;
    });
    host = new SinkHost(definition, options, { ctx, exporter, admin, metrics, http });
    await host.#connect();
    return host;
  }

  private constructor(
    definition: SinkDefinition<F, I, T>,
    options: SinkHostOptions,
    started: Started<InferFields<F>, T>,
  ) {
    this.#definition = definition;
    this.#ctx = started.ctx;
    this.#config = started.ctx.config as SinkHostConfig;
    this.#logger = started.ctx.logger;
    this.name = definition.name;
    this.#component = `sink/${definition.name}`;
    this.groupId = options.groupId ?? sinkGroupId(options.topicPrefix, definition.name);
    this.#groupInstanceId = options.groupInstanceId;
    const input = topicDefinitionOf(definition.input);
    this.topic = topicName(input, options.topicPrefix);
    this.#values = topicCodec<ValueOf<I>>(input);
    this.#metricsTopic = topicName(TOPICS.metrics, options.topicPrefix);
    this.#requestTimeoutMs = options.kafka.requestTimeout;
    ({ exporter: this.#exporter, admin: this.#admin, metrics: this.#metrics, http: this.#http } = started);
    this.#onStatus = options.onStatus ?? reportStatus;

    this.#retention = new RetentionLoss({
      logStartOffsets: async (t) =>
        new Map((await this.#admin.topicOffsets(t)).map((o) => [o.partition, o.low])),
      onLoss: (_t, _partition, records) => this.#metrics.lost(records, 'retention'),
      reader: this.#component,
      logger: this.#logger,
    });

    const c = this.#config;
    const topic = this.topic;
    this.#producer = options.kafka.producer({ idempotent: false });
    this.#consumer = options.kafka.consumer({
      groupId: this.groupId,
      ...(options.groupInstanceId === undefined ? {} : { groupInstanceId: options.groupInstanceId }),
      topics: [topic],
      ...consumerTuning({ startFrom: c.startFrom, ...c.runtime }),
      // What one poll brings at most, and so what backpressure can overshoot by.
      maxBytes: Math.max(c.runtime.maxBatchBytes, 1_048_576),
      // Backpressure pauses between polls: one poll brings at most this much beyond the buffer's limit.
      maxRecordsPerPoll: Math.max(c.batchSize, 30),
      // read_committed: processors write their outputs in transactions; aborted records must never
      // reach a receiver.
      readCommitted: true,
      onAssigned: (partitions) => {
        this.#onAssigned(partitions.map((p) => p.partition));
        return undefined;
      },
      onRevoked: () => {
        // Everything buffered will be read again by whoever owns the partitions next (perhaps us).
        this.#pipeline.discard('rebalance');
      },
      eachBatch: (batch) => this.#eachBatch(batch),
      onFatal: (err) => {
        this.#ownership.revokeAll();
        this.#expectedNext.clear();
        this.#pipeline.discard('consumer failed');
        this.#fail(instanceFencedError(err, this.groupId, this.#groupInstanceId) ?? err);
      },
    });

    const owned = () => this.#ownership.partitions.map((partition) => ({ topic, partition }));
    this.#pipeline = new DeliveryPipeline<T>({
      sink: definition.name,
      batchSize: c.batchSize,
      lingerMs: c.lingerMs,
      maxBuffered: Math.max(c.maxBufferedRecords, c.batchSize),
      exporter: this.#exporter,
      retry: { ...c.retry, multiplier: 2, maxRetryAfterMs: MAX_RETRY_AFTER_MS },
      deadLetters: new DeadLetterWriter(
        this.#producer,
        topicName(TOPICS.dlq, options.topicPrefix),
        this.#component,
      ),
      commit: (entries) => this.#commit(entries),
      pause: () => this.#consumer.pause(owned()),
      resume: () => this.#consumer.resume(owned()),
      metrics: this.#metrics,
      logger: this.#logger,
      signal: this.#abort.signal,
    });

    this.ready = new Promise<void>((resolve, reject) => {
      this.#markReady = resolve;
      this.#failReady = reject;
    });
    this.ready.catch(() => {}); // observed through `done`
    this.done = new Promise<void>((resolve, reject) => {
      this.#resolveDone = resolve;
      this.#rejectDone = reject;
    });
    this.done.catch(() => {}); // callers that only stop() need not observe it

    this.#timers.push(
      setInterval(() => this.#report(), options.statusIntervalMs ?? 2000),
      setInterval(() => void this.#publishMetrics(), c.runtime.metricsIntervalMs),
    );
  }

  async #connect(): Promise<void> {
    await this.#producer.connect();
    await this.#consumer.connect();
    this.#loop = this.#pipeline.run().catch((err: Error) => this.#fail(err));
    this.#logger.info(
      { topic: this.topic, groupId: this.groupId, member: this.#groupInstanceId ?? null },
      'sink started',
    );
    this.#report();
  }

  /** The last status reported (what /readyz and /healthz answer from). */
  status(): ComponentStatus {
    return this.#status;
  }

  snapshot(): SinkSnapshot {
    return {
      ready: this.#ownership.generation > 0,
      paused: this.#pipeline.paused,
      buffered: this.#pipeline.buffered,
      partitions: this.#ownership.partitions,
      retrying: this.#pipeline.retrying,
      lag: this.#lag,
      totals: this.#metrics.totals(),
      fatal: this.#fatal === undefined ? null : this.#fatal.message,
    };
  }

  /** Graceful stop: flush, deliver and commit within `shutdownTimeoutMs`, then disconnect. */
  stop(): Promise<void> {
    this.#stopPromise ??= this.#shutdown().then(
      () => (this.#fatal === undefined ? this.#resolveDone() : this.#rejectDone(this.#fatal)),
      (err: Error) => this.#rejectDone(err),
    );
    return this.#stopPromise.then(() => this.done).catch(() => {});
  }

  // --- offsets --------------------------------------------------------------------------------------

  async #commit(entries: ReadonlyArray<Entry<T>>): Promise<void> {
    const { commits, notOwned } = this.#ledger.plan(
      entries.map((e) => ({ partition: e.source.partition, offset: e.source.offset, last: e.last })),
      this.#ownership,
    );
    if (notOwned.length > 0)
      this.#logger.info({ partitions: notOwned }, 'not committing partitions this member no longer owns');
    if (commits.length === 0) return;
    try {
      await this.#consumer.commit(
        commits.map((c) => ({ topic: this.topic, partition: c.partition, offset: BigInt(c.offset) })),
      );
      this.#ledger.record(commits);
    } catch (err) {
      // A rebalance raced the commit: whoever owns the partitions now reads these records again
      // (duplicates within the documented window, never a loss).
      this.#logger.warn(
        { err: errorMessage(err), commits },
        'offset commit failed; records will be redelivered',
      );
    }
  }

  #onAssigned(partitions: number[]): void {
    const revoked = this.#ownership.assign(partitions);
    // Every rejoin restarts fetching at the committed offsets, so what is buffered will be read
    // again, and our record of commits starts over.
    this.#ledger.forget([...revoked, ...partitions]);
    this.#expectedNext.clear();
    for (const p of revoked) this.#metrics.lag(p, undefined);
    this.#pipeline.discard('rebalance');
    this.#logger.info({ partitions, revoked, generation: this.#ownership.generation }, 'partitions assigned');
    this.#markReady();
    this.#pipeline.applyBackpressure();
    // Ready now, not at the next status tick (/readyz reads the last status).
    this.#report();
  }

  // --- intake ---------------------------------------------------------------------------------------

  async #eachBatch(batch: ConsumedBatch): Promise<void> {
    // Schema ids new to this process, from the Schema Registry (when there is one) before decoding.
    await schemaRegistry().resolveIds(batch.records);
    // The ownership check never fails in practice (assignments change between polls only); if it
    // did, the records belong to another member, which reads them itself.
    if (this.#stopping || !this.#ownership.owns(batch.partition)) return;
    this.#noticeJump(batch.partition, batch.records);
    const entries: Array<Entry<T>> = [];
    let consumed = 0;
    for (const message of batch.records) consumed += this.#intake(message, entries);
    for (const entry of entries) this.#pipeline.add(entry);
    this.#metrics.consumed(consumed);
    this.#pipeline.applyBackpressure();
  }

  /** The entries of one record: one per value (a batch record holds many: schemas/topics.ts). */
  #intake(message: ConsumedRecord, into: Array<Entry<T>>): number {
    const name = this.#definition.name;
    const values = this.#values;
    const source = sourceRecordOf(message);
    let decoded: Array<ValueOf<I>>;
    try {
      decoded = values.decodeRecord(message.value ?? Buffer.alloc(0));
    } catch (err) {
      into.push({ source, error: asRecordError(name, err, ERRORS.SINK_RECORD_FAILED) });
      return 1;
    }
    const batched = values.batchSchema !== null && decoded.length > 0;
    const key = message.key === null ? null : message.key.toString('utf8');
    for (let index = 0; index < decoded.length; index++) {
      const value = decoded[index]!;
      const record: InputRecord<ValueOf<I>> = {
        topic: source.topic,
        input: this.#definition.input,
        partition: source.partition,
        offset: source.offset,
        index,
        key: batched ? values.keyOf(value) : key,
        timestampMs: source.timestampMs,
        headers: source.headers,
        value,
      };
      const last = index === decoded.length - 1;
      try {
        into.push({ source, last, item: this.#definition.prepare(record, this.#ctx) });
      } catch (err) {
        const error = asRecordError(name, err, ERRORS.SINK_RECORD_FAILED);
        into.push(
          batched ? { source, last, error, failed: this.#failedItem(record) } : { source, last, error },
        );
      }
    }
    return decoded.length;
  }

  /** A value of a batch that failed alone: dead-lettered with its index, as a record of the item schema. */
  #failedItem(record: InputRecord<ValueOf<I>>) {
    let bytes: Buffer | null = null;
    try {
      bytes = this.#values.item.encode(record.value);
    } catch {
      // The batch record (at the offset the dead letter names) still holds it.
    }
    return { index: record.index, key: record.key === null ? null : Buffer.from(record.key), value: bytes };
  }

  /** A batch that starts past where the partition was: retention may have deleted unread records. */
  #noticeJump(partition: number, messages: readonly ConsumedRecord[]): void {
    if (messages.length === 0) return;
    const first = BigInt(messages[0]!.offset);
    const expected = this.#expectedNext.get(partition);
    this.#expectedNext.set(partition, BigInt(messages.at(-1)!.offset) + 1n);
    if (expected !== undefined) {
      this.#retention.jumped(this.topic, partition, expected, first);
      return;
    }
    // The first batch since the (re)join: the consumer resumed at the committed offset, or jumped from it.
    void this.#committed([partition])
      .then((offsets) => {
        const committed = offsets.get(this.topic)?.get(partition);
        if (committed !== undefined) this.#retention.jumped(this.topic, partition, committed, first);
      })
      .catch((err) => this.#logger.debug({ err: errorMessage(err) }, 'committed offsets not available'));
  }

  // --- metrics and status ---------------------------------------------------------------------------

  async #refreshLag(): Promise<void> {
    const owned = this.#ownership.partitions;
    if (owned.length === 0) return;
    const [group, high] = await Promise.all([this.#committed(owned), this.#admin.topicOffsets(this.topic)]);
    let total = 0;
    for (const p of owned) {
      const h = high.find((x) => x.partition === p);
      if (h === undefined) continue;
      const committed = group.get(this.topic)?.get(p);
      // No commit yet: a new group starts at the earliest retained record (or the latest).
      const from = committed ?? (this.#config.startFrom === 'earliest' ? h.low : h.high);
      const partitionLag = Math.max(0, Number(h.high - from));
      this.#metrics.lag(p, partitionLag);
      total += partitionLag;
    }
    this.#lag = total;
  }

  /**
   * The group's committed offsets, asked on the member's own coordinator connection: an admin client's
   * ListConsumerGroupOffsets that meets NOT_COORDINATOR (a coordinator still loading, or moving) crashes
   * librdkafka (confluentinc/librdkafka#5040: it dereferences the admin client's absent group).
   */
  #committed(partitions: readonly number[]): Promise<Map<string, Map<number, bigint>>> {
    return this.#consumer.committed(
      partitions.map((partition) => ({ topic: this.topic, partition })),
      this.#requestTimeoutMs,
    );
  }

  async #publishMetrics(): Promise<void> {
    await this.#refreshLag().catch((err) =>
      this.#logger.debug({ err: errorMessage(err) }, 'lag not available'),
    );
    await publishSamples(this.#producer, this.#metricsTopic, this.#metrics.series.samples()).catch((err) =>
      this.#logger.warn({ err: errorMessage(err) }, 'could not publish sink metrics'),
    );
  }

  #report(): void {
    const now = this.snapshot();
    this.#status = sinkStatus(
      now,
      this.#lastSnapshot,
      Date.now() - this.#lastStatusAt,
      this.#definition.unit ?? 'records',
    );
    this.#onStatus(this.#status);
    this.#lastSnapshot = now;
    this.#lastStatusAt = Date.now();
  }

  // --- lifecycle ------------------------------------------------------------------------------------

  #fail(err: Error): void {
    if (this.#fatal !== undefined) return;
    this.#fatal = err;
    this.#logger.error({ err: errorMessage(err) }, 'sink failed');
    this.#failReady(err);
    void this.stop();
  }

  async #shutdown(): Promise<void> {
    this.#stopping = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#pipeline.close();
    const abort = this.#abort;
    if (this.#fatal === undefined) {
      // Deliver what is buffered, within the budget; the abort ends retry waits at once.
      const timer = setTimeout(() => abort.abort(), this.#config.shutdownTimeoutMs);
      const grace = new Promise<void>((resolve) =>
        abort.signal.addEventListener('abort', () => setTimeout(resolve, SHUTDOWN_GRACE_AFTER_ABORT_MS), {
          once: true,
        }),
      );
      await Promise.race([this.#loop, grace]);
      clearTimeout(timer);
    }
    abort.abort();
    const left = this.#pipeline.buffered;
    if (left > 0)
      this.#logger.info({ records: left }, 'stopping with records not delivered; they will be redelivered');
    await this.#publishMetrics();
    this.#report();
    // After disconnect a late acknowledgement of an abandoned batch cannot commit anything (the
    // consumer is gone): those records are redelivered. A graceful stop leaves the group, so the
    // partitions move at once (a static member does not leave by closing); a failed sink does not: its
    // restart, with the same instance id, takes them back at once.
    await this.#consumer.disconnect({ leave: this.#fatal === undefined }).catch(() => {});
    this.#ownership.revokeAll();
    // An exporter's shutdown may wait for an abandoned request up to its own timeout; the process has
    // nothing left to lose by not waiting (the supervisor allows components 15 s in all).
    await Promise.race([
      Promise.allSettled([
        this.#exporter.shutdown(),
        this.#producer.disconnect(),
        this.#admin.disconnect(),
        this.#http?.close(),
      ]),
      sleep(CLOSE_WAIT_MS, undefined, { ref: false }),
    ]);
  }
}
