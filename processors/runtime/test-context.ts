/**
 * Unit tests for processors: call the handler directly, in memory, with the same machinery the Kafka
 * host uses (partition-task.ts) — state through each store's codec, emits checked against the declared
 * outputs and encoded with their Avro schemas, config validated by the processor's spec — and a clock
 * the test controls. What passes here behaves the same on Kafka.
 *
 *   const t = testProcessor(slowRequests, { config: { thresholdMs: 100 } });
 *   const out = t.process(span);          // → [{ topic, key, value, headers }]
 *   t.advance(1_000);
 *   t.punctuate();
 *
 * Unlike the host, a handler that throws makes `process` throw (a test wants to see it), and nothing is
 * dead-lettered.
 */
import type { InferFields } from '../../lib/config/spec.ts';
import { createLogger } from '../../lib/logger.ts';
import { resolveProcessorSettings } from './config.ts';
import type {
  AnyProcessorDefinition,
  InputRecord,
  ProcessorContext,
  ProcessorDefinition,
  Stores,
  TopicRef,
} from './definition.ts';
import { PartitionTask } from './partition-task.ts';
import { ProcessorTopics, resolveTopicRef } from './processor-topics.ts';
import type { StoreTypes } from './store-types.ts';

export interface Emitted<V = unknown> {
  /** Full topic name (`meshpipe.<suffix>` unless another prefix was given). */
  topic: string;
  key: string | null;
  /** The value as a consumer decodes it from the topic. */
  value: V;
  headers: Record<string, string>;
}

export interface ProcessInput {
  /** Which input the record arrives on (default: the first). */
  input?: TopicRef;
  key?: string | null;
  headers?: Record<string, string>;
  /** Kafka timestamp (default: the test clock). */
  timestampMs?: number;
}

export interface ProcessorTest<C, S extends StoreTypes> {
  readonly context: ProcessorContext<C, S>;
  /** The partition's stores, as the handlers get them (`ctx.stores`). */
  readonly stores: Stores<S>;
  readonly config: C;
  now(): number;
  /** Moves the clock forward. */
  advance(ms: number): void;
  setTime(ms: number): void;
  /** Calls `process` with a record carrying `value`; returns what this call emitted. */
  process(value: unknown, input?: ProcessInput): Emitted[];
  /** Calls `punctuate` once at the current time; returns what it emitted. */
  punctuate(): Emitted[];
  /** Everything emitted so far, in order. */
  readonly emitted: readonly Emitted[];
  /** Totals of `ctx.count(...)`. */
  counters(): Record<string, number>;
}

export interface TestProcessorOptions {
  /** `processors.<name>` as it would appear in meshpipe.json; validated by the processor's spec. */
  config?: Record<string, unknown>;
  partition?: number;
  /** Start time, ms since the epoch (default 1_700_000_000_000). */
  now?: number;
  topicPrefix?: string;
}

// biome-ignore lint/suspicious/noExplicitAny: a test accepts any definition; its own types flow through C and S
export function testProcessor<D extends ProcessorDefinition<any, any, any>>(
  definition: D,
  options: TestProcessorOptions = {},
): ProcessorTest<ConfigOf<D>, StateOf<D>> {
  const prefix = options.topicPrefix ?? 'meshpipe';
  const { config } = resolveProcessorSettings(definition as AnyProcessorDefinition, {
    processors: { [definition.name]: options.config ?? {} },
  });
  const topics = new ProcessorTopics(definition as AnyProcessorDefinition, prefix);
  let clock = options.now ?? 1_700_000_000_000;
  const offsets = new Map<string, number>();
  const task = new PartitionTask<ConfigOf<D>, StateOf<D>>({
    definition: definition as AnyProcessorDefinition,
    config: config as ConfigOf<D>,
    partition: options.partition ?? 0,
    topics,
    now: () => clock,
    logger: createLogger({ component: `test/${definition.name}`, level: 'silent' }),
    checkEncodedEmits: true,
  });
  const emitted: Emitted[] = [];
  const counters: Record<string, number> = {};

  // Commits what the call did, like a transaction would, and hands back its outputs decoded.
  const settle = (): Emitted[] => {
    const work = task.work();
    const out = work.records.map((r) => {
      const topic = topics.outputs.find((t) => t.name === r.topic)!;
      return {
        topic: r.topic,
        key: r.key === null ? null : r.key.toString(),
        value: plain(topic.codec.decode(r.value)),
        headers: r.headers,
      };
    });
    for (const [name, n] of work.counts) counters[name] = (counters[name] ?? 0) + n;
    task.commit();
    emitted.push(...out);
    return out;
  };

  return {
    context: task.context,
    stores: task.context.stores,
    config: config as ConfigOf<D>,
    now: () => clock,
    advance(ms) {
      clock += ms;
    },
    setTime(ms) {
      clock = ms;
    },
    process(value, input = {}) {
      const topic = resolveTopicRef(definition, input.input ?? definition.inputs[0]!, prefix);
      const partition = options.partition ?? 0;
      const offset = offsets.get(topic.name) ?? 0;
      offsets.set(topic.name, offset + 1);
      const record: InputRecord = {
        topic: topic.name,
        input: topic.ref,
        partition,
        offset: String(offset),
        index: 0,
        key: input.key ?? null,
        timestampMs: input.timestampMs ?? clock,
        headers: input.headers ?? {},
        // Through the schema and back: a fixture that the topic could not carry fails here, and the
        // handler sees exactly what a consumer of the topic would.
        value: topic.codec.decode(topic.codec.encode(value)),
      };
      try {
        task.processDecoded(record);
      } catch (err) {
        task.abort();
        throw err;
      }
      return settle();
    },
    punctuate() {
      try {
        task.punctuate({ rethrow: true });
      } catch (err) {
        task.abort();
        throw err;
      }
      return settle();
    },
    emitted,
    counters: () => ({ ...counters }),
  };
}

/**
 * avsc decodes records into instances of generated classes; tests compare with object literals, which
 * deepStrictEqual tells apart by prototype. Same fields, plain objects.
 */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = plain(v);
  return out;
}

// biome-ignore lint/suspicious/noExplicitAny: matching any topic type parameter
type ConfigOf<D> = D extends ProcessorDefinition<infer F, any, any> ? InferFields<F> : never;
// biome-ignore lint/suspicious/noExplicitAny: matching any config and topic type parameters
type StateOf<D> = D extends ProcessorDefinition<any, infer St, any> ? St : never;
