/**
 * What a processor is. A processor is a module whose default export is a ProcessorDefinition: a name,
 * the topics it reads and writes, a config spec, and pure functions of (input record, state) that emit
 * output records. Everything else — consumer group, Avro, batching, keyed state that survives restarts,
 * exactly-once output through Kafka transactions, dead letters, rebalances, metrics, isolation — is the
 * host's job (processors/runtime/host.ts), written once.
 *
 *   export default defineProcessor({
 *     name: 'slow-requests',
 *     description: 'Spans slower than a threshold, to their own topic',
 *     inputs: ['spans'],
 *     outputs: [SLOW_TOPIC],
 *     config: s.object({ thresholdMs: s.number({ doc: 'Threshold.', default: 500, min: 0 }) }, { doc: '...' }),
 *     process(record, ctx) {
 *       const span = record.value;
 *       if (Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e6 > ctx.config.thresholdMs) {
 *         ctx.emit(SLOW_TOPIC, record.key, span);
 *       }
 *     },
 *   });
 *
 * State lives in named stores of declared types (`stores`: `ctx.stores.<name>.get(key)` returns the
 * declared type, no casts).
 *
 * Handlers are synchronous and deterministic given (record, stores, config, ctx.now()): all effects go
 * through the context (store writes and emits), so the host can make them atomic with the input offsets
 * and tests can call them directly with an in-memory context (processors/runtime/test-context.ts).
 */
import type { Fields, InferFields, ObjectSpec } from '../../lib/config/spec.ts';
import type { Logger } from '../../lib/logger.ts';
import type { InputRecord } from '../../runtime/input-record.ts';
import type { TopicRef, ValueOf } from '../../runtime/topic-ref.ts';
import type { StateCodec } from './state-codec.ts';
import type { StoreTypes, StoreValue } from './store-types.ts';

// What a handler sees and how it names topics are the runtime core's (runtime/), shared with sinks;
// re-exported so a processor module imports its whole contract from here.
export type { InputRecord, StateCodec, TopicRef, ValueOf };

/**
 * One state store of the input partition being processed: keys (strings) to values of the store's
 * declared type (`stores` in the definition, store-types.ts). Every change is written to the processor's
 * changelog topic in the same transaction as the outputs and the input offsets, so after a crash,
 * restart or rebalance the state is exactly what the committed outputs imply. Each store is its own key
 * space: the same key in two stores is two entries.
 *
 * By default (`stateAccess: 'copy'`) values are kept encoded (as they are on the changelog): `get`
 * returns a fresh copy and `set` encodes the value when called, so changing an object after `get` or
 * `set` changes nothing until it is `set` again. That is what lets the host discard exactly the
 * changes of a call that threw.
 *
 * With `stateAccess: 'live'` values are kept decoded: `get` returns the object the store holds (the
 * same one each time), the handler changes it in place or replaces it, and `set` marks the key
 * changed. Changed keys are encoded once per transaction, when it is written. Every change must be
 * followed by `set` (or `delete`) before the call returns: a change made without it stays in memory
 * but never reaches the changelog, so a restart would not see it. A call that throws is still undone
 * exactly (the runtime rebuilds the unit of work, see partition-task.ts).
 */
export interface PartitionState<S> {
  /** A decoded copy of the value (`live`: the value itself), or undefined. */
  get(key: string): S | undefined;
  /**
   * Stores the value as it is now (encoded immediately; throws if the codec cannot encode it). `live`:
   * marks the key changed, the value is encoded when the transaction is written.
   */
  set(key: string, value: S): void;
  delete(key: string): void;
  has(key: string): boolean;
  /** A snapshot of the keys: deleting or setting while iterating is safe. */
  keys(): IterableIterator<string>;
  readonly size: number;
}

/** The stores of a definition, by name, each typed with its value type. */
export type Stores<St extends StoreTypes> = { readonly [K in keyof St]: PartitionState<StoreValue<St[K]>> };

export interface ProcessorContext<C, St extends StoreTypes = StoreTypes> {
  readonly config: C;
  /** Name of this processor. */
  readonly processor: string;
  /** The input partition this call belongs to (the scope of `stores`). */
  readonly partition: number;
  /** The partition's state, one store per name declared in the definition's `stores`. */
  readonly stores: Stores<St>;
  /** Emits a record to one of the declared outputs. */
  emit(topic: TopicRef, key: string | null, value: unknown, headers?: Record<string, string>): void;
  /**
   * Emits a value already encoded with the output's schema (the Confluent wire format, as the output's
   * codec writes it): for a handler that passes records through with a few fields changed and writes
   * their bytes itself (schemas/record-splice.ts) instead of decoding and encoding each one. The bytes
   * are not decoded here, so for a batched output the key must be the value's own key field, as `emit`
   * checks; the test contexts decode every such value and check it.
   */
  emitEncoded(topic: TopicRef, key: string | null, value: Buffer, headers?: Record<string, string>): void;
  /** Wall-clock time in ms (from the host, so tests control it). */
  now(): number;
  /** Adds to a processor-specific counter, exported with the pipeline-health metrics. */
  count(name: string, by?: number): void;
  readonly logger: Logger;
}

/**
 * A changelog record written before the processor declared its stores (one key space, no store name),
 * as it belongs in the stores now: which store, which key, which value. `undefined`: nothing (dropped).
 */
export type LegacyEntry<St extends StoreTypes> = {
  [K in keyof St]: { store: K; key: string; value: StoreValue<St[K]> };
}[keyof St];

export interface ProcessorDefinition<
  F extends Fields = Fields,
  St extends StoreTypes = StoreTypes,
  I extends TopicRef = TopicRef,
> {
  /** Unique, kebab-case: also the consumer group (`meshpipe-<name>`) and the config section. */
  name: string;
  description: string;
  inputs: readonly I[];
  outputs: readonly TopicRef[];
  /** Config under `processors.<name>` in meshpipe.json; validated, errors name the key. */
  config: ObjectSpec<F>;
  /**
   * Avro schemas (.avsc files) of the processor's own topics, e.g.
   * `[new URL('./my-output.avsc', import.meta.url)]`; a topic definition names one by its file name
   * (without `.avsc`) or full name. meshpipe's own schemas (schemas/*.avsc) need no listing.
   */
  schemas?: ReadonlyArray<URL | string>;
  /**
   * The partition state: store name → the type of its values (store-types.ts: `avroStore<T>(schema)`,
   * or `jsonStore<T>()`), handed to the handlers as `ctx.stores.<name>`. Each store is its own key space
   * on the changelog (the store name is part of every changelog key). Names are camelCase or kebab-case.
   */
  stores?: St;
  /**
   * How to read a changelog record written by a release of the processor from before `stores` (no
   * store name on it): its key and value bytes → the store entry it is now. Restoring calls it once per
   * such record; the entry is written under its store at the next transaction and the old key deleted.
   * A record it throws on is dead-lettered (PROCESSOR_STATE_UNREADABLE) and deleted from the changelog.
   */
  legacyState?: (key: string, value: Buffer) => LegacyEntry<St> | undefined;
  /**
   * `copy` (default): `get` returns a decoded copy and `set` encodes at once. `live`: the
   * handler works on the stored objects themselves and `set` marks them changed; each changed key is
   * encoded once per transaction. For a handler that reads and rewrites the same keys record after
   * record, `live` saves a decode and an encode per record; see `PartitionState` for its rule.
   */
  stateAccess?: 'copy' | 'live';
  /** Called for each input record, in partition order. */
  process(record: InputRecord<ValueOf<I>>, ctx: ProcessorContext<InferFields<F>, St>): void;
  /**
   * Called per assigned partition every `intervalMs` of wall-clock time (window flushes, timeouts),
   * inside the same kind of transaction as `process`. In `meshpipe replay` the clock is the recording's.
   */
  punctuate?: {
    intervalMs: number | ((config: InferFields<F>) => number);
    run(ctx: ProcessorContext<InferFields<F>, St>): void;
  };
  /**
   * Where a new consumer group starts reading, unless `processors.<name>.startFrom` says otherwise
   * (default `earliest`). `latest` suits a processor whose input heals itself, where old records would
   * be counted again as new (anomaly-deltas: cumulative samples).
   */
  startFrom?: 'earliest' | 'latest';
  /** Enabled in `meshpipe up` unless configured otherwise (default true). */
  enabledByDefault?: boolean;
}

/**
 * A definition of any config, state and input types: what the host, the registry and the in-memory
 * runner accept. (A definition's handler types are contravariant in its config and state, so a
 * specific definition is not a `ProcessorDefinition` with the default type arguments.)
 */
// biome-ignore lint/suspicious/noExplicitAny: the host runs definitions of every type
export type AnyProcessorDefinition = ProcessorDefinition<any, any, any>;

/** Identity function that gives a processor module its types. */
export function defineProcessor<F extends Fields, St extends StoreTypes, I extends TopicRef>(
  definition: ProcessorDefinition<F, St, I>,
): ProcessorDefinition<F, St, I> {
  return definition;
}
