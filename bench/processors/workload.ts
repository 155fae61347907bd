/**
 * What trace-linker and red-metrics are handed in the pipeline, recorded once so that their handlers can
 * be timed alone: bench/span-assembler's keep-alive workload (five services, both ends of every
 * connection captured, ~8K requests/s per process at the default density) goes through span-assembler
 * and trace-linker in memory (the runtime's InMemoryPipeline, the engine of `meshpipe replay`), and
 * every call the linker's partitions receive — a linking record, or a punctuation, each with the clock
 * it ran at — is kept in order, per partition, with the spans the linker emitted (red-metrics' input).
 * The linker's trace-id questions and answers between nodes travel back through the linking topic
 * during the recording and are part of the recorded calls, so replaying a partition's calls into a
 * fresh task reproduces its work exactly, without the other partitions.
 *
 * Variants: `cross-node` (the services on three nodes: SERVER spans whose caller is on another node
 * ask that node's partition for the trace id) and `one-node` (all five on one node: every link local).
 */
import { createLogger } from '../../lib/logger.ts';
import { resolveProcessorSettings } from '../../processors/runtime/config.ts';
import type {
  AnyProcessorDefinition,
  InputRecord,
  ProcessorDefinition,
} from '../../processors/runtime/definition.ts';
import { InMemoryPipeline } from '../../processors/runtime/in-memory-runner.ts';
import spanAssembler from '../../processors/span-assembler/index.ts';
import traceLinker from '../../processors/trace-linker/index.ts';
import { codecFor } from '../../schemas/codec.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { L7RawEvent, Span, TraceLinkingEvent } from '../../schemas/types.ts';
import { keepAliveWorkload } from '../span-assembler/workload.ts';

export const PREFIX = 'meshpipe';
export type Variant = 'cross-node' | 'one-node';
export const VARIANTS: readonly Variant[] = ['cross-node', 'one-node'];

/** One handler call of a linker partition, at the clock it ran at. */
export type LinkerCall =
  | { kind: 'process'; nowMs: number; record: InputRecord<TraceLinkingEvent> }
  | { kind: 'punctuate'; nowMs: number };

export interface ChainWorkload {
  variant: Variant;
  rawEvents: number;
  exchanges: number;
  connections: number;
  /** Seconds of recorded traffic. */
  recordedSeconds: number;
  /** The calls of each linking partition that received any, in order. */
  linker: Array<{ partition: number; calls: LinkerCall[] }>;
  linkerRecords: { span: number; resolveRequest: number; resolved: number };
  /** What the linker emitted to the spans topic, in order, with the clock: red-metrics' input. */
  spans: Array<{ nowMs: number; value: Span }>;
}

export interface ChainOptions {
  variant: Variant;
  /** Keep-alive connections (default 2 000: ~8K requests/s per process, as bench/pipeline). */
  connections?: number;
  /** Exchanges per connection (default 30: 1.5 s of traffic). */
  exchangesPerConnection?: number;
}

const rawCodec = codecFor<L7RawEvent>('l7-raw-event');

/** Wraps the linker so that every call it gets is recorded (and then made, unchanged). */
function recording(calls: Map<number, LinkerCall[]>): AnyProcessorDefinition {
  const linker = traceLinker as unknown as AnyProcessorDefinition;
  const log = (partition: number, call: LinkerCall) => {
    const list = calls.get(partition) ?? [];
    if (list.length === 0) calls.set(partition, list);
    list.push(call);
  };
  return {
    ...linker,
    process(record, ctx) {
      log(ctx.partition, { kind: 'process', nowMs: ctx.now(), record });
      linker.process(record, ctx);
    },
    punctuate: {
      intervalMs: linker.punctuate!.intervalMs,
      run(ctx) {
        log(ctx.partition, { kind: 'punctuate', nowMs: ctx.now() });
        linker.punctuate!.run(ctx);
      },
    },
  };
}

export function chainWorkload(options: ChainOptions): ChainWorkload {
  const workload = keepAliveWorkload({
    connections: options.connections ?? 2_000,
    exchangesPerConnection: options.exchangesPerConnection ?? 30,
    singleNode: options.variant === 'one-node',
  });
  const calls = new Map<number, LinkerCall[]>();
  const spans: ChainWorkload['spans'] = [];
  const stage = (definition: AnyProcessorDefinition) => ({
    definition,
    config: resolveProcessorSettings(definition, { processors: {} }).config,
  });
  const spansTopic = `${PREFIX}.${TOPICS.spans.suffix}`;
  const pipeline = new InMemoryPipeline({
    stages: [stage(spanAssembler as unknown as ProcessorDefinition), stage(recording(calls))],
    prefix: PREFIX,
    partitionsOf: (d) => d.partitions,
    logger: createLogger({ component: 'bench/processors', level: 'silent' }),
    onOutput: (o) => {
      if (o.topic === spansTopic) spans.push({ nowMs: o.timestampMs, value: o.value as Span });
    },
  });
  const raw = `${PREFIX}.${TOPICS.raw.suffix}`;
  for (const ev of workload.events) {
    pipeline.push(raw, ev.connection.key, rawCodec.encode(ev), Number(ev.timeUnixNano / 1_000_000n));
  }
  // Long enough for every wait of both processors to end: every span is out.
  pipeline.finish(120_000);
  const linkerRecords = { span: 0, resolveRequest: 0, resolved: 0 };
  for (const list of calls.values()) {
    for (const call of list) {
      if (call.kind !== 'process') continue;
      const kind = call.record.value.kind;
      if (kind === 'SPAN') linkerRecords.span++;
      else if (kind === 'RESOLVE_REQUEST') linkerRecords.resolveRequest++;
      else linkerRecords.resolved++;
    }
  }
  const first = workload.events[0]!.timeUnixNano;
  const last = workload.events.at(-1)!.timeUnixNano;
  return {
    variant: options.variant,
    rawEvents: workload.events.length,
    exchanges: workload.exchanges,
    connections: workload.connections,
    recordedSeconds: Number(last - first) / 1e9,
    linker: [...calls]
      .filter(([, list]) => list.some((c) => c.kind === 'process'))
      .sort((a, b) => a[0] - b[0])
      .map(([partition, list]) => ({ partition, calls: list })),
    linkerRecords,
    spans,
  };
}
