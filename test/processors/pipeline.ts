/**
 * span-assembler → trace-linker over raw events, in memory, with the runtime's InMemoryPipeline (the
 * engine of `meshpipe replay --processor`): records are partitioned by key exactly as on Kafka, each
 * partition has its own state, the linker's trace-id questions and answers travel back through the
 * linking topic, and the clock is the record clock. What the spans topic receives is returned.
 */

// kafkajs's Java-compatible partitioner: an independent reference for where a key lands.
import { Partitioners } from 'kafkajs';
import { createLogger } from '../../lib/logger.ts';
import { resolveProcessorSettings } from '../../processors/runtime/config.ts';
import type { ProcessorDefinition } from '../../processors/runtime/definition.ts';
import { type InMemoryOutput, InMemoryPipeline } from '../../processors/runtime/in-memory-runner.ts';
import spanAssembler from '../../processors/span-assembler/index.ts';
import traceLinker from '../../processors/trace-linker/index.ts';
import { codecFor } from '../../schemas/codec.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { L7RawEvent, Span } from '../../schemas/types.ts';

const PREFIX = 'meshpipe';
const rawCodec = codecFor<L7RawEvent>('l7-raw-event');

export interface ChainResult {
  spans: Span[];
  outputs: InMemoryOutput[];
}

/** The partition a key lands on among `count` (Kafka's murmur2 partitioner, as the producers use). */
export function partitionOf(key: string, count: number): number {
  return Partitioners.DefaultPartitioner()({
    topic: 't',
    partitionMetadata: Array.from({ length: count }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
      partitionErrorCode: 0,
    })),
    message: { key, value: null },
  });
}

export function runChain(
  events: readonly L7RawEvent[],
  options: { assembler?: Record<string, unknown>; linker?: Record<string, unknown>; finishMs?: number } = {},
): ChainResult {
  const outputs: InMemoryOutput[] = [];
  const stage = (definition: ProcessorDefinition, config: Record<string, unknown> | undefined) => ({
    definition,
    config: resolveProcessorSettings(definition, { processors: { [definition.name]: config ?? {} } }).config,
  });
  const pipeline = new InMemoryPipeline({
    stages: [
      stage(spanAssembler as unknown as ProcessorDefinition, options.assembler),
      stage(traceLinker as unknown as ProcessorDefinition, options.linker),
    ],
    prefix: PREFIX,
    partitionsOf: (d) => d.partitions,
    logger: createLogger({ component: 'test', level: 'silent' }),
    onOutput: (o) => outputs.push(o),
  });
  const raw = `${PREFIX}.${TOPICS.raw.suffix}`;
  const sorted = [...events].sort((a, b) =>
    a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0,
  );
  for (const ev of sorted) {
    pipeline.push(raw, ev.connection.key, rawCodec.encode(ev), Number(ev.timeUnixNano / 1_000_000n));
  }
  pipeline.finish(options.finishMs ?? 120_000);
  const spans = outputs
    .filter((o) => o.topic.endsWith(`.${TOPICS.spans.suffix}`))
    .map((o) => o.value as Span);
  return { spans, outputs };
}
