/**
 * The topics of one processor, resolved under a topic prefix: full names and codecs of its inputs and
 * outputs, the shared dead-letter and metrics topics, and its own changelog. Custom topics of user
 * processors bring their own Avro schemas (`definition.schemas`), registered here into the process-wide
 * schema registry, so they are written in the same Confluent wire format as meshpipe's own topics.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERRORS, errorMessage, MeshpipeError } from '../../lib/errors.ts';
import type { AvroSchema } from '../../schemas/avro-types.ts';
import type { Codec } from '../../schemas/codec.ts';
import { type SchemaRegistry, schemaRegistry } from '../../schemas/registry.ts';
import { type TopicCodec, topicCodec } from '../../schemas/topic-codec.ts';
import { TOPICS, type TopicDefinition, topicName } from '../../schemas/topics.ts';
import type { AnyProcessorDefinition, TopicRef } from './definition.ts';

export interface ResolvedTopic {
  ref: TopicRef;
  definition: TopicDefinition;
  /** `<prefix>.<suffix>` */
  name: string;
  /** The codec of one value (a batched topic's item: what handlers see and emit). */
  codec: Codec<unknown>;
  /** Records and values: a batched topic's records hold many values (schemas/topic-codec.ts). */
  values: TopicCodec<unknown>;
}

function invalidDefinition(definition: { name?: string }, why: string): MeshpipeError {
  return new MeshpipeError(ERRORS.PROCESSOR_INVALID_DEFINITION, [definition.name ?? '(unnamed)', why]);
}

/** Registers the processor's own .avsc files (idempotent: a schema registers once per process). */
export function registerProcessorSchemas(
  definition: Pick<AnyProcessorDefinition, 'name' | 'schemas'>,
  registry: SchemaRegistry = schemaRegistry(),
): void {
  for (const entry of definition.schemas ?? []) {
    const path = entry instanceof URL ? fileURLToPath(entry) : entry;
    let schema: AvroSchema;
    try {
      schema = JSON.parse(readFileSync(path, 'utf8')) as AvroSchema;
    } catch (err) {
      throw invalidDefinition(definition, `schema ${path} cannot be read: ${errorMessage(err)}`);
    }
    const file = basename(path, '.avsc');
    let existing: ReturnType<SchemaRegistry['current']> | undefined;
    try {
      existing = registry.current(file);
    } catch {
      existing = undefined;
    }
    let registered: ReturnType<SchemaRegistry['register']>;
    try {
      registered = registry.register(schema, existing === undefined ? { file, current: true } : { file });
    } catch (err) {
      throw invalidDefinition(definition, `schema ${path} is not a valid Avro schema: ${errorMessage(err)}`);
    }
    // Two different schemas under one file name would make topic definitions ambiguous.
    if (existing !== undefined && existing.id !== registered.id) {
      throw invalidDefinition(
        definition,
        `schema ${path} is named "${file}", like the different schema ${existing.fullName}: rename the file`,
      );
    }
  }
}

export function resolveTopicRef(
  definition: Pick<AnyProcessorDefinition, 'name'>,
  ref: TopicRef,
  prefix: string,
): ResolvedTopic {
  let topic: TopicDefinition;
  if (typeof ref === 'string') {
    const known = (TOPICS as Record<string, TopicDefinition>)[ref];
    if (known === undefined) {
      throw invalidDefinition(
        definition,
        `topic "${ref}" is not a meshpipe topic (${Object.keys(TOPICS).join(', ')}); declare your own topics as TopicDefinition objects`,
      );
    }
    topic = known;
  } else if (ref !== null && typeof ref === 'object' && typeof ref.suffix === 'string') {
    topic = ref;
  } else {
    throw invalidDefinition(
      definition,
      `${JSON.stringify(ref)} is neither a topic id nor a topic definition`,
    );
  }
  let values: TopicCodec<unknown>;
  try {
    values = topicCodec(topic);
  } catch {
    throw invalidDefinition(
      definition,
      `topic ${topic.suffix} uses schema "${topic.batch?.item ?? topic.schema}", which is neither in schemas/ nor in the definition's \`schemas\``,
    );
  }
  return { ref, definition: topic, name: topicName(topic, prefix), codec: values.item, values };
}

export class ProcessorTopics {
  readonly inputs: readonly ResolvedTopic[];
  readonly outputs: readonly ResolvedTopic[];
  readonly dlq: ResolvedTopic;
  readonly metrics: ResolvedTopic;
  readonly #inputsByName: Map<string, ResolvedTopic>;
  readonly #outputsBySuffix: Map<string, ResolvedTopic>;
  readonly #outputsByName: Map<string, ResolvedTopic>;
  readonly #name: string;
  readonly #prefix: string;

  constructor(definition: AnyProcessorDefinition, prefix: string) {
    registerProcessorSchemas(definition);
    this.#name = definition.name;
    this.#prefix = prefix;
    this.inputs = definition.inputs.map((ref) => resolveTopicRef(definition, ref, prefix));
    this.outputs = definition.outputs.map((ref) => resolveTopicRef(definition, ref, prefix));
    this.dlq = resolveTopicRef(definition, 'dlq', prefix);
    this.metrics = resolveTopicRef(definition, 'metrics', prefix);
    this.#inputsByName = new Map(this.inputs.map((t) => [t.name, t]));
    this.#outputsBySuffix = new Map(this.outputs.map((t) => [t.definition.suffix, t]));
    this.#outputsByName = new Map(this.outputs.map((t) => [t.name, t]));
  }

  /** The output with this full name, if it carries batch records (schemas/topics.ts `batch`). */
  batchedOutput(name: string): ResolvedTopic | undefined {
    const topic = this.#outputsByName.get(name);
    return topic?.values.batchSchema === null ? undefined : topic;
  }

  input(name: string): ResolvedTopic | undefined {
    return this.#inputsByName.get(name);
  }

  /** The declared output a handler's `emit(topic, ...)` means: by id, or by the definition's suffix. */
  output(ref: TopicRef): ResolvedTopic | undefined {
    const suffix =
      typeof ref === 'string'
        ? (TOPICS as Record<string, TopicDefinition>)[ref]?.suffix
        : (ref as TopicDefinition | null)?.suffix;
    return suffix === undefined ? undefined : this.#outputsBySuffix.get(suffix);
  }

  /**
   * The changelog topic: compacted (the latest value per key is the state), one partition per input
   * partition (changelog partition N holds the state of input partition N), kept forever.
   */
  changelog(partitions: number): TopicDefinition & { name: string } {
    const definition: TopicDefinition = {
      suffix: `${this.#name}.changelog.v1`,
      schema: '(state codec)',
      key: 'state key; partition = the input partition the state belongs to',
      partitions,
      retentionMs: -1,
      cleanupPolicy: 'compact',
      description: `State of processor ${this.#name}: every change, written in the transaction of the outputs it caused.`,
      producedBy: this.#name,
      consumedBy: `${this.#name} (restore on partition assignment)`,
    };
    return { ...definition, name: topicName(definition, this.#prefix) };
  }
}
