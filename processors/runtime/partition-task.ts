/**
 * The work of one processor on one input partition, without Kafka: decode a record, call the handler
 * with a context, keep what the call emitted and changed if it returned, dead-letter the record (and
 * forget the call's changes) if it threw. What accumulates between two commits is a unit of work —
 * outputs, dead letters, state changes — that the Kafka host writes in one transaction
 * (processors/runtime/host.ts), `meshpipe replay` prints (in-memory-runner.ts), and unit tests inspect
 * (test-context.ts). All three therefore run handlers exactly the same way.
 *
 *   record ─decode─► handler(record, ctx) ──returned──► call changes join the unit of work
 *      │                                  └──threw────► call changes dropped, dead letter joins it
 *      └─undecodable──────────────────────────────────► dead letter joins it
 *
 * A record too large for its topic (message-size.ts) is a failure of the call that made it: an emit or
 * a state `set` that could never be written throws there, so it is dead-lettered like a throw.
 *
 * With `stateAccess: 'live'` (state-store.ts) a handler changes state objects in place, so a call that
 * threw cannot have its changes dropped one by one. The task then rebuilds the unit of work: it rolls
 * the state back to the last commit, forgets the unit's outputs, and runs the unit's calls again —
 * the records it kept, the punctuation — with the store in strict mode (an undo log per call, values
 * encoded at `set`), so the failing call, and any other, ends exactly as in copy mode. The same
 * happens when a changed value cannot be encoded, or is too large, at commit time. Failures are rare; the records of a
 * unit are kept until it commits either way.
 */
import { ERRORS, errorMessage, MeshpipeError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { asRecordError, deadLetterOf, type FailedItem } from '../../runtime/dead-letter.ts';
import type { SourceRecord } from '../../runtime/input-record.ts';
import { type Codec, schemaIdOfRecord } from '../../schemas/codec.ts';
import type { TopicCodec } from '../../schemas/topic-codec.ts';
import type { AnyProcessorDefinition, InputRecord, ProcessorContext, TopicRef } from './definition.ts';
import {
  DEFAULT_LIMITS,
  fitsAlone,
  type MessageSizeLimits,
  RECORD_BATCH_OVERHEAD,
  recordBytes,
} from './message-size.ts';
import { type ChangelogChanges, PartitionStores } from './partition-stores.ts';
import type { ProcessorTopics, ResolvedTopic } from './processor-topics.ts';
import type { StateAccess } from './state-store.ts';
import type { StoreTypes } from './store-types.ts';

/**
 * A record to produce: an output or a dead letter, already encoded. An output to a batched topic is one
 * value here, encoded with the item schema; the Kafka host packs the values of each partition into batch
 * records when it writes the transaction (output-batches.ts), which is where `partition` gets set.
 */
export interface OutgoingRecord {
  /** Full topic name. */
  topic: string;
  key: string | Buffer | null;
  value: Buffer;
  headers: Record<string, string>;
  /** Set for batch records: the partition their values' keys hash to. */
  partition?: number;
}

/** Everything since the last commit or abort: what one transaction writes. */
export interface UnitOfWork {
  /** Outputs and dead letters, in the order they happened. */
  records: OutgoingRecord[];
  /** Changelog records: `<store>/<key>` → the store and the encoded value (null for a delete). */
  changes: ChangelogChanges;
  /** Input records consumed, by topic (dead-lettered ones included). */
  consumed: Map<string, number>;
  /** Output records, by topic (dead letters not included). */
  produced: Map<string, number>;
  /** Dead letters, by source topic and error code. */
  deadLetters: Array<{ topic: string; code: string }>;
  /** `ctx.count()` totals of the calls that returned. */
  counts: Map<string, number>;
  punctuateFailures: number;
}

export interface PartitionTaskOptions<C> {
  definition: AnyProcessorDefinition;
  config: C;
  partition: number;
  topics: ProcessorTopics;
  /** Wall-clock ms: Date.now in production, the recording's clock in replay, a test's clock in tests. */
  now: () => number;
  logger: Logger;
  /** Called with the duration of every handler call (seconds). */
  observe?: (kind: 'process' | 'punctuate', seconds: number) => void;
  /** The largest record each topic takes (the host reads them from the brokers); default 1 MB. */
  limits?: MessageSizeLimits;
  /**
   * Decode every value a handler emits already encoded (`emitEncoded`) and check it as `emit` checks a
   * value: the test contexts do, so a handler that writes its bytes itself is held to what `emit` is.
   */
  checkEncodedEmits?: boolean;
}

function add(map: Map<string, number>, key: string, by: number): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

/** The punctuation interval of a definition under a config, validated. */
export function punctuateIntervalMs(definition: AnyProcessorDefinition, config: unknown): number | undefined {
  const punctuate = definition.punctuate;
  if (punctuate === undefined) return undefined;
  const interval =
    typeof punctuate.intervalMs === 'function'
      ? (punctuate.intervalMs as (c: unknown) => number)(config)
      : punctuate.intervalMs;
  if (typeof interval !== 'number' || !Number.isFinite(interval) || interval <= 0) {
    throw new MeshpipeError(ERRORS.PROCESSOR_INVALID_DEFINITION, [
      definition.name,
      `punctuate.intervalMs must be a positive number of milliseconds, got ${String(interval)}`,
    ]);
  }
  return interval;
}

// Dead letters and punctuate failures are counted in metrics; the log gets one line per error code a
// minute, so a stream of poison records cannot flood it.
const LOG_EVERY_MS = 60_000;

/** A call of the unit of work, kept in live mode to run it again (see the file comment). */
type UnitCall =
  | { kind: 'source'; source: SourceRecord }
  | { kind: 'decoded'; record: InputRecord }
  | { kind: 'punctuate' };

/** A fast live call failed: the unit of work must be rebuilt. */
const REBUILD = Symbol('rebuild');

/** The state access of a definition, validated. */
export function stateAccessOf(definition: AnyProcessorDefinition): StateAccess {
  const access = definition.stateAccess ?? 'copy';
  if (access !== 'copy' && access !== 'live') {
    throw new MeshpipeError(ERRORS.PROCESSOR_INVALID_DEFINITION, [
      definition.name,
      `stateAccess must be "copy" or "live", got ${JSON.stringify(access)}`,
    ]);
  }
  return access;
}

export class PartitionTask<C = unknown, St extends StoreTypes = StoreTypes> {
  readonly partition: number;
  /** The partition's stores: the changelog's view of them (restore, changes, commit). */
  readonly state: PartitionStores;
  readonly context: ProcessorContext<C, St>;
  readonly #options: PartitionTaskOptions<C>;
  readonly #definition: AnyProcessorDefinition;
  #work: UnitOfWork;
  // What the call in progress did; joins #work only if the call returns.
  #callRecords: OutgoingRecord[] = [];
  readonly #callProduced = new Map<string, number>();
  readonly #callCounts = new Map<string, number>();
  readonly #lastLogged = new Map<string, number>();
  readonly #live: boolean;
  /** Live mode: the calls of the unit of work so far. */
  #unit: UnitCall[] = [];
  /** Live mode: the unit of work is being rebuilt (calls run strict, not recorded, not observed). */
  #rebuilding = false;
  readonly #limits: MessageSizeLimits;
  /**
   * Dead letters of changelog records that could not be restored: not the work of a call, so an abort
   * or a rebuild keeps them (with the changelog deletions the stores keep) until a transaction commits.
   */
  #restoreLetters: Array<{ record: OutgoingRecord; letter: UnitOfWork['deadLetters'][number] }> = [];

  constructor(options: PartitionTaskOptions<C>) {
    this.#options = options;
    this.#definition = options.definition;
    this.partition = options.partition;
    const access = stateAccessOf(options.definition);
    this.#live = access === 'live';
    this.#limits = options.limits ?? DEFAULT_LIMITS;
    this.state = new PartitionStores({
      definition: options.definition,
      access,
      check: (key, value) =>
        this.#checkSize('the changelog', `state key ${key}`, this.#limits.changelog(), key, value),
      // A changelog record that cannot be restored: dead-lettered, with the reason, in the next transaction.
      unreadable: (source, error) => {
        this.#deadLetter(source, error);
        this.#restoreLetters.push({
          record: this.#work.records.at(-1)!,
          letter: this.#work.deadLetters.at(-1)!,
        });
      },
    });
    this.#work = emptyWork();
    const logger = options.logger.child({ partition: options.partition });
    this.context = {
      config: options.config,
      processor: options.definition.name,
      partition: options.partition,
      stores: this.state.view as ProcessorContext<C, St>['stores'],
      emit: (topic, key, value, headers) => this.#emit(topic, key, value, headers),
      emitEncoded: (topic, key, value, headers) => this.#emitEncoded(topic, key, value, headers),
      now: options.now,
      count: (name, by = 1) => add(this.#callCounts, name, by),
      logger,
    };
  }

  /** Decodes and processes one record (each value of a batch). Returns the error code when it, or one of its values, was dead-lettered. */
  process(source: SourceRecord): string | undefined {
    if (!this.#live) return this.#process(source) as string | undefined;
    if (!this.#rebuilding) this.#unit.push({ kind: 'source', source });
    const result = this.#process(source);
    return result === REBUILD ? (this.#rebuild() as string | undefined) : result;
  }

  #process(source: SourceRecord): string | undefined | typeof REBUILD {
    const input = this.#options.topics.input(source.topic);
    if (input === undefined) {
      // The consumer only delivers subscribed topics: this is a bug in the caller, not a bad record.
      throw new Error(`${source.topic} is not an input of processor ${this.#definition.name}`);
    }
    let values: unknown[];
    try {
      if (source.value === null) {
        throw new MeshpipeError(ERRORS.SCHEMA_NOT_WIRE_FORMAT, ['the record has no value (a tombstone)']);
      }
      values = input.values.decodeRecord(source.value);
    } catch (err) {
      add(this.#work.consumed, source.topic, 1);
      return this.#deadLetter(source, err);
    }
    // Counted in values: a batch of a thousand events is a thousand in the rates users see.
    add(this.#work.consumed, source.topic, values.length);
    // A batch record (topics.ts `batch`): one handler call per value, each value keyed as a record of
    // its own would be; a call that throws sets that value aside alone (dead-lettered with its index).
    const batched = input.values.batchSchema !== null && values.length > 0;
    const sourceKey = source.key === null ? null : source.key.toString('utf8');
    let result: string | undefined;
    for (let index = 0; index < values.length; index++) {
      const value = values[index];
      const record: InputRecord = {
        topic: source.topic,
        input: input.ref,
        partition: source.partition,
        offset: source.offset,
        index,
        key: batched ? input.values.keyOf(value) : sourceKey,
        timestampMs: source.timestampMs,
        headers: source.headers,
        value,
      };
      try {
        this.#call('process', () => this.#definition.process(record as never, this.context as never));
      } catch (err) {
        if (this.#live && !this.#rebuilding) return REBUILD;
        result = this.#deadLetter(source, err, batched ? this.#failedItem(input.codec, record) : undefined);
      }
    }
    return result;
  }

  /** A value of a batch that failed alone: its index, key and bytes as a record of the item schema. */
  #failedItem(codec: Codec<unknown>, record: InputRecord): FailedItem {
    let value: Buffer | null;
    try {
      value = codec.encode(record.value);
    } catch {
      // The handler left the value unencodable before it threw: the batch record itself (at the offset
      // the dead letter names) still holds it.
      value = null;
    }
    return { index: record.index, key: record.key === null ? null : Buffer.from(record.key), value };
  }

  /**
   * Calls the handler with a decoded record; what it throws propagates (test-context.ts), and the
   * caller then aborts the unit of work.
   */
  processDecoded(record: InputRecord): void {
    if (this.#live && !this.#rebuilding) this.#unit.push({ kind: 'decoded', record });
    add(this.#work.consumed, record.topic, 1);
    this.#call('process', () => this.#definition.process(record as never, this.context as never));
  }

  /**
   * The broker refused the outputs of this record's call (the host found it by committing the record
   * alone): the record is dead-lettered instead, without calling the handler again. The unit of work
   * must be empty (just aborted).
   */
  reject(source: SourceRecord, err: unknown): string {
    add(this.#work.consumed, source.topic, 1);
    return this.#deadLetter(
      source,
      new MeshpipeError(ERRORS.PROCESSOR_OUTPUT_REJECTED, [this.#definition.name, errorMessage(err)], {
        cause: err,
      }),
    );
  }

  /**
   * The broker refused a punctuation's transaction (it was aborted, and its changes with it): counted
   * and logged as a punctuate failure; the next interval runs it again.
   */
  punctuationRejected(err: unknown): void {
    this.#work.punctuateFailures++;
    const error = new MeshpipeError(
      ERRORS.PROCESSOR_OUTPUT_REJECTED,
      [this.#definition.name, errorMessage(err)],
      { cause: err },
    );
    if (this.#shouldLog(`punctuate:${error.code}`))
      this.context.logger.error({ err, code: error.code }, `punctuation discarded: ${error.message}`);
  }

  /**
   * Runs `punctuate` once. If it throws, its changes are dropped, the failure is counted and logged, and
   * it is returned (the next interval runs it again on the unchanged state).
   */
  punctuate(options: { rethrow?: boolean } = {}): MeshpipeError | undefined {
    const punctuate = this.#definition.punctuate;
    if (punctuate === undefined) return undefined;
    if (this.#live && !this.#rebuilding) this.#unit.push({ kind: 'punctuate' });
    try {
      this.#call('punctuate', () => punctuate.run(this.context as never));
    } catch (err) {
      if (options.rethrow === true) throw err;
      if (this.#live && !this.#rebuilding) return this.#rebuild() as MeshpipeError | undefined;
      this.#work.punctuateFailures++;
      const error = new MeshpipeError(
        ERRORS.PROCESSOR_PUNCTUATE_FAILED,
        [this.#definition.name, this.partition, errorMessage(err)],
        { cause: err },
      );
      if (this.#shouldLog(error.code)) this.context.logger.error({ err, code: error.code }, error.message);
      return error;
    }
    return undefined;
  }

  /**
   * Live mode: rolls the state back to the last commit and runs the unit's calls again in strict mode,
   * where a failing call is undone alone (and dead-lettered, or counted as a punctuate failure) as in
   * copy mode. Returns what the last call returned.
   */
  #rebuild(): string | MeshpipeError | undefined {
    const calls = this.#unit;
    this.state.abort();
    this.#work = this.#freshWork();
    this.#rebuilding = true;
    this.state.setStrict(true);
    let last: string | MeshpipeError | undefined;
    try {
      for (const call of calls) {
        if (call.kind === 'source') last = this.#process(call.source) as string | undefined;
        else if (call.kind === 'decoded') last = this.processDecoded(call.record) as undefined;
        else last = this.punctuate();
      }
    } finally {
      this.state.setStrict(false);
      this.#rebuilding = false;
    }
    return last;
  }

  /**
   * The unit of work since the last commit or abort. In live mode its state changes are encoded here;
   * a value that cannot be encoded makes the unit be rebuilt, which dead-letters the call that left it.
   */
  work(): UnitOfWork {
    if (!this.#live) {
      this.#work.changes = this.state.pendingChanges();
      return this.#work;
    }
    try {
      this.#work.changes = this.state.pendingChanges();
    } catch {
      this.#rebuild();
      this.#work.changes = this.state.pendingChanges();
    }
    return this.#work;
  }

  /** Whether a transaction would write anything (outputs, dead letters or state changes). */
  hasWrites(): boolean {
    return this.#work.records.length > 0 || this.state.hasChanges();
  }

  /** The unit of work was committed: its state changes become the committed state. */
  commit(): void {
    this.state.commit();
    this.#restoreLetters = [];
    this.#work = emptyWork();
    this.#unit = [];
  }

  /** The unit of work was aborted: state is back to the last commit, outputs are forgotten. */
  abort(): void {
    this.state.abort();
    this.#work = this.#freshWork();
    this.#unit = [];
  }

  /** An empty unit of work, but for the dead letters of a restore not committed yet. */
  #freshWork(): UnitOfWork {
    const work = emptyWork();
    for (const { record, letter } of this.#restoreLetters) {
      work.records.push(record);
      work.deadLetters.push(letter);
    }
    return work;
  }

  #call(kind: 'process' | 'punctuate', fn: () => void): void {
    // The clock only when someone observes: reading it costs about a tenth of a microsecond, per call.
    const observe = this.#rebuilding ? undefined : this.#options.observe;
    const started = observe === undefined ? 0 : performance.now();
    let ok = false;
    try {
      fn();
      ok = true;
    } finally {
      this.state.endCall(ok);
      if (ok) {
        const records = this.#callRecords;
        for (let i = 0; i < records.length; i++) this.#work.records.push(records[i]!);
        if (this.#callProduced.size > 0)
          for (const [topic, n] of this.#callProduced) add(this.#work.produced, topic, n);
        if (this.#callCounts.size > 0)
          for (const [name, n] of this.#callCounts) add(this.#work.counts, name, n);
      }
      if (this.#callRecords.length > 0) this.#callRecords = [];
      if (this.#callProduced.size > 0) this.#callProduced.clear();
      if (this.#callCounts.size > 0) this.#callCounts.clear();
      if (observe !== undefined) observe(kind, (performance.now() - started) / 1000);
    }
  }

  #output(ref: TopicRef): ResolvedTopic {
    const topics = this.#options.topics;
    const output = topics.output(ref);
    if (output === undefined) {
      const name =
        typeof ref === 'string' ? ref : ((ref as { suffix?: string } | null)?.suffix ?? String(ref));
      throw new MeshpipeError(ERRORS.PROCESSOR_UNDECLARED_OUTPUT, [
        this.#definition.name,
        name,
        topics.outputs.map((t) => t.name).join(', ') || 'none declared',
      ]);
    }
    return output;
  }

  #emit(ref: TopicRef, key: string | null, value: unknown, headers?: Record<string, string>): void {
    const output = this.#output(ref);
    if (output.values.batchSchema !== null)
      this.#checkBatchedEmit(output.name, output.values, key, value, headers);
    // Encoding here, not at commit time, makes a value that does not match its schema a failure of
    // this call (dead-lettered with SCHEMA_ENCODE_FAILED), not of the whole transaction.
    this.#push(output, key, output.codec.encode(value), headers);
  }

  #emitEncoded(ref: TopicRef, key: string | null, bytes: Buffer, headers?: Record<string, string>): void {
    const output = this.#output(ref);
    // Bytes of another schema (or another version of it) would be read as the wrong layout.
    const id = schemaIdOfRecord(bytes);
    if (id !== output.codec.schema.id) {
      throw new MeshpipeError(ERRORS.SCHEMA_ENCODE_FAILED, [
        output.codec.schema.fullName,
        `a value emitted encoded has schema id ${id}, the topic's is ${output.codec.schema.id}`,
      ]);
    }
    if (this.#options.checkEncodedEmits === true) {
      const value = output.codec.decode(bytes);
      if (output.values.batchSchema !== null)
        this.#checkBatchedEmit(output.name, output.values, key, value, headers);
    }
    this.#push(output, key, bytes, headers);
  }

  #push(output: ResolvedTopic, key: string | null, bytes: Buffer, headers?: Record<string, string>): void {
    // Measured here too: a record the topic can never take fails this call, not every transaction.
    const limit = this.#limits.topic(output.name);
    this.#checkSize(output.name, `key ${key}`, limit, key, bytes, headers);
    this.#callRecords.push({ topic: output.name, key, value: bytes, headers: headers ?? {} });
    add(this.#callProduced, output.name, 1);
  }

  /**
   * A batched topic's records carry values, not Kafka keys and headers: the value's own key field is its
   * key on the way out (it decides the partition) and on the way in (topics.ts `batch`), so an emit
   * whose key differs from it, or that brings headers, would lose something. It fails the call instead.
   */
  #checkBatchedEmit(
    topic: string,
    values: TopicCodec<unknown>,
    key: string | null,
    value: unknown,
    headers: Record<string, string> | undefined,
  ): void {
    const own = values.keyOf(value);
    if (own !== key) {
      throw new MeshpipeError(ERRORS.PROCESSOR_BATCHED_EMIT, [
        this.#definition.name,
        topic,
        `the key ${JSON.stringify(key)} is not the value's ${values.definition.batch!.key} (${JSON.stringify(own)})`,
      ]);
    }
    if (headers !== undefined && Object.keys(headers).length > 0) {
      throw new MeshpipeError(ERRORS.PROCESSOR_BATCHED_EMIT, [
        this.#definition.name,
        topic,
        `headers (${Object.keys(headers).join(', ')}) are not carried by batch records`,
      ]);
    }
  }

  #deadLetter(source: SourceRecord, err: unknown, item?: FailedItem): string {
    const error = asRecordError(this.#definition.name, err, ERRORS.PROCESSOR_HANDLER_FAILED);
    const letter = deadLetterOf(this.#definition.name, source, error, this.#options.now(), item);
    const dlq = this.#options.topics.dlq;
    let value = dlq.codec.encode(letter.value);
    const limit = this.#limits.topic(dlq.name);
    if (!fitsAlone(limit, recordBytes(letter.key, value, letter.headers))) {
      // The source record itself is too large for the dead-letter topic: keep the facts, not the bytes
      // (they are still in the source topic, at the offset the dead letter names).
      const omitted = letter.value.sourceValue?.length ?? 0;
      letter.value.sourceValue = null;
      letter.value.errorMessage += ` (the source value, ${omitted} bytes, is left out: the dead-letter topic takes at most ${limit} bytes)`;
      value = dlq.codec.encode(letter.value);
      if (!fitsAlone(limit, recordBytes(letter.key, value, letter.headers))) {
        letter.value.sourceKey = null;
        letter.key = null;
        value = dlq.codec.encode(letter.value);
      }
    }
    this.#work.records.push({ topic: dlq.name, key: letter.key, value, headers: letter.headers });
    this.#work.deadLetters.push({ topic: source.topic, code: error.code });
    if (this.#shouldLog(error.code)) {
      this.context.logger.warn(
        {
          code: error.code,
          topic: source.topic,
          offset: source.offset,
          ...(item === undefined ? {} : { index: item.index }),
          err: error.cause ?? error,
        },
        `dead-lettered a record: ${error.message}`,
      );
    }
    return error.code;
  }

  /** Throws PROCESSOR_RECORD_TOO_LARGE when a record for `topic` could never be written. */
  #checkSize(
    topic: string,
    what: string,
    limit: number,
    key: string | Buffer | null,
    value: Buffer,
    headers?: Record<string, string>,
  ): void {
    const bytes = recordBytes(key, value, headers);
    if (fitsAlone(limit, bytes)) return;
    throw new MeshpipeError(ERRORS.PROCESSOR_RECORD_TOO_LARGE, [
      this.#definition.name,
      RECORD_BATCH_OVERHEAD + bytes,
      topic,
      what.length > 80 ? `${what.slice(0, 80)}...` : what,
      limit,
    ]);
  }

  #shouldLog(code: string): boolean {
    const now = Date.now();
    const last = this.#lastLogged.get(code);
    if (last !== undefined && now - last < LOG_EVERY_MS) return false;
    this.#lastLogged.set(code, now);
    return true;
  }
}

function emptyWork(): UnitOfWork {
  return {
    records: [],
    // Collected from the stores by work().
    changes: new Map(),
    consumed: new Map(),
    produced: new Map(),
    deadLetters: [],
    counts: new Map(),
    punctuateFailures: 0,
  };
}
