/**
 * The processor host: runs any AnyProcessorDefinition on Kafka, with exactly-once output.
 *
 *          consumer group `<prefix>-<name>` (read_committed, range assignment, static membership)
 *                       │ one partition's batch at a time per task, up to `concurrency` at once
 *                       ▼
 *   task N: decode → handler(record, ctx) per record, in offset order      (partition-task.ts)
 *                       │ unit of work: outputs, dead letters, state changes
 *                       ▼
 *   transactional producer `<group>-<input>-N`: outputs + dead letters + changelog records
 *                       + the next offset with the group's metadata → commit  (partition-producer.ts)
 *
 * Rebalances are eager (lib/kafka/group-consumer.ts): before the group rebalances, every partition is
 * revoked, and the host lets each task finish the job in flight (its transaction commits under the
 * generation that fetched it) before the consumer rejoins. The new assignment then comes before
 * anything is fetched for it: tasks kept across the rebalance keep their state and continue from
 * their own position; new ones are assigned paused, and (asynchronously) initialise their
 * transactional producers — which fences the previous owner and settles its open transaction —
 * restore their state from the changelog, read the committed offsets (stable now), seek to them and
 * resume. Tasks not assigned again are dropped with their state. An assignment the group took away
 * (this instance was expelled: its session expired) is lost: every task is dropped without waiting,
 * since another instance may own its partition already.
 *
 * Failures (docs/processor-runtime.md, "When a transaction fails"). A transaction that fails before its
 * commit is aborted, the task's state rolls back to the last commit, its producer is re-initialised and
 * the batch is fetched again after a back-off — unless the broker refused the records themselves (too
 * large, invalid): the same batch would fail forever, so it runs again one record per transaction and
 * the record whose transaction is refused is dead-lettered. A commit whose outcome is unknown: the task
 * is rebuilt from the changelog and committed offsets. A fenced producer means another instance owns
 * the partition: the task is dropped until an assignment gives it back.
 */
import { hostname } from 'node:os';
import { type ComponentStatus, reportStatus } from '../../lib/component-status.ts';
import { ERRORS, errorMessage, MeshpipeError } from '../../lib/errors.ts';
import { healthRoutes, PROMETHEUS_TEXT } from '../../lib/http/health-routes.ts';
import { type HttpServer, startHttpServer } from '../../lib/http/server.ts';
import {
  type AssignmentPlan,
  type ConsumedBatch,
  consumerTuning,
  type GroupConsumer,
  type KafkaAdmin,
  type KafkaClient,
  type KafkaError,
  type KafkaProducer,
  type PartitionRef,
} from '../../lib/kafka.ts';
import type { Logger } from '../../lib/logger.ts';
import { instanceFencedError } from '../../runtime/group-instance.ts';
import { type SourceRecord, sourceRecordOf } from '../../runtime/input-record.ts';
import { RetentionLoss } from '../../runtime/retention-loss.ts';
import { backoffDelay, type RetryPolicy } from '../../runtime/retry-policy.ts';
import { ensureTopics } from '../../schemas/cluster-topics.ts';
import { schemaRegistry } from '../../schemas/registry.ts';
import { AssignedTask } from './assigned-task.ts';
import { changelogMessages, restoreState } from './changelog.ts';
import type { ProcessorSettings } from './config.ts';
import type { AnyProcessorDefinition } from './definition.ts';
import { TopicSizeLimits } from './message-size.ts';
import { packOutputs } from './output-batches.ts';
import {
  isFenced,
  isOutcomeUnknown,
  isRejected,
  kafkaErrorType,
  PartitionProducer,
} from './partition-producer.ts';
import { type OutgoingRecord, PartitionTask, punctuateIntervalMs } from './partition-task.ts';
import { ProcessorMetrics } from './processor-metrics.ts';
import { ProcessorTopics } from './processor-topics.ts';

export interface HostOptions {
  definition: AnyProcessorDefinition;
  settings: ProcessorSettings;
  kafka: KafkaClient;
  topicPrefix: string;
  /** For topics the host creates (outputs, changelog): kafka.replicationFactor and kafka.partitions. */
  replicationFactor: number;
  partitionOverrides?: Record<string, number>;
  logger: Logger;
  /** Names this instance in metric streams (default `<host name>-<pid>`). */
  instanceId?: string;
  /**
   * This instance's static member id in the group (`group.instance.id`), stable across its restarts:
   * a restarted instance takes its partitions back at once. Absent: a dynamic member.
   */
  groupInstanceId?: string;
  /** Serve /metrics, /healthz and /readyz on this port (0: any free port)... */
  metricsPort?: number;
  /** ...bound to this address (default: the processor's runtime.metricsHost, 127.0.0.1). */
  metricsHost?: string;
  /** Called with every status report (also sent to a supervisor, when there is one). */
  onStatus?: (status: ComponentStatus) => void;
}

const STATUS_INTERVAL_MS = 1_000;
/** Back-off after an aborted transaction: 0.5 s doubling to 30 s (runtime/retry-policy.ts, jittered). */
const TRANSACTION_RETRY: RetryPolicy = { initialBackoffMs: 500, maxBackoffMs: 30_000 };

export class ProcessorHost {
  readonly definition: AnyProcessorDefinition;
  readonly groupId: string;
  readonly instanceId: string;
  readonly metrics: ProcessorMetrics;
  /** Settles with the error that stopped the host for good (the consumer crashed without restarting). */
  readonly failed: Promise<Error>;
  readonly #options: HostOptions;
  readonly #logger: Logger;
  readonly #topics: ProcessorTopics;
  readonly #tasks = new Map<number, AssignedTask>();
  /** Partitions the group assigned to this instance (whatever state their task is in). */
  #assigned = new Set<number>();
  /** When a partition may be rebuilt after its producer was fenced (waiting for the group to settle). */
  readonly #notBefore = new Map<number, number>();
  #joined = false;
  #partitions = 0;
  #changelog = '';
  /** max.message.bytes of every topic written (message-size.ts). */
  readonly #limits = new TopicSizeLimits();
  /** Partition counts of the outputs: batched outputs are packed per partition (output-batches.ts). */
  readonly #outputPartitions = new Map<string, number>();
  #admin: KafkaAdmin | undefined;
  #consumer: GroupConsumer | undefined;
  #metricsProducer: KafkaProducer | undefined;
  #metricsServer: HttpServer | undefined;
  #timers: NodeJS.Timeout[] = [];
  #stopping = false;
  /** Aborts restores in flight when the host stops. */
  readonly #stopped = new AbortController();
  #publishing = false;
  #fail!: (err: Error) => void;
  #failure: Error | undefined;
  readonly #startedAtNs = BigInt(Date.now()) * 1_000_000n;
  #lastTotals = { consumed: 0, produced: 0, deadLetters: 0, lost: 0, at: Date.now() };
  readonly #retention: RetentionLoss;
  #status: ComponentStatus = { state: 'starting', summary: 'starting' };

  constructor(options: HostOptions) {
    this.#options = options;
    this.definition = options.definition;
    this.groupId = `${options.topicPrefix}-${options.definition.name}`;
    this.instanceId = options.instanceId ?? `${hostname()}-${process.pid}`;
    this.#logger = options.logger.child({ processor: options.definition.name });
    this.#topics = new ProcessorTopics(options.definition, options.topicPrefix);
    this.metrics = new ProcessorMetrics(options.definition.name);
    this.#retention = new RetentionLoss({
      logStartOffsets: async (topic) =>
        new Map((await this.#admin!.topicOffsets(topic)).map((o) => [o.partition, o.low])),
      onLoss: (topic, _partition, records) => this.metrics.lost(topic, records, 'retention'),
      reader: `processor ${options.definition.name}`,
      logger: this.#logger,
    });
    this.failed = new Promise<Error>((resolve) => {
      this.#fail = (err) => {
        if (this.#failure !== undefined) return;
        this.#failure = err;
        resolve(err);
      };
    });
  }

  /** Creates missing topics, joins the group and starts processing; resolves once the consumer runs. */
  async start(): Promise<void> {
    // Alive while connecting (a supervisor kills a child that stays silent, --stall-timeout): the
    // admin, producer and consumer each take a few round trips to the brokers before the first tick.
    const connecting = () => this.#report({ state: 'starting', summary: 'connecting to Kafka' });
    connecting();
    const timer = setInterval(connecting, STATUS_INTERVAL_MS);
    try {
      await this.#connect();
    } finally {
      clearInterval(timer);
    }
  }

  async #connect(): Promise<void> {
    const { kafka, settings } = this.#options;
    const admin = kafka.admin();
    this.#admin = admin;
    await admin.connect();
    await this.#ensureTopics(admin);

    // Samples are cumulative: a duplicate after a retry changes nothing, so plain at-least-once will do.
    const producer = kafka.producer();
    this.#metricsProducer = producer;
    await producer.connect();

    if (this.#options.metricsPort !== undefined) {
      this.#metricsServer = await startHttpServer({
        // Local unless configured: a cluster's manifests bind 0.0.0.0 so Prometheus can scrape the pod.
        listen: {
          host: this.#options.metricsHost ?? settings.runtime.metricsHost,
          port: this.#options.metricsPort,
        },
        routes: healthRoutes({
          metrics: async () => ({ contentType: PROMETHEUS_TEXT, body: await this.metrics.exposition() }),
          status: () => this.#status,
        }),
        logger: this.#logger,
      });
      this.#logger.info({ address: this.#metricsServer.address }, 'serving /metrics, /healthz and /readyz');
    }

    const r = settings.runtime;
    const consumer = kafka.consumer({
      groupId: this.groupId,
      ...(this.#options.groupInstanceId === undefined
        ? {}
        : { groupInstanceId: this.#options.groupInstanceId }),
      topics: this.#topics.inputs.map((t) => t.name),
      // startFrom is also where a partition goes when its position falls out of range (retention
      // deleted records not yet processed): like Kafka Streams, the oldest record left, unless the
      // processor starts from the latest. Assignments seek explicitly (#startPositions).
      ...consumerTuning({ startFrom: settings.startFrom, ...r }),
      concurrency: r.concurrency,
      onAssigned: (partitions) => this.#onAssigned(partitions),
      onRevoked: (_partitions, lost) => this.#onRevoked(lost),
      eachBatch: (batch) => this.#eachBatch(batch),
      onFatal: (err) => this.#onFatal(err),
    });
    this.#consumer = consumer;
    await consumer.connect();

    this.#timers.push(
      setInterval(() => this.#tick(), STATUS_INTERVAL_MS),
      setInterval(() => void this.#publishMetrics(), r.metricsIntervalMs),
    );
    this.#tick();
  }

  /** Graceful stop: the batch in flight commits, the group is left, producers close. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#stopped.abort();
    for (const timer of this.#timers) clearInterval(timer);
    for (const task of this.#tasks.values()) task.stopPunctuation();
    // The batches in flight finish (their transactions commit), then the consumer closes and leaves
    // the group, so the partitions move to the other instances at once.
    await this.#consumer
      ?.disconnect({ leave: this.#failure === undefined })
      .catch((err) => this.#logger.warn({ err }, 'disconnecting the consumer'));
    await Promise.all([...this.#tasks.values()].map((task) => this.#close(task, 'stopped')));
    await this.#publishMetrics().catch(() => {});
    await this.#metricsProducer?.disconnect().catch(() => {});
    await this.#admin?.disconnect().catch(() => {});
    await this.#metricsServer?.close();
  }

  status(): ComponentStatus {
    return this.#status;
  }

  async #ensureTopics(admin: KafkaAdmin): Promise<void> {
    const { topicPrefix: prefix, replicationFactor } = this.#options;
    const partitions = this.#options.partitionOverrides ?? {};
    const definitions = [
      ...this.#topics.inputs,
      ...this.#topics.outputs,
      this.#topics.dlq,
      this.#topics.metrics,
    ].map((t) => t.definition);
    const statuses = await ensureTopics(admin, [...new Set(definitions)], {
      prefix,
      replicationFactor,
      partitions,
    });
    for (const s of statuses.filter((t) => t.state === 'mismatch')) {
      this.#logger.warn({ topic: s.name, problems: s.problems }, 'topic differs from its definition');
    }
    const inputs = this.#topics.inputs.map((t) => t.name);
    const known = await admin.partitionCountsOfExisting(inputs);
    const counts = inputs.map((name) => known.get(name) ?? 0);
    if (new Set(counts).size > 1) {
      throw new MeshpipeError(ERRORS.PROCESSOR_INPUTS_NOT_COPARTITIONED, [
        this.definition.name,
        inputs.map((name, i) => `${name}: ${counts[i]}`).join(', '),
      ]);
    }
    this.#partitions = counts[0]!;
    const changelog = this.#topics.changelog(this.#partitions);
    this.#changelog = changelog.name;
    const [status] = await ensureTopics(admin, [changelog], {
      prefix,
      replicationFactor,
      partitions: { [changelog.suffix]: this.#partitions },
    });
    if (status!.state === 'mismatch') {
      throw new MeshpipeError(ERRORS.KAFKA_TOPIC_MISMATCH, [changelog.name, status!.problems.join('; ')], {
        hint: 'the changelog needs a partition per input partition: raise its partitions, or delete it (the state is lost) and restart',
      });
    }
    this.#limits.setChangelog(changelog.name);
    await this.#learnLimits();
  }

  /** Reads max.message.bytes of every topic this processor writes, and the outputs' partition counts. */
  async #learnLimits(): Promise<void> {
    const outputs = this.#topics.outputs.map((t) => t.name);
    const written = [...outputs, this.#topics.dlq.name, this.#changelog];
    await this.#limits.learn(this.#admin!, written, this.#logger);
    for (const [name, count] of await this.#admin!.partitionCounts(outputs))
      this.#outputPartitions.set(name, count);
  }

  /** The unit of work's records as written: outputs to batched topics packed per partition. */
  #recordsToWrite(records: readonly OutgoingRecord[]): readonly OutgoingRecord[] {
    return packOutputs(records, {
      batchedOutput: (name) => this.#topics.batchedOutput(name),
      partitions: (name) => {
        const count = this.#outputPartitions.get(name);
        if (count === undefined || count < 1) throw new Error(`the partitions of ${name} are not known`);
        return count;
      },
      limits: this.#limits,
    });
  }

  // ---- assignment ------------------------------------------------------------------------------

  /**
   * A new assignment, before anything is fetched for it (lib/kafka/group-consumer.ts): tasks kept
   * continue from their own positions, new ones start paused and are built (#startTasks), tasks not
   * assigned again are dropped.
   */
  #onAssigned(partitions: readonly PartitionRef[]): AssignmentPlan | undefined {
    if (this.#stopping) return undefined;
    const assigned = new Set(partitions.map((p) => p.partition));
    this.#joined = true;
    this.#assigned = assigned;
    for (const task of [...this.#tasks.values()]) {
      if (!assigned.has(task.partition)) void this.#close(task, 'revoked');
    }
    const added = [...assigned].filter((p) => !this.#tasks.has(p));
    for (const p of added) this.#notBefore.delete(p);
    this.#logger.info({ assigned: [...assigned].sort((a, b) => a - b), added }, 'partitions assigned');
    const offsets: Array<PartitionRef & { offset: bigint }> = [];
    const paused: number[] = [...added];
    const interval = punctuateIntervalMs(this.definition, this.#options.settings.config);
    for (const task of this.#tasks.values()) {
      if (task.status !== 'running') {
        // Restoring or waiting to retry: it seeks and resumes by itself when it is ready.
        paused.push(task.partition);
        continue;
      }
      for (const [topic, offset] of task.positions)
        offsets.push({ topic, partition: task.partition, offset });
      if (interval !== undefined) task.startPunctuation(interval, () => this.#punctuate(task));
    }
    if (added.length > 0) void this.#startTasks(added);
    return { offsets, paused: this.#inputPartitions(paused) };
  }

  /**
   * Before the group rebalances: every task finishes the job in flight (its transaction commits in the
   * generation that fetched it) and pauses its punctuations until the new assignment. Lost partitions
   * (the group expelled this instance) may be another's already: every task is dropped at once.
   */
  async #onRevoked(lost: boolean): Promise<void> {
    this.#assigned = new Set();
    const tasks = [...this.#tasks.values()];
    if (lost) {
      if (tasks.length > 0) {
        this.#logger.warn(
          { partitions: tasks.map((t) => t.partition) },
          'the group took the partitions away (this instance was expelled); rebuilding every task',
        );
      }
      for (const task of tasks) void this.#close(task, 'lost');
      return;
    }
    for (const task of tasks) task.stopPunctuation();
    // Not past a quarter of the rebalance timeout: a job waiting for an absent coordinator (a commit, a
    // producer's init) can take a minute, and the member that waits for it misses the rebalance. A task
    // still busy then is dropped as lost: its transaction cannot commit in the new generation, and the
    // next owner's producer aborts it (rebuilt from the changelog if it is assigned here again).
    const budget = this.#options.settings.runtime.rebalanceTimeoutMs / 4;
    const drained = new Set<AssignedTask>();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(tasks.map((task) => task.drained().then(() => drained.add(task)))),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, budget);
      }),
    ]).finally(() => clearTimeout(timer));
    const busy = tasks.filter((task) => !drained.has(task));
    if (busy.length > 0) {
      this.#logger.warn(
        { partitions: busy.map((t) => t.partition), waitedMs: budget },
        'tasks still busy when the group rebalanced: dropping them; they are rebuilt if assigned here again',
      );
      for (const task of busy) void this.#close(task, 'lost');
    }
  }

  /** The consumer stopped for good. */
  #onFatal(err: KafkaError): void {
    if (this.#stopping) return;
    const error =
      instanceFencedError(err, this.groupId, this.#options.groupInstanceId) ??
      new MeshpipeError(ERRORS.PROCESSOR_CRASHED, [this.definition.name, errorMessage(err)], {
        cause: err,
      });
    this.#fail(error);
  }

  /** Partition N of every input. */
  #inputPartitions(partitions: readonly number[]): PartitionRef[] {
    return this.#topics.inputs.flatMap((t) => partitions.map((partition) => ({ topic: t.name, partition })));
  }

  #pause(partitions: number[]): void {
    this.#consumer?.pause(this.#inputPartitions(partitions));
  }

  #seek(topic: string, partition: number, offset: bigint): void {
    this.#consumer?.seek(topic, partition, offset);
  }

  #resume(partitions: number[]): void {
    this.#consumer?.resume(this.#inputPartitions(partitions));
  }

  /** Fences, restores, seeks and resumes newly assigned partitions. */
  async #startTasks(partitions: number[]): Promise<void> {
    const { kafka, settings } = this.#options;
    const tasks = partitions.map((partition) => {
      const core = new PartitionTask({
        definition: this.definition,
        config: settings.config,
        partition,
        topics: this.#topics,
        now: Date.now,
        logger: this.#logger,
        observe: (kind, seconds) => this.metrics.handlerCall(kind, seconds),
        limits: this.#limits,
      });
      const producer = new PartitionProducer({
        kafka,
        transactionalId: `${this.groupId}-${this.#topics.inputs[0]!.name}-${partition}`,
        transactionTimeoutMs: settings.runtime.transactionTimeoutMs,
        logger: this.#logger.child({ partition }),
        limits: this.#limits,
      });
      const task = new AssignedTask(partition, core, producer);
      this.#tasks.set(partition, task);
      return task;
    });
    const current = () => tasks.filter((t) => this.#tasks.get(t.partition) === t && t.status === 'starting');
    // Fencing first: once a partition's producer is initialised, no earlier owner can commit to it.
    const inits = await Promise.allSettled(tasks.map((t) => t.producer.init()));
    const notInitialised = tasks.filter((_, i) => inits[i]!.status === 'rejected');
    if (notInitialised.length > 0) {
      const reason = (inits.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;
      await this.#startFailed(notInitialised, reason);
    }
    const restoring = current();
    if (restoring.length === 0) return;
    try {
      const restored = await restoreState({
        kafka,
        admin: this.#admin!,
        topic: this.#changelog,
        stores: new Map(restoring.map((t) => [t.partition, t.core.state as never])),
        logger: this.#logger,
        signal: this.#stopped.signal,
      });
      this.metrics.restored(restored.records, restored.durationMs / 1000);
      const starts = await this.#startPositions(restoring.map((t) => t.partition));
      const interval = punctuateIntervalMs(this.definition, settings.config);
      const ready = current();
      for (const task of ready) {
        for (const input of this.#topics.inputs) {
          const offset = starts.get(input.name)!.get(task.partition)!;
          task.positions.set(input.name, offset);
          this.#seek(input.name, task.partition, offset);
        }
        task.status = 'running';
        this.metrics.state(task.partition, task.core.state.stats());
        if (interval !== undefined) task.startPunctuation(interval, () => this.#punctuate(task));
      }
      this.#resume(ready.map((t) => t.partition));
      this.#logger.info(
        {
          partitions: ready.map((t) => t.partition),
          restoredRecords: restored.records,
          restoreMs: Math.round(restored.durationMs),
        },
        'partitions restored and processing',
      );
    } catch (err) {
      await this.#startFailed(restoring, err);
    }
  }

  /** Tasks that could not start are dropped; #reconcile starts them again shortly if still ours. */
  async #startFailed(tasks: AssignedTask[], err: unknown): Promise<void> {
    // Tasks revoked or closed meanwhile (or a stopping host) are not failures.
    const failed = tasks.filter((t) => this.#tasks.get(t.partition) === t && t.status === 'starting');
    if (failed.length === 0 || this.#stopping) {
      for (const task of failed) await this.#close(task, 'stopped');
      return;
    }
    const error = new MeshpipeError(
      ERRORS.PROCESSOR_RESTORE_FAILED,
      [this.definition.name, failed.map((t) => t.partition).join(','), this.#changelog, errorMessage(err)],
      { cause: err },
    );
    this.#logger.error({ err, code: error.code }, `${error.message}; retrying`);
    const retryAt = Date.now() + 2_000;
    for (const task of failed) {
      this.#notBefore.set(task.partition, retryAt);
      await this.#close(task, 'failed');
    }
  }

  /**
   * Where each partition resumes: the committed offset, else the start policy (`startFrom`). A
   * committed offset outside the partition (retention deleted what it points at, or the topic was
   * recreated) also falls back to the policy, as auto.offset.reset would.
   */
  async #startPositions(partitions: number[]): Promise<Map<string, Map<number, bigint>>> {
    const admin = this.#admin!;
    const names = this.#topics.inputs.map((t) => t.name);
    const committed = await this.#consumer!.committed(
      names.flatMap((topic) => partitions.map((partition) => ({ topic, partition }))),
      this.#options.kafka.requestTimeout,
    );
    const out = new Map<string, Map<number, bigint>>();
    for (const name of names) {
      const byPartition = new Map<number, bigint>();
      const bounds = await admin.topicOffsets(name);
      for (const p of partitions) {
        const offset = committed.get(name)?.get(p) ?? -1n;
        const { low, high } = bounds.find((o) => o.partition === p)!;
        if (offset >= low && offset <= high) {
          byPartition.set(p, offset);
          continue;
        }
        const start = this.#options.settings.startFrom === 'earliest' ? low : high;
        if (offset < low) this.#retention.startsAbove(name, p, offset, start);
        else if (offset >= 0n) {
          this.#logger.warn(
            {
              topic: name,
              partition: p,
              committed: String(offset),
              low: String(low),
              high: String(high),
              start: String(start),
            },
            'committed offset is outside the partition; starting per startFrom',
          );
        }
        byPartition.set(p, start);
      }
      out.set(name, byPartition);
    }
    return out;
  }

  /** Drops a task. Revoked and stopped tasks finish their queued job first; lost ones are discarded. */
  async #close(task: AssignedTask, why: 'revoked' | 'lost' | 'fenced' | 'failed' | 'stopped'): Promise<void> {
    if (this.#tasks.get(task.partition) === task) this.#tasks.delete(task.partition);
    const wasRunning = task.status === 'running' || task.status === 'retrying';
    task.status = 'closed';
    task.stopPunctuation();
    if (why === 'revoked' || why === 'stopped') await task.drained();
    await task.producer.close();
    this.metrics.forgetPartition(
      task.partition,
      this.#topics.inputs.map((t) => t.name),
    );
    if (wasRunning || why !== 'failed') this.#logger.info({ partition: task.partition, why }, 'task closed');
  }

  /** Rebuilds tasks the group assigned us but we do not run (after a failed restore or a fence). */
  #reconcile(): void {
    if (this.#stopping || !this.#joined) return;
    const now = Date.now();
    const missing = [...this.#assigned].filter(
      (p) => !this.#tasks.has(p) && (this.#notBefore.get(p) ?? 0) <= now,
    );
    if (missing.length === 0) return;
    for (const p of missing) this.#notBefore.delete(p);
    this.#pause(missing);
    void this.#startTasks(missing);
  }

  // ---- processing ------------------------------------------------------------------------------

  async #eachBatch(batch: ConsumedBatch): Promise<void> {
    const task = this.#tasks.get(batch.partition);
    // Not ours, or not ready: a task seeks to its own position before it resumes.
    if (task === undefined || task.status !== 'running') return;
    await task.run(() => this.#processBatch(task, batch));
  }

  async #processBatch(task: AssignedTask, batch: ConsumedBatch): Promise<boolean> {
    // Schema ids new to this process, from the Schema Registry (when there is one) before decoding.
    await schemaRegistry().resolveIds(batch.records);
    if (task.status !== 'running') return false;
    const topic = batch.topic;
    const position = task.positions.get(topic)!;
    const last = BigInt(batch.records.at(-1)!.offset);
    // A batch entirely below the position was committed already.
    if (last < position) return true;
    // Past where this task expected to go on: retention may have deleted what it had not read.
    const first = BigInt(batch.records[0]?.offset ?? last);
    if (first > position) this.#retention.jumped(topic, batch.partition, position, first);
    const records: SourceRecord[] = [];
    for (const message of batch.records) {
      if (BigInt(message.offset) < position) continue;
      const record = sourceRecordOf(message);
      records.push(record);
      task.core.process(record);
    }
    const next = last + 1n;
    const result = await this.#commit(task, new Map([[topic, next]]));
    if (result.kind === 'rejected') return this.#isolate(task, topic, records, result.error);
    if (result.kind === 'committed' && batch.highWatermark !== undefined)
      this.#lag(task, topic, batch.highWatermark);
    return result.kind === 'committed';
  }

  /**
   * The broker refused the batch's transaction for what one of its records holds (too large, invalid):
   * it was aborted, and the same batch would be refused again. So the batch runs again one record per
   * transaction: every record commits as it would have, except the one whose own transaction is refused,
   * which is dead-lettered instead (PROCESSOR_OUTPUT_REJECTED) — like a handler that threw, its state
   * changes and emits are discarded. A refused dead letter means the cause is not the record: the task
   * backs off and retries. Nothing is committed twice: each record's offset commits with its outputs.
   */
  async #isolate(
    task: AssignedTask,
    topic: string,
    records: readonly SourceRecord[],
    error: unknown,
  ): Promise<boolean> {
    const code = ERRORS.PROCESSOR_OUTPUT_REJECTED.code;
    const type = kafkaErrorType(error);
    this.#logger.warn(
      { code, partition: task.partition, error: type, records: records.length },
      'the broker refused a transaction for what a record holds; committing its batch record by record to set that record aside',
    );
    // A topic's limit may have been lowered: read them again (the producer re-initialised next uses them).
    if (type === 'ERR_MSG_SIZE_TOO_LARGE' || type === 'ERR_RECORD_LIST_TOO_LARGE') await this.#learnLimits();
    if (!(await this.#reinit(task))) return false;
    for (const record of records) {
      if (task.status !== 'running') return false;
      const after = new Map([[topic, BigInt(record.offset) + 1n]]);
      task.core.process(record);
      let result = await this.#commit(task, after);
      if (result.kind === 'rejected') {
        if (!(await this.#reinit(task))) return false;
        task.core.reject(record, result.error);
        result = await this.#commit(task, after);
        if (result.kind === 'rejected') {
          this.#retry(task, result.error);
          return false;
        }
      }
      if (result.kind !== 'committed') return false;
    }
    return true;
  }

  async #punctuate(task: AssignedTask): Promise<void> {
    task.core.punctuate();
    const result = await this.#commit(task, undefined);
    if (result.kind === 'rejected') {
      // Nothing to set aside but the punctuation itself: it is counted as failed, and runs again.
      task.core.punctuationRejected(result.error);
      await this.#reinit(task);
    }
  }

  /**
   * Commits the task's unit of work (with input offsets for a batch, which become the task's
   * positions). On failure the unit is rolled back, and the task is dropped (fenced), rebuilt (the
   * commit's outcome is unknown) or retried after a back-off — except when the broker refused the
   * records themselves, which the caller handles.
   */
  async #commit(task: AssignedTask, next: Map<string, bigint> | undefined): Promise<CommitResult> {
    const work = task.core.work();
    if (next === undefined && !task.core.hasWrites()) {
      // A punctuation that changed nothing: no transaction, but its counters still count.
      task.core.commit();
      this.metrics.committed(work, false);
      return COMMITTED;
    }
    try {
      await task.producer.commit(
        this.#recordsToWrite(work.records),
        { topic: this.#changelog, messages: changelogMessages(work.changes, task.partition) },
        next === undefined ? undefined : { consumer: this.#consumer!, partition: task.partition, next },
      );
    } catch (err) {
      task.core.abort();
      this.metrics.aborted();
      if (task.status !== 'running') return FAILED; // closed meanwhile: nothing to recover
      if (isFenced(err)) this.#fenced(task, err);
      else if (isOutcomeUnknown(err)) this.#rebuild(task, err);
      else if (isRejected(err)) return { kind: 'rejected', error: err };
      else this.#retry(task, err);
      return FAILED;
    }
    task.core.commit();
    if (next !== undefined) {
      // Only input progress ends a run of failures: punctuations may commit while a batch keeps failing.
      task.failures = 0;
      for (const [topic, offset] of next) task.positions.set(topic, offset);
    }
    this.metrics.committed(work, true);
    this.metrics.state(task.partition, task.core.state.stats());
    return COMMITTED;
  }

  #lag(task: AssignedTask, topic: string, highWatermark: bigint): void {
    task.lag.set(topic, Math.max(0, Number(highWatermark - task.positions.get(topic)!)));
    this.metrics.lag(topic, task.partition, task.lag.get(topic)!);
  }

  /** A new producer epoch after a refused transaction; false if the task could not go on. */
  async #reinit(task: AssignedTask): Promise<boolean> {
    try {
      await task.producer.init();
      return true;
    } catch (err) {
      if (task.status !== 'running') return false;
      if (isFenced(err)) this.#fenced(task, err);
      else this.#retry(task, err);
      return false;
    }
  }

  /**
   * EndTxn(commit) failed, so whether the unit of work committed is unknown: rolling back (and redoing
   * the batch) would duplicate it if it did, keeping it would lose it if it did not. What Kafka holds
   * decides: the task is dropped and rebuilt at once — its producer initialised (which completes or
   * aborts the transaction), its state restored from the changelog, its position the committed offset.
   */
  #rebuild(task: AssignedTask, err: unknown): void {
    this.#logger.error(
      { err, code: ERRORS.PROCESSOR_TRANSACTION_FAILED.code, partition: task.partition },
      `the commit of a transaction of processor ${this.definition.name} on partition ${task.partition} failed, so whether it happened is unknown (${errorMessage(err)}); rebuilding the partition from the changelog and committed offsets`,
    );
    this.#pause([task.partition]);
    this.#notBefore.set(task.partition, Date.now() + 500);
    void this.#close(task, 'failed');
  }

  #fenced(task: AssignedTask, err: unknown): void {
    const error = new MeshpipeError(ERRORS.PROCESSOR_FENCED, [this.definition.name, task.partition], {
      cause: err,
    });
    this.#logger.warn({ code: error.code, partition: task.partition }, error.message);
    this.#pause([task.partition]);
    // The new owner's rebalance will reach us too; rebuild only if it still assigns us the partition,
    // or if no rebalance comes within a session timeout (then no one else is processing it).
    this.#notBefore.set(task.partition, Date.now() + this.#options.settings.runtime.sessionTimeoutMs);
    void this.#close(task, 'fenced');
  }

  /** After an aborted transaction: back off, replace the producer, re-read from the committed position. */
  #retry(task: AssignedTask, err: unknown): void {
    const error = new MeshpipeError(
      ERRORS.PROCESSOR_TRANSACTION_FAILED,
      [this.definition.name, task.partition, errorMessage(err)],
      { cause: err },
    );
    task.failures++;
    const delay = backoffDelay(task.failures, TRANSACTION_RETRY);
    this.#logger.error({ err, code: error.code, partition: task.partition, retryInMs: delay }, error.message);
    task.status = 'retrying';
    this.#pause([task.partition]);
    const timer = setTimeout(() => {
      void task.run(async () => {
        if (task.status !== 'retrying') return;
        try {
          await task.producer.init();
        } catch (initErr) {
          if (isFenced(initErr)) this.#fenced(task, initErr);
          else this.#retry(task, initErr);
          return;
        }
        for (const [topic, offset] of task.positions) this.#seek(topic, task.partition, offset);
        task.status = 'running';
        this.#resume([task.partition]);
      });
    }, delay);
    timer.unref();
  }

  // ---- status and metrics ----------------------------------------------------------------------

  #tick(): void {
    this.#reconcile();
    const now = Date.now();
    const totals = this.metrics.totals();
    const seconds = Math.max(0.001, (now - this.#lastTotals.at) / 1000);
    const inRate = (totals.consumed - this.#lastTotals.consumed) / seconds;
    const outRate = (totals.produced - this.#lastTotals.produced) / seconds;
    // Records lost since the last report make the status yellow (the count stays in the summary).
    const lostNow = totals.lost - this.#lastTotals.lost;
    this.#lastTotals = { ...totals, at: now };
    const tasks = [...this.#tasks.values()];
    const running = tasks.filter((t) => t.status === 'running').length;
    const lag = tasks.reduce((sum, t) => sum + t.totalLag(), 0);
    this.metrics.partitions(running);
    const waiting = this.#assigned.size - running;
    let state: ComponentStatus['state'] = lostNow > 0 ? 'degraded' : 'ok';
    let prefix = '';
    if (this.#failure !== undefined) state = 'failed';
    else if (!this.#joined) {
      state = 'starting';
      prefix = 'joining group · ';
    } else if (waiting > 0) {
      state = tasks.some((t) => t.status === 'starting') ? 'starting' : 'degraded';
      prefix = `${waiting} of ${this.#assigned.size} partitions restoring or retrying · `;
    }
    this.#report({
      state,
      summary: `${prefix}in ${rate(inRate)}/s out ${rate(outRate)}/s dlq ${totals.deadLetters} lag ${lag}${totals.lost > 0 ? ` lost ${totals.lost} (retention)` : ''}`,
      // ctx.count totals as `event.<name>` (meshpipe up's status line reads span-assembler's
      // `event.requests_observed`).
      counters: { ...totals, lag, partitions: running, ...prefixed('event.', this.metrics.events()) },
    });
  }

  #report(status: ComponentStatus): void {
    this.#status = status;
    reportStatus(status);
    this.#options.onStatus?.(status);
  }

  /** Refreshes lag from the brokers (idle partitions get no batches) and publishes the samples. */
  async #publishMetrics(): Promise<void> {
    if (this.#publishing || this.#metricsProducer === undefined) return;
    this.#publishing = true;
    try {
      const tasks = [...this.#tasks.values()].filter((t) => t.status === 'running');
      if (tasks.length > 0 && this.#admin !== undefined && !this.#stopping) {
        for (const input of this.#topics.inputs) {
          const offsets = await this.#admin.topicOffsets(input.name);
          for (const task of tasks) {
            const high = offsets.find((o) => o.partition === task.partition)?.high;
            const position = task.positions.get(input.name);
            if (high === undefined || position === undefined) continue;
            task.lag.set(input.name, Math.max(0, Number(high - position)));
            this.metrics.lag(input.name, task.partition, task.lag.get(input.name)!);
          }
        }
      }
      const stream = `processor/${this.definition.name}/${this.instanceId}`;
      const samples = await this.metrics.samples(stream, this.#startedAtNs, Date.now());
      const metrics = this.#topics.metrics;
      await this.#metricsProducer.send({
        topic: metrics.name,
        messages: samples.map((s) => ({ key: s.seriesId, value: metrics.codec.encode(s) })),
      });
    } catch (err) {
      this.#logger.warn({ err }, 'publishing pipeline-health metrics failed; retrying at the next interval');
    } finally {
      this.#publishing = false;
    }
  }
}

type CommitResult = { kind: 'committed' } | { kind: 'failed' } | { kind: 'rejected'; error: unknown };
const COMMITTED: CommitResult = { kind: 'committed' };
const FAILED: CommitResult = { kind: 'failed' };

function prefixed(prefix: string, counts: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, n] of Object.entries(counts)) out[`${prefix}${name}`] = n;
  return out;
}

function rate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(1)}M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)}k`;
  return perSecond >= 10 || perSecond === 0 ? String(Math.round(perSecond)) : perSecond.toFixed(1);
}
