/**
 * A consumer-group member: subscribes, is assigned partitions by the group, and hands its records to
 * `eachBatch` one partition's batch at a time, up to `concurrency` partitions at once.
 *
 *   consume(N) ── records of any assigned partitions ──► per partition, in offset order ──► eachBatch
 *      ▲   pause / resume / seek, applied between two consume calls        (awaited, all of them)
 *      └─────────────────────────────────────────────────────────────────────┘
 *
 * One loop owns the librdkafka consumer: it polls, then waits for every batch it handed out, then
 * handles the rebalance the poll brought, if any, then applies the pauses, resumes and seeks asked for
 * meanwhile (in order, a seek waited for), then polls again. So nothing races a poll in flight: every
 * record polled is handed out, and a record polled after a seek comes from the new position.
 *
 * Except that a batch may take long — a transaction waiting for a coordinator that moved can take a
 * minute — and a member that does not poll within `max.poll.interval.ms` is put out of the group
 * (and its rebalance then waits for the same batch). So the loop waits for a poll's batches only a
 * quarter of that interval: batches still running then are left to finish on their own, their
 * partitions paused meanwhile (pausing also drops what was fetched ahead for them, and resuming fetches
 * from the record after the last one handed out), and the loop polls on for the other partitions. A
 * rebalance, a rejoin and a stop wait for the batches handed out first — as long again at most.
 *
 * Assignment. The `range` assignor: partition N of every subscribed topic goes to one member when the
 * topics have equal partition counts (co-partitioned inputs). With `groupInstanceId` the member is
 * static (KIP-345): the group keeps its partitions through a restart within the session timeout, and
 * a restarted member gets them back at once, without a rebalance. A static member does not leave the
 * group by closing; `disconnect({ leave: true })` takes it out so its partitions move at once.
 * Rebalances are eager: before a rebalance every partition is revoked — `onRevoked` runs (and may
 * finish work in flight) before the member rejoins, with `lost` true when the group already gave the
 * partitions away (the session expired) — and the new assignment comes to `onAssigned` before anything
 * is fetched for it: it may say where a partition starts and which stay paused. Both run between two
 * polls, so every poll's records belong to one assignment.
 *
 * Fetching is bounded: `maxBytesPerPartition` per fetch, and librdkafka's prefetch queue to about twice
 * that per partition (its default, 64 MiB per partition, took a backlog reader past 600 MiB).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { KafkaConnection, Properties } from './connection.ts';
import { code, KafkaError, kafkaError } from './kafka-error.ts';
import { leaveGroup } from './leave-group.ts';
import { type KafkaConsumer, librdkafka, type Message, type TopicPartition } from './librdkafka.ts';

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Ms since the epoch. */
  timestamp: number;
  /** A header repeated in the record has its values joined with commas, as HTTP does. */
  headers: Record<string, string>;
}

export interface ConsumedBatch {
  topic: string;
  partition: number;
  /** In offset order; control records and records of aborted transactions are not among them. */
  records: ConsumedRecord[];
  /** The partition's high watermark as of the fetch that brought the batch, when known. */
  highWatermark: bigint | undefined;
}

export interface PartitionRef {
  topic: string;
  partition: number;
}

export interface AssignmentPlan {
  /** Where partitions start (default: the group's committed offset, else `fromBeginning`). */
  offsets?: ReadonlyArray<PartitionRef & { offset: bigint }>;
  /** Partitions assigned paused: nothing is fetched for them until they are resumed. */
  paused?: readonly PartitionRef[];
}

export interface GroupConsumerOptions {
  groupId: string;
  /** A stable id of this member across restarts: static membership (see the file comment). */
  groupInstanceId?: string;
  topics: readonly string[];
  /** Where a partition without a committed offset starts (or one whose offset is out of range). */
  fromBeginning?: boolean;
  /** Only records of committed transactions (default true). */
  readCommitted?: boolean;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** How long a rebalance waits for members, and the longest a batch's handling may hold up polling. */
  rebalanceTimeoutMs?: number;
  /** Longest a fetch waits for records, ms (default 500). */
  maxWaitMs?: number;
  /** Bytes per partition per fetch (default 1 MiB). */
  maxBytesPerPartition?: number;
  /**
   * Bytes fetched ahead of the handling, all partitions together (default: 4 MiB, or twice the
   * per-partition fetch if more): what a poll can bring at most, and the bound on the client's memory.
   */
  maxBytes?: number;
  /** Batches of different partitions handled at once (default 1). */
  concurrency?: number;
  /**
   * Records one poll hands out at most (default 10 000): with pause() between polls, what a consumer
   * that applies backpressure can receive beyond its limit.
   */
  maxRecordsPerPoll?: number;
  onAssigned?: (partitions: readonly PartitionRef[]) => AssignmentPlan | undefined;
  onRevoked?: (partitions: readonly PartitionRef[], lost: boolean) => Promise<void> | void;
  eachBatch: (batch: ConsumedBatch) => Promise<void>;
  /** The consumer stopped for good (a fatal error: fenced by another member with this instance id). */
  onFatal?: (err: KafkaError) => void;
}

/**
 * Fetch sizes and the prefetch bound. librdkafka fetches ahead into one queue per consumer until it
 * holds `queued.max.messages.kbytes` (64 MiB by default) — here the total — and then waits
 * `fetch.queue.backoff.ms` (1 s by default, far too long once the queue is small) before trying again.
 */
export function fetchProperties(maxWaitMs: number, perPartition: number, total?: number): Properties {
  const bytes = total ?? Math.max(4 * 1_048_576, 2 * perPartition);
  return {
    'fetch.wait.max.ms': maxWaitMs,
    'max.partition.fetch.bytes': perPartition,
    'fetch.max.bytes': Math.max(perPartition, bytes),
    'queued.max.messages.kbytes': Math.ceil(bytes / 1024),
    'queued.min.messages': 100_000,
    'fetch.queue.backoff.ms': 20,
  };
}

/** Module-private access to the librdkafka consumer, for the transactional producer's offsets. */
export const GROUP_CONSUMER = Symbol('librdkafka consumer');

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** Methods of the binding's consumer its typings leave out. */
interface ConsumeTuning {
  setDefaultIsTimeoutOnlyForFirstMessage(value: boolean): void;
  assignmentLost(): boolean;
  commitCb(offsets: Array<PartitionRef & { offset: number }>, cb: (err: unknown) => void): void;
}

export function toRecord(m: Message): ConsumedRecord {
  const headers: Record<string, string> = {};
  if (m.headers !== undefined) {
    for (const header of m.headers) {
      for (const [name, value] of Object.entries(header)) {
        const text = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
        headers[name] = headers[name] === undefined ? text : `${headers[name]},${text}`;
      }
    }
  }
  const k = m.key;
  return {
    topic: m.topic,
    partition: m.partition,
    offset: String(m.offset),
    key: k == null ? null : Buffer.isBuffer(k) ? k : Buffer.from(k),
    value: m.value ?? null,
    timestamp: m.timestamp ?? 0,
    headers,
  };
}

/** Runs `work` over `items`, in order, at most `limit` at once: a promise per item. */
function limited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void>[] {
  let active = 0;
  const waiting: Array<() => void> = [];
  const release = () => {
    const next = waiting.shift();
    if (next === undefined) active--;
    else next();
  };
  return items.map(async (item) => {
    if (active < limit) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      await work(item);
    } finally {
      release();
    }
  });
}

/** Whether a fatal error says another member (perhaps this one, joined twice) took this instance id. */
export function isInstanceFenced(err: KafkaError): boolean {
  return (
    err.type === 'ERR_FENCED_INSTANCE_ID' ||
    /same group\.instance\.id|FENCED_INSTANCE_ID|fenced instance/i.test(err.message)
  );
}

const FENCING_WINDOW_MS = 120_000;

/** How long closing a librdkafka consumer may take before the member goes on without it (#close). */
const CLOSE_TIMEOUT_MS = 30_000;

/**
 * A fenced member waits this long after it last lost a broker connection before a fencing counts as
 * another process's: a coordinator that restarts or moves answers the member's own join later.
 */
const BROKER_LOSS_GRACE_MS = 60_000;

/**
 * Whether a static member fenced out of its group joins again. Fenced soon after it lost a broker
 * connection (the broker restarted, the coordinator moved), the member was most likely fenced by its own
 * join, answered by the new coordinator (apache/kafka#23542): it joins again, however often that
 * happens. Otherwise once per window: fenced twice within it on a cluster that did not move, another
 * process really holds the id.
 */
export class FencingWindow {
  readonly #windowMs: number;
  readonly #graceMs: number;
  readonly #now: () => number;
  #lastFence = Number.NEGATIVE_INFINITY;
  #lastBrokerLoss = Number.NEGATIVE_INFINITY;

  constructor(windowMs: number, now: () => number = Date.now, graceMs = BROKER_LOSS_GRACE_MS) {
    this.#windowMs = windowMs;
    this.#graceMs = graceMs;
    this.#now = now;
  }

  /** The member lost a broker connection (transport failure, every broker down). */
  brokerLost(): void {
    this.#lastBrokerLoss = this.#now();
  }

  /** A fencing now: may the member join again? */
  mayRejoin(): boolean {
    const now = this.#now();
    const fencedRecently = now - this.#lastFence < this.#windowMs;
    this.#lastFence = now;
    return !fencedRecently || now - this.#lastBrokerLoss < this.#graceMs;
  }
}

type Op =
  | { kind: 'pause' | 'resume' | 'settled'; partitions: PartitionRef[] }
  | { kind: 'seek'; topic: string; partition: number; offset: bigint };

type RebalanceEvent = { kind: 'assign' | 'revoke'; partitions: PartitionRef[] };

export class GroupConsumer {
  readonly #client: KafkaConnection;
  readonly #o: GroupConsumerOptions;
  #consumer: KafkaConsumer | undefined;
  #loop: Promise<void> | undefined;
  #looping = false;
  #stopping = false;
  #assigned: PartitionRef[] = [];
  #ops: Op[] = [];
  #rebalances: RebalanceEvent[] = [];
  #handlingRebalances: Promise<void> = Promise.resolve();
  #fatal: KafkaError | undefined;
  /** Set when this static member was fenced and joins again with a new consumer (#onFatalError). */
  #rejoin: KafkaError | undefined;
  readonly #fencing = new FencingWindow(FENCING_WINDOW_MS);
  #fatalReason: string | undefined;
  #fatalDecision: Promise<void> | undefined;
  /** Batches the loop stopped waiting for (see the file comment), until they settle. */
  readonly #running = new Set<Promise<void>>();
  /** Partitions of those batches: paused until they settle. */
  readonly #busy = new Set<string>();
  /** Partitions paused by the caller (pause(), or paused when assigned): a settled batch leaves them so. */
  readonly #paused = new Set<string>();
  /** A batch that failed after the loop stopped waiting for it: the loop throws it as its own. */
  #runningError: unknown;

  constructor(client: KafkaConnection, options: GroupConsumerOptions) {
    this.#client = client;
    this.#o = options;
  }

  [GROUP_CONSUMER](): KafkaConsumer {
    if (this.#consumer === undefined)
      throw new KafkaError('the consumer is not connected', { code: code('ERR__STATE') });
    return this.#consumer;
  }

  /** Partitions currently assigned to this member. */
  assignment(): PartitionRef[] {
    return [...this.#assigned];
  }

  /** Connects, subscribes and starts handing out batches; resolves once connected (not yet assigned). */
  async connect(): Promise<void> {
    this.#consumer = await this.#open();
    this.#looping = true;
    this.#loop = this.#run().finally(() => {
      this.#looping = false;
    });
  }

  /** A librdkafka consumer of the group, connected and subscribed. */
  async #open(): Promise<KafkaConsumer> {
    const o = this.#o;
    const perPartition = o.maxBytesPerPartition ?? 1_048_576;
    const properties: Properties = this.#client.properties({
      'group.id': o.groupId,
      'partition.assignment.strategy': 'range',
      'session.timeout.ms': o.sessionTimeoutMs ?? 30_000,
      'heartbeat.interval.ms': o.heartbeatIntervalMs ?? 3_000,
      'max.poll.interval.ms': o.rebalanceTimeoutMs ?? 60_000,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'isolation.level': o.readCommitted === false ? 'read_uncommitted' : 'read_committed',
      'allow.auto.create.topics': false,
      ...fetchProperties(o.maxWaitMs ?? 500, perPartition, o.maxBytes),
      rebalance_cb: (err: unknown, assignment: TopicPartition[]) => this.#onRebalance(err, assignment),
    });
    if (o.groupInstanceId !== undefined) properties['group.instance.id'] = o.groupInstanceId;
    const consumer = new (librdkafka().KafkaConsumer)(properties as never, {
      'auto.offset.reset': o.fromBeginning === true ? 'earliest' : 'latest',
    });
    this.#client.attachLogging(consumer, `consumer ${o.groupId}`);
    consumer.on('event.error', (raw: unknown) => {
      const err = kafkaError(raw);
      if (err.code === code('ERR__TRANSPORT') || err.code === code('ERR__ALL_BROKERS_DOWN'))
        this.#fencing.brokerLost();
      if (err.fatal && consumer === this.#consumer) void this.#onFatalError(err);
    });
    // A fatal error reaches JavaScript as a bare ERR__FATAL ("Local: Fatal error"); what it was —
    // fenced by a member with this instance id, say — is only in librdkafka's FATAL log line.
    consumer.on('event.log', (entry: { fac: string; message: string }) => {
      if (entry.fac === 'FATAL' && consumer === this.#consumer) this.#fatalReason = entry.message;
      // A broker connection closed or refused. librdkafka raises an error event only for some of
      // these (not for a connection a broker closed in a controlled shutdown), but logs every one
      // under FAIL; a member fenced soon after must know the cluster moved (FencingWindow).
      if (entry.fac === 'FAIL') this.#fencing.brokerLost();
    });
    await new Promise<void>((resolve, reject) =>
      consumer.connect(
        { allTopics: false, timeout: Math.max(this.#client.connectionTimeout, 2_000) },
        (err) => (err ? reject(kafkaError(err, 'connecting a consumer')) : resolve()),
      ),
    );
    consumer.setDefaultConsumeTimeout(o.maxWaitMs ?? 500);
    (consumer as unknown as ConsumeTuning).setDefaultIsTimeoutOnlyForFirstMessage(true);
    consumer.subscribe([...o.topics]);
    return consumer;
  }

  /** Stops fetching partitions (from the next poll: a batch of theirs already polled is still handed out). */
  pause(partitions: readonly PartitionRef[]): void {
    this.#ops.push({ kind: 'pause', partitions: [...partitions] });
  }

  /** Resumes fetching partitions, after the seeks asked for before. */
  resume(partitions: readonly PartitionRef[]): void {
    this.#ops.push({ kind: 'resume', partitions: [...partitions] });
  }

  /** The next record handed out for the partition is the one at `offset`. */
  seek(topic: string, partition: number, offset: bigint): void {
    this.#ops.push({ kind: 'seek', topic, partition, offset });
  }

  /** Commits offsets (the next offset to read per partition) for the group; at-least-once consumers. */
  commit(offsets: ReadonlyArray<PartitionRef & { offset: bigint }>): Promise<void> {
    const consumer = this[GROUP_CONSUMER]() as unknown as ConsumeTuning;
    return new Promise<void>((resolve, reject) =>
      consumer.commitCb(
        offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: Number(o.offset) })),
        (err) => (err ? reject(kafkaError(err, 'committing offsets')) : resolve()),
      ),
    );
  }

  /**
   * The group's committed offsets of the partitions (the next offset to read; absent: none), asked on
   * this member's own connection to the group coordinator — the one its assignment just came through —
   * and stable: a read_committed consumer waits out offsets of transactions still open.
   */
  committed(
    partitions: readonly PartitionRef[],
    timeoutMs: number,
  ): Promise<Map<string, Map<number, bigint>>> {
    const consumer = this[GROUP_CONSUMER]();
    return new Promise((resolve, reject) =>
      consumer.committed(
        partitions.map((p) => ({ topic: p.topic, partition: p.partition })),
        timeoutMs,
        (err, offsets) => {
          if (err) return reject(kafkaError(err, `reading the offsets of group ${this.#o.groupId}`));
          const out = new Map<string, Map<number, bigint>>();
          for (const o of offsets) {
            if (o.offset === undefined || o.offset < 0) continue;
            const byPartition = out.get(o.topic) ?? new Map<number, bigint>();
            out.set(o.topic, byPartition.set(o.partition, BigInt(o.offset)));
          }
          resolve(out);
        },
      ),
    );
  }

  /**
   * Stops polling, waits for the batches handed out, and closes. A static member does not leave the
   * group by closing (its partitions wait for it until the session times out, so that a restart takes
   * them back at once): `leave` takes it out explicitly (lib/kafka/leave-group.ts), so they move now.
   * A member fenced out by another with its instance id never leaves: the id is the other's now.
   */
  async disconnect(options: { leave?: boolean } = {}): Promise<void> {
    if (this.#stopping && this.#consumer === undefined) return;
    this.#stopping = true;
    await this.#loop?.catch(() => {});
    const consumer = this.#consumer;
    if (consumer === undefined) return;
    await this.#close(consumer);
    await this.#handlingRebalances;
    this.#consumer = undefined;
    const instance = this.#o.groupInstanceId;
    if (options.leave === true && instance !== undefined && this.#fatal === undefined) {
      await leaveGroup(this.#client, this.#o.groupId, instance).catch((err) =>
        this.#client.logger.warn(
          { err: kafkaError(err).message, group: this.#o.groupId, instance },
          'could not leave the group: its partitions move to the other members when the session times out',
        ),
      );
    }
  }

  /**
   * librdkafka's consumer is dead after a fatal error. One kind is survivable: a static member fenced
   * "by another consumer with the same group.instance.id" is, after its group coordinator moved, often
   * fenced by itself — its join was answered on a connection that broke, it joined again, and the new
   * coordinator took that join for a new owner of the id (apache/kafka#23542). So the member rejoins
   * with a new consumer (FencingWindow): always when it lost a broker connection shortly before, else
   * once per FENCING_WINDOW_MS — fenced again within it on a cluster that did not move, another process
   * really holds the id, and that is fatal (the older of two processes sharing an id stops).
   */
  #onFatalError(err: KafkaError): Promise<void> {
    this.#fatalDecision ??= this.#decideOnFatal(err);
    return this.#fatalDecision;
  }

  async #decideOnFatal(err: KafkaError): Promise<void> {
    if (this.#rejoin !== undefined || this.#fatal !== undefined) return;
    let cause = err;
    if (err.code === code('ERR__FATAL')) {
      // The log line and the error travel separately: give the line a moment to arrive.
      for (let waited = 0; this.#fatalReason === undefined && waited < 1_000; waited += 50) await sleep(50);
      if (this.#fatalReason !== undefined)
        cause = new KafkaError(this.#fatalReason, { code: err.code, fatal: true, cause: err });
    }
    if (this.#o.groupInstanceId !== undefined && isInstanceFenced(cause) && this.#fencing.mayRejoin()) {
      this.#rejoin = cause;
      return;
    }
    this.#onFatal(cause);
  }

  /**
   * Replaces the fenced consumer: its partitions are lost (the group gave them away), then it joins
   * anew. Called again until the new consumer connects: the broker may be away (the fencing comes with
   * a restart), and a member that gave up then would stop for good.
   */
  async #rejoinGroup(): Promise<void> {
    const old = this.#consumer;
    if (old !== undefined) {
      await this.#settleRunning();
      const lost = this.#assigned;
      this.#client.logger.warn(
        { group: this.#o.groupId, instance: this.#o.groupInstanceId, err: this.#rejoin!.message },
        'fenced out of the group by a member with this instance id (itself, after the coordinator moved, or another process): joining again with a new consumer; fenced again soon is fatal',
      );
      this.#consumer = undefined;
      await this.#close(old);
      this.#assigned = [];
      this.#ops = [];
      this.#paused.clear();
      this.#rebalances = [];
      if (lost.length > 0) {
        try {
          await this.#o.onRevoked?.(lost, true);
        } catch (revokeErr) {
          this.#client.logger.error({ err: revokeErr }, 'handling revoked partitions failed');
        }
      }
      this.#fatalReason = undefined;
    }
    this.#consumer = await this.#open();
    this.#rejoin = undefined;
    this.#fatalDecision = undefined;
  }

  /**
   * Closes a librdkafka consumer, waiting at most CLOSE_TIMEOUT_MS: its close runs on a thread of the
   * pool and can block for good (a fenced consumer whose coordinator is away), which would stop this
   * member's loop — its rejoin, or its stop — with it. Left behind, it keeps that thread.
   */
  #close(consumer: KafkaConsumer): Promise<void> {
    return new Promise<void>((resolve) => {
      const stuck = setTimeout(() => {
        this.#client.logger.warn(
          { group: this.#o.groupId, instance: this.#o.groupInstanceId },
          'a consumer did not close in time; leaving it behind',
        );
        resolve();
      }, CLOSE_TIMEOUT_MS);
      stuck.unref();
      consumer.disconnect(() => {
        clearTimeout(stuck);
        resolve();
      });
    });
  }

  #onFatal(err: KafkaError): void {
    if (this.#fatal !== undefined) return;
    this.#fatal = err;
    this.#stopping = true;
    this.#o.onFatal?.(err);
  }

  /**
   * Called by librdkafka during a poll (or a close). The assignment changes between polls only, so
   * that every poll's records belong to one assignment: the event waits for the loop, unless the loop
   * has ended (a close), when it is handled at once.
   */
  #onRebalance(err: unknown, assignment: TopicPartition[]): void {
    const error = kafkaError(err);
    const partitions = assignment.map((a) => ({ topic: a.topic, partition: a.partition }));
    if (error.code === code('ERR__ASSIGN_PARTITIONS')) this.#rebalances.push({ kind: 'assign', partitions });
    else if (error.code === code('ERR__REVOKE_PARTITIONS'))
      this.#rebalances.push({ kind: 'revoke', partitions });
    else {
      this.#client.logger.warn({ code: error.type }, `rebalance failed: ${error.message}`);
      return;
    }
    if (!this.#looping)
      this.#handlingRebalances = this.#handlingRebalances.then(() => this.#handleRebalances());
  }

  async #handleRebalances(): Promise<void> {
    const consumer = this.#consumer;
    while (consumer !== undefined && this.#rebalances.length > 0) {
      const event = this.#rebalances.shift()!;
      if (event.kind === 'revoke') {
        let lost = false;
        try {
          lost = (consumer as unknown as ConsumeTuning).assignmentLost();
        } catch {
          // closing
        }
        try {
          await this.#o.onRevoked?.(event.partitions, lost);
        } catch (err) {
          this.#client.logger.error({ err }, 'handling revoked partitions failed');
        }
        this.#assigned = [];
        // Pauses, resumes and seeks asked for the old assignment mean nothing for the next one.
        this.#ops = [];
        this.#paused.clear();
        try {
          consumer.unassign();
        } catch {
          // Already unassigned by a close that did not wait for us.
        }
        continue;
      }
      const plan = this.#stopping ? undefined : this.#o.onAssigned?.(event.partitions);
      const starts = new Map((plan?.offsets ?? []).map((o) => [key(o.topic, o.partition), o.offset]));
      try {
        consumer.assign(
          event.partitions.map((p) => {
            const offset = starts.get(key(p.topic, p.partition));
            return offset === undefined ? p : { ...p, offset: Number(offset) };
          }),
        );
        this.#assigned = event.partitions;
        if (plan?.paused !== undefined && plan.paused.length > 0) {
          consumer.pause([...plan.paused]);
          for (const p of plan.paused) this.#paused.add(key(p.topic, p.partition));
        }
      } catch (assignErr) {
        this.#client.logger.warn({ err: kafkaError(assignErr).message }, 'assigning partitions failed');
      }
    }
  }

  async #run(): Promise<void> {
    const concurrency = Math.max(1, this.#o.concurrency ?? 1);
    let backoff = 100;
    while (!this.#stopping) {
      if (this.#rejoin !== undefined) {
        try {
          await this.#rejoinGroup();
          backoff = 100;
        } catch (err) {
          const e = kafkaError(err, 'joining the group again');
          if (e.fatal) {
            this.#onFatal(e);
            break;
          }
          this.#client.logger.warn(
            { group: this.#o.groupId, err: e.message, retryInMs: backoff },
            'could not join the group again yet; retrying',
          );
          await sleep(backoff);
          backoff = Math.min(backoff * 2, 5_000);
        }
        continue;
      }
      // A rebalance waits for every batch handed out (onRevoked may finish their work).
      if (this.#rebalances.length > 0) await this.#settleRunning();
      await this.#handleRebalances();
      await this.#applyOps();
      if (this.#runningError !== undefined) throw this.#runningError;
      let messages: Message[];
      try {
        messages = await this.#consume();
        backoff = 100;
      } catch (err) {
        const e = kafkaError(err);
        if (e.fatal) {
          await this.#onFatalError(e);
          if (this.#rejoin !== undefined) continue;
          break;
        }
        this.#client.logger.debug({ code: e.type }, `consume: ${e.message}`);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5_000);
        continue;
      }
      if (messages.length > 0) await this.#handOut(this.#batches(messages), concurrency);
    }
    await this.#settleRunning();
  }

  /**
   * Hands a poll's batches out and waits for them — at most a quarter of the poll interval: a batch
   * still running then goes on without the loop, its partition paused until it settles.
   */
  async #handOut(batches: ConsumedBatch[], concurrency: number): Promise<void> {
    const settled = new Array<boolean>(batches.length).fill(false);
    const handling = limited(batches, concurrency, (batch) => this.#o.eachBatch(batch)).map((p, i) =>
      p.then(() => {
        settled[i] = true;
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      Promise.all(handling).then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), this.#waitForBatchesMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (waited) return;
    const left = batches.filter((_, i) => !settled[i]);
    const partitions = left.map((b) => ({ topic: b.topic, partition: b.partition }));
    try {
      this.#consumer!.pause(partitions);
    } catch {
      // no longer assigned
    }
    // Info, not debug: rare (a batch waiting ten seconds or more), and what to read when a partition stalls.
    this.#client.logger.info(
      { group: this.#o.groupId, partitions: partitions.map((p) => p.partition) },
      'batches still running after a quarter of the poll interval: polling on, their partitions paused',
    );
    for (const [i, batch] of batches.entries()) {
      if (settled[i]) continue;
      const partition = { topic: batch.topic, partition: batch.partition };
      this.#busy.add(key(batch.topic, batch.partition));
      const running: Promise<void> = handling[i]!.catch((err) => {
        this.#runningError ??= err;
      }).finally(() => {
        this.#client.logger.info(
          { group: this.#o.groupId, partition: batch.partition },
          'a batch the poll went on without has settled: its partition resumes unless paused',
        );
        this.#busy.delete(key(batch.topic, batch.partition));
        this.#ops.push({ kind: 'settled', partitions: [partition] });
        this.#running.delete(running);
      });
      this.#running.add(running);
    }
  }

  get #waitForBatchesMs(): number {
    return Math.max(1_000, (this.#o.rebalanceTimeoutMs ?? 60_000) / 4);
  }

  /**
   * Waits for the batches the loop stopped waiting for — at most a quarter of the poll interval too: a
   * rebalance, a rejoin or a stop that waited for a batch stuck on an absent coordinator would stop
   * the member with it. A batch still running afterwards cannot commit in the new generation (its
   * offsets carry the old one, which the coordinator refuses); its partition resumes when it settles,
   * unless paused by the caller.
   */
  async #settleRunning(): Promise<void> {
    if (this.#running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const settled = (async () => {
      while (this.#running.size > 0) await Promise.all(this.#running);
    })();
    await Promise.race([
      settled,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#waitForBatchesMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  #consume(): Promise<Message[]> {
    const consumer = this.#consumer!;
    return new Promise<Message[]>((resolve, reject) =>
      consumer.consume(this.#o.maxRecordsPerPoll ?? 10_000, (err, messages) =>
        err ? reject(err) : resolve(messages),
      ),
    );
  }

  /** A poll's records as batches per partition, in offset order. */
  #batches(messages: readonly Message[]): ConsumedBatch[] {
    const byPartition = new Map<string, ConsumedBatch>();
    for (const m of messages) {
      const k = key(m.topic, m.partition);
      let batch = byPartition.get(k);
      if (batch === undefined) {
        batch = { topic: m.topic, partition: m.partition, records: [], highWatermark: undefined };
        byPartition.set(k, batch);
      }
      batch.records.push(toRecord(m));
    }
    const batches = [...byPartition.values()];
    for (const batch of batches) {
      try {
        batch.highWatermark = BigInt(
          this.#consumer!.getWatermarkOffsets(batch.topic, batch.partition).highOffset,
        );
      } catch {
        // not known yet
      }
    }
    return batches;
  }

  /** Pauses, resumes and seeks, in the order they were asked for, between two polls. */
  async #applyOps(): Promise<void> {
    const consumer = this.#consumer!;
    const ops = this.#ops;
    this.#ops = [];
    for (const op of ops) {
      try {
        if (op.kind === 'seek') {
          // The binding seeks on a worker thread: wait for it, so that neither the resume that
          // follows nor the next poll can see records from the old position.
          await new Promise<void>((resolve) =>
            consumer.seek(
              { topic: op.topic, partition: op.partition, offset: Number(op.offset) },
              10_000,
              (err) => {
                if (err)
                  this.#client.logger.debug(
                    { err: kafkaError(err).message, topic: op.topic, partition: op.partition },
                    'seek failed',
                  );
                resolve();
              },
            ),
          );
        } else if (op.kind === 'pause') {
          for (const p of op.partitions) this.#paused.add(key(p.topic, p.partition));
          consumer.pause(op.partitions.map((p) => ({ topic: p.topic, partition: p.partition })));
        } else {
          // resume: the caller's pause ends; settled: a running batch's does. A partition resumes when
          // neither holds it.
          for (const p of op.partitions)
            if (op.kind === 'resume') this.#paused.delete(key(p.topic, p.partition));
          const free = op.partitions.filter(
            (p) => !this.#paused.has(key(p.topic, p.partition)) && !this.#busy.has(key(p.topic, p.partition)),
          );
          if (free.length > 0) consumer.resume(free.map((p) => ({ topic: p.topic, partition: p.partition })));
        }
      } catch (err) {
        // A partition no longer assigned (a rebalance raced the request): nothing to do for it.
        this.#client.logger.debug(
          { err: kafkaError(err).message, op: op.kind },
          'partition operation skipped',
        );
      }
    }
  }
}
