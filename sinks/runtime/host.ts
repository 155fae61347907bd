/**
 * The sink host: runs any SinkDefinition against Kafka with at-least-once delivery.
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
 */
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ComponentStatus, reportStatus } from '../../lib/component-status.ts';
import type { InferFields } from '../../lib/config/spec.ts';
import { ERRORS, errorMessage, MeshpipeError } from '../../lib/errors.ts';
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
import { type InputRecord, type SourceRecord, sourceRecordOf } from '../../runtime/input-record.ts';
import { RetentionLoss } from '../../runtime/retention-loss.ts';
import { type TopicRef, topicDefinitionOf, type ValueOf } from '../../runtime/topic-ref.ts';
import { schemaRegistry } from '../../schemas/registry.ts';
import { topicCodec } from '../../schemas/topic-codec.ts';
import { TOPICS, topicName } from '../../schemas/topics.ts';
import type { SinkContext, SinkDefinition, SinkHostFields } from './definition.ts';
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
  /** Consumer group; default `<topic prefix>-sink-<name>` (processors use `<prefix>-<name>`). */
  groupId?: string;
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
  /** Graceful stop: flush, deliver and commit within `shutdownTimeoutMs`, then disconnect. */
  stop(): Promise<void>;
}

/** After the shutdown budget is spent, how long an export attempt under way may still finish. */
const SHUTDOWN_GRACE_AFTER_ABORT_MS = 1000;
/** How long closing the exporter and the Kafka clients may take at the very end. */
const CLOSE_WAIT_MS = 2000;
/** Ceiling on a receiver-named retry delay. */
const MAX_RETRY_AFTER_MS = 300_000;

export async function startSink<F extends SinkHostFields, I extends TopicRef, T>(
  definition: SinkDefinition<F, I, T>,
  config: InferFields<F>,
  options: SinkHostOptions,
): Promise<RunningSink> {
  const hostConfig = config as InferFields<SinkHostFields>;
  const component = `sink/${definition.name}`;
  const logger = options.logger.child({ sink: definition.name });
  const groupId = options.groupId ?? `${options.topicPrefix}-sink-${definition.name}`;
  const inputDefinition = topicDefinitionOf(definition.input);
  const topic = topicName(inputDefinition, options.topicPrefix);
  const dlqTopic = topicName(TOPICS.dlq, options.topicPrefix);
  const metricsTopic = topicName(TOPICS.metrics, options.topicPrefix);
  const values = topicCodec<ValueOf<I>>(inputDefinition);
  const ctx: SinkContext<InferFields<F>> = { config, logger };
  const { runtime } = hostConfig;
  checkConsumerSettings(`sinks.${definition.name}.runtime`, runtime);

  // First, so a configuration problem of the exporter is reported before anything touches Kafka.
  const exporter: Exporter<T> = await definition.createExporter(ctx);

  const { kafka } = options;
  let admin: KafkaAdmin;
  try {
    admin = await connectAdmin(kafka, options.brokers ?? kafka.brokers);
  } catch (err) {
    await exporter.shutdown().catch(() => {});
    throw err;
  }
  const existing = new Set(await admin.listTopics());
  for (const needed of [topic, dlqTopic, metricsTopic]) {
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
  let current: ComponentStatus = { state: 'starting', summary: 'starting' };
  const http = await serveSinkEndpoint({
    sink: definition.name,
    listen: hostConfig.listen,
    exporter: exporter as Exporter<unknown>,
    samples: () => metrics.series.samples(),
    status: () => current,
    logger,
  }).catch(async (err: unknown) => {
    await Promise.allSettled([admin.disconnect(), exporter.shutdown()]);
    throw err;
  });
  const ownership = new PartitionOwnership();
  const ledger = new OffsetLedger();
  // Where each partition goes on (the offset after the last record read); unknown after a (re)join,
  // where the consumer resumes at the committed offset.
  const expectedNext = new Map<number, bigint>();
  const retention = new RetentionLoss({
    logStartOffsets: async (t) => new Map((await admin.topicOffsets(t)).map((o) => [o.partition, o.low])),
    onLoss: (_t, _partition, records) => metrics.lost(records, 'retention'),
    reader: component,
    logger,
  });
  const abort = new AbortController();

  // Dead letters and metric samples. Not idempotent: a dead letter can be written twice anyway (crash
  // between the write and the commit), and the metrics are cumulative values, last one wins.
  const producer: KafkaProducer = kafka.producer({ idempotent: false });
  const consumer: GroupConsumer = kafka.consumer({
    groupId,
    topics: [topic],
    ...consumerTuning({ startFrom: hostConfig.startFrom, ...runtime }),
    // What one poll brings at most, and so what backpressure can overshoot by.
    maxBytes: Math.max(runtime.maxBatchBytes, 1_048_576),
    // Backpressure pauses between polls: one poll brings at most this much beyond the buffer's limit.
    maxRecordsPerPoll: Math.max(hostConfig.batchSize, 30),
    // read_committed: processors write their outputs in transactions; aborted records must never
    // reach a receiver.
    readCommitted: true,
    onAssigned: (partitions) => {
      onAssigned(partitions.map((p) => p.partition));
      return undefined;
    },
    onRevoked: () => {
      // Everything buffered will be read again by whoever owns the partitions next (perhaps us).
      pipeline.discard('rebalance');
    },
    eachBatch: (batch) => eachBatch(batch),
    onFatal: (err) => {
      ownership.revokeAll();
      expectedNext.clear();
      pipeline.discard('consumer failed');
      fail(err);
    },
  });

  async function commit(entries: ReadonlyArray<Entry<T>>): Promise<void> {
    const { commits, notOwned } = ledger.plan(
      entries.map((e) => ({ partition: e.source.partition, offset: e.source.offset, last: e.last })),
      ownership,
    );
    if (notOwned.length > 0)
      logger.info({ partitions: notOwned }, 'not committing partitions this member no longer owns');
    if (commits.length === 0) return;
    try {
      await consumer.commit(
        commits.map((c) => ({ topic, partition: c.partition, offset: BigInt(c.offset) })),
      );
      ledger.record(commits);
    } catch (err) {
      // A rebalance raced the commit: whoever owns the partitions now reads these records again
      // (duplicates within the documented window, never a loss).
      logger.warn({ err: errorMessage(err), commits }, 'offset commit failed; records will be redelivered');
    }
  }

  const pipeline = new DeliveryPipeline<T>({
    sink: definition.name,
    batchSize: hostConfig.batchSize,
    lingerMs: hostConfig.lingerMs,
    maxBuffered: Math.max(hostConfig.maxBufferedRecords, hostConfig.batchSize),
    exporter,
    retry: { ...hostConfig.retry, multiplier: 2, maxRetryAfterMs: MAX_RETRY_AFTER_MS },
    deadLetters: new DeadLetterWriter(producer, dlqTopic, component),
    commit,
    pause: () => consumer.pause(ownership.partitions.map((partition) => ({ topic, partition }))),
    resume: () => consumer.resume(ownership.partitions.map((partition) => ({ topic, partition }))),
    metrics,
    logger,
    signal: abort.signal,
  });

  let markReady: () => void = () => {};
  let failReady: (err: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  ready.catch(() => {}); // observed through `done`

  function onAssigned(partitions: number[]): void {
    const revoked = ownership.assign(partitions);
    // Every rejoin restarts fetching at the committed offsets, so what is buffered will be read
    // again, and our record of commits starts over.
    ledger.forget([...revoked, ...partitions]);
    expectedNext.clear();
    for (const p of revoked) metrics.lag(p, undefined);
    pipeline.discard('rebalance');
    logger.info({ partitions, revoked, generation: ownership.generation }, 'partitions assigned');
    markReady();
    pipeline.applyBackpressure();
    // Ready now, not at the next status tick (/readyz reads the last status).
    report();
  }

  /** The entries of one record: one per value (a batch record holds many: schemas/topics.ts). */
  function intake(partition: number, message: ConsumedRecord, into: Array<Entry<T>>): number {
    const source: SourceRecord = sourceRecordOf(message);
    let decoded: Array<ValueOf<I>>;
    try {
      decoded = values.decodeRecord(message.value ?? Buffer.alloc(0));
    } catch (err) {
      into.push({ source, error: asRecordError(definition.name, err, ERRORS.SINK_RECORD_FAILED) });
      return 1;
    }
    const batched = values.batchSchema !== null && decoded.length > 0;
    const key = message.key === null ? null : message.key.toString('utf8');
    for (let index = 0; index < decoded.length; index++) {
      const value = decoded[index]!;
      const record: InputRecord<ValueOf<I>> = {
        topic,
        input: definition.input,
        partition,
        offset: message.offset,
        index,
        key: batched ? values.keyOf(value) : key,
        timestampMs: source.timestampMs,
        headers: source.headers,
        value,
      };
      const last = index === decoded.length - 1;
      try {
        into.push({ source, last, item: definition.prepare(record, ctx) });
      } catch (err) {
        const error = asRecordError(definition.name, err, ERRORS.SINK_RECORD_FAILED);
        into.push(batched ? { source, last, error, failed: failedItem(record) } : { source, last, error });
      }
    }
    return decoded.length;
  }

  /** A value of a batch that failed alone: dead-lettered with its index, as a record of the item schema. */
  function failedItem(record: InputRecord<ValueOf<I>>) {
    let bytes: Buffer | null = null;
    try {
      bytes = values.item.encode(record.value);
    } catch {
      // The batch record (at the offset the dead letter names) still holds it.
    }
    return { index: record.index, key: record.key === null ? null : Buffer.from(record.key), value: bytes };
  }

  /** A batch that starts past where the partition was: retention may have deleted unread records. */
  function noticeJump(partition: number, messages: readonly ConsumedRecord[]): void {
    if (messages.length === 0) return;
    const first = BigInt(messages[0]!.offset);
    const expected = expectedNext.get(partition);
    expectedNext.set(partition, BigInt(messages.at(-1)!.offset) + 1n);
    if (expected !== undefined) {
      retention.jumped(topic, partition, expected, first);
      return;
    }
    // The first batch since the (re)join: the consumer resumed at the committed offset, or jumped from it.
    void admin
      .committedOffsets(groupId, [topic])
      .then((offsets) => {
        const committed = offsets.get(topic)?.get(partition);
        if (committed !== undefined) retention.jumped(topic, partition, committed, first);
      })
      .catch((err) => logger.debug({ err: errorMessage(err) }, 'committed offsets not available'));
  }

  let stopping = false;
  async function eachBatch(batch: ConsumedBatch): Promise<void> {
    // Schema ids new to this process, from the Schema Registry (when there is one) before decoding.
    await schemaRegistry().resolveIds(batch.records);
    // The ownership check never fails in practice (assignments change between polls only); if it
    // did, the records belong to another member, which reads them itself.
    if (stopping || !ownership.owns(batch.partition)) return;
    noticeJump(batch.partition, batch.records);
    const entries: Array<Entry<T>> = [];
    let consumed = 0;
    for (const message of batch.records) consumed += intake(batch.partition, message, entries);
    for (const entry of entries) pipeline.add(entry);
    metrics.consumed(consumed);
    pipeline.applyBackpressure();
  }

  // --- metrics and status ---------------------------------------------------------------------------
  async function refreshLag(): Promise<void> {
    const owned = ownership.partitions;
    if (owned.length === 0) return;
    const [group, high] = await Promise.all([
      admin.committedOffsets(groupId, [topic]),
      admin.topicOffsets(topic),
    ]);
    let total = 0;
    for (const p of owned) {
      const h = high.find((x) => x.partition === p);
      if (h === undefined) continue;
      const committed = group.get(topic)?.get(p);
      // No commit yet: a new group starts at the earliest retained record (or the latest).
      const from = committed ?? (hostConfig.startFrom === 'earliest' ? h.low : h.high);
      const partitionLag = Math.max(0, Number(h.high - from));
      metrics.lag(p, partitionLag);
      total += partitionLag;
    }
    lag = total;
  }

  async function publishMetrics(): Promise<void> {
    await refreshLag().catch((err) => logger.debug({ err: errorMessage(err) }, 'lag not available'));
    await publishSamples(producer, metricsTopic, metrics.series.samples()).catch((err) =>
      logger.warn({ err: errorMessage(err) }, 'could not publish sink metrics'),
    );
  }

  function snapshot(): SinkSnapshot {
    return {
      ready: ownership.generation > 0,
      paused: pipeline.paused,
      buffered: pipeline.buffered,
      partitions: ownership.partitions,
      retrying: pipeline.retrying,
      lag,
      totals: metrics.totals(),
      fatal: fatal === undefined ? null : fatal.message,
    };
  }

  const onStatus = options.onStatus ?? reportStatus;
  let lastSnapshot: SinkSnapshot | undefined;
  let lastStatusAt = Date.now();
  function report(): void {
    const now = snapshot();
    current = sinkStatus(now, lastSnapshot, Date.now() - lastStatusAt, definition.unit ?? 'records');
    onStatus(current);
    lastSnapshot = now;
    lastStatusAt = Date.now();
  }
  const statusTimer = setInterval(report, options.statusIntervalMs ?? 2000);
  const metricsTimer = setInterval(() => void publishMetrics(), runtime.metricsIntervalMs);

  // --- lifecycle ------------------------------------------------------------------------------------
  let fatal: Error | undefined;
  let lag: number | null = null;
  let loop: Promise<void> = Promise.resolve();
  let stopPromise: Promise<void> | undefined;
  let resolveDone: () => void = () => {};
  let rejectDone: (err: Error) => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  done.catch(() => {}); // callers that only stop() need not observe it

  function fail(err: Error): void {
    if (fatal !== undefined) return;
    fatal = err;
    logger.error({ err: errorMessage(err) }, 'sink failed');
    failReady(err);
    void stop();
  }

  async function shutdown(): Promise<void> {
    stopping = true;
    clearInterval(statusTimer);
    clearInterval(metricsTimer);
    pipeline.close();
    if (fatal === undefined) {
      // Deliver what is buffered, within the budget; the abort ends retry waits at once.
      const timer = setTimeout(() => abort.abort(), hostConfig.shutdownTimeoutMs);
      const grace = new Promise<void>((resolve) =>
        abort.signal.addEventListener('abort', () => setTimeout(resolve, SHUTDOWN_GRACE_AFTER_ABORT_MS), {
          once: true,
        }),
      );
      await Promise.race([loop, grace]);
      clearTimeout(timer);
    }
    abort.abort();
    const left = pipeline.buffered;
    if (left > 0)
      logger.info({ records: left }, 'stopping with records not delivered; they will be redelivered');
    await publishMetrics();
    report();
    // After disconnect a late acknowledgement of an abandoned batch cannot commit anything (the
    // consumer is gone): those records are redelivered.
    await consumer.disconnect().catch(() => {});
    ownership.revokeAll();
    // An exporter's shutdown may wait for an abandoned request up to its own timeout; the process has
    // nothing left to lose by not waiting (the supervisor allows components 15 s in all).
    await Promise.race([
      Promise.allSettled([exporter.shutdown(), producer.disconnect(), admin.disconnect(), http?.close()]),
      sleep(CLOSE_WAIT_MS, undefined, { ref: false }),
    ]);
  }

  function stop(): Promise<void> {
    stopPromise ??= shutdown().then(
      () => (fatal === undefined ? resolveDone() : rejectDone(fatal)),
      (err: Error) => rejectDone(err),
    );
    return stopPromise.then(() => done).catch(() => {});
  }

  await producer.connect();
  await consumer.connect();
  loop = pipeline.run().catch((err: Error) => fail(err));
  logger.info({ topic, groupId }, 'sink started');
  report();

  return {
    name: definition.name,
    groupId,
    topic,
    ready,
    done,
    snapshot,
    stop,
  };
}
