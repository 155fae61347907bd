/**
 * Runs processors without Kafka, for `meshpipe replay --processor`: records are partitioned by key
 * exactly as producers partition them on Kafka (murmur2, lib/key-partition.ts), every partition has its own
 * task and state (partition-task.ts, the code the Kafka host runs), and time is the recording's time —
 * `ctx.now()` is the timestamp of the record being processed, and punctuations fire when the recorded
 * clock passes their due time, so windows and timeouts behave as they did live.
 *
 * Several processors form a chain: what one emits is delivered to every processor that reads that
 * topic (in the order emitted, at the current time), so `--processor span-assembler --processor
 * ./my-proc/index.ts` replays the whole path.
 */
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { partitionOfKey } from '../../lib/key-partition.ts';
import type { Logger } from '../../lib/logger.ts';
import type { SourceRecord } from '../../runtime/input-record.ts';
import type { TopicDefinition } from '../../schemas/topics.ts';
import type { AnyProcessorDefinition } from './definition.ts';
import { PartitionTask, punctuateIntervalMs } from './partition-task.ts';
import { ProcessorTopics } from './processor-topics.ts';

export interface Stage {
  definition: AnyProcessorDefinition;
  /** The processor's validated config (ProcessorSettings.config). */
  config: unknown;
}

export interface InMemoryOutput {
  processor: string;
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  /** Full name of the value's schema, e.g. dev.meshpipe.v1.Span. */
  schema: string;
  /** The value as a consumer of the topic decodes it. */
  value: unknown;
  headers: Record<string, string>;
  timestampMs: number;
  deadLetter: boolean;
}

interface StageRun {
  definition: AnyProcessorDefinition;
  topics: ProcessorTopics;
  tasks: PartitionTask[];
  intervalMs: number | undefined;
  nextDueMs: number | undefined;
}

/** A record on a topic, with the partition and offset it got when it was produced. */
interface Pending {
  topic: string;
  partition: number;
  offset: number;
  key: string | Buffer | null;
  value: Buffer;
  headers: Record<string, string>;
}

export interface InMemoryStats {
  delivered: number;
  outputs: number;
  deadLetters: number;
}

export class InMemoryPipeline {
  readonly #stages: StageRun[];
  readonly #partitionsOf: (definition: TopicDefinition) => number;
  readonly #onOutput: (output: InMemoryOutput) => void;
  readonly #offsets = new Map<string, number>();
  readonly #roundRobin = new Map<string, number>();
  readonly #stats: InMemoryStats = { delivered: 0, outputs: 0, deadLetters: 0 };
  #clock: number | undefined;

  constructor(options: {
    stages: Stage[];
    prefix: string;
    /** Partition count of a topic (kafka.partitions override, else the definition). */
    partitionsOf: (definition: TopicDefinition) => number;
    logger: Logger;
    onOutput: (output: InMemoryOutput) => void;
  }) {
    this.#partitionsOf = options.partitionsOf;
    this.#onOutput = options.onOutput;
    this.#stages = options.stages.map(({ definition, config }) => {
      const topics = new ProcessorTopics(definition, options.prefix);
      const counts = topics.inputs.map((t) => options.partitionsOf(t.definition));
      if (new Set(counts).size > 1) {
        throw new MeshpipeError(ERRORS.PROCESSOR_INPUTS_NOT_COPARTITIONED, [
          definition.name,
          topics.inputs.map((t, i) => `${t.name}: ${counts[i]}`).join(', '),
        ]);
      }
      const logger = options.logger.child({ processor: definition.name });
      const tasks = Array.from(
        { length: counts[0]! },
        (_, partition) =>
          new PartitionTask({
            definition,
            config,
            partition,
            topics,
            now: () => this.#clock ?? 0,
            logger,
            // Replays and the tests that run chains check what a handler writes itself, as test contexts do.
            checkEncodedEmits: true,
          }),
      );
      return {
        definition,
        topics,
        tasks,
        intervalMs: punctuateIntervalMs(definition, config),
        nextDueMs: undefined,
      };
    });
  }

  /** A record arrives on `topic` at `timestampMs` (the recording's clock). */
  push(topic: string, key: string | null, value: Buffer, timestampMs: number): void {
    this.advanceTo(timestampMs);
    const input = this.#stages.map((s) => s.topics.input(topic)).find((t) => t !== undefined);
    if (input === undefined) return;
    const partition = this.#partitionFor(topic, input.definition, key);
    const offset = this.#nextOffset(topic, partition);
    this.#deliver([{ topic, partition, offset, key, value, headers: {} }]);
  }

  /**
   * Moves the clock to `timeMs`, running every punctuation due on the way at its due time. The clock
   * never goes back: records of different nodes arrive slightly out of order.
   */
  advanceTo(timeMs: number): void {
    if (this.#clock === undefined) {
      this.#clock = timeMs;
      for (const stage of this.#stages) {
        if (stage.intervalMs !== undefined) stage.nextDueMs = timeMs + stage.intervalMs;
      }
      return;
    }
    for (;;) {
      let next: StageRun | undefined;
      for (const stage of this.#stages) {
        if (stage.nextDueMs !== undefined && stage.nextDueMs <= timeMs) {
          if (next === undefined || stage.nextDueMs < next.nextDueMs!) next = stage;
        }
      }
      if (next === undefined) break;
      this.#clock = Math.max(this.#clock, next.nextDueMs!);
      next.nextDueMs! += next.intervalMs!;
      for (const task of next.tasks) {
        task.punctuate();
        this.#deliver(this.#settle(next, task));
      }
    }
    this.#clock = Math.max(this.#clock, timeMs);
  }

  /** After the last record: lets the clock run on so pending windows and timeouts fire. */
  finish(advanceMs: number): void {
    if (this.#clock !== undefined) this.advanceTo(this.#clock + advanceMs);
  }

  stats(): InMemoryStats {
    return { ...this.#stats };
  }

  #deliver(records: Pending[]): void {
    // Breadth-first: a record's consequences downstream are delivered in the order they were emitted.
    const queue = [...records];
    for (let record = queue.shift(); record !== undefined; record = queue.shift()) {
      for (const stage of this.#stages) {
        if (stage.topics.input(record.topic) === undefined) continue;
        const source: SourceRecord = {
          topic: record.topic,
          partition: record.partition,
          offset: String(record.offset),
          key: record.key === null ? null : Buffer.from(record.key),
          value: record.value,
          timestampMs: this.#clock ?? 0,
          headers: record.headers,
        };
        const task = stage.tasks[record.partition]!;
        task.process(source);
        this.#stats.delivered++;
        queue.push(...this.#settle(stage, task));
      }
    }
  }

  /** Commits a task's unit of work and reports its records as outputs. */
  #settle(stage: StageRun, task: PartitionTask): Pending[] {
    const records = task.work().records;
    task.commit();
    const out: Pending[] = [];
    for (const record of records) {
      const deadLetter = record.topic === stage.topics.dlq.name;
      const topic = deadLetter
        ? stage.topics.dlq
        : stage.topics.outputs.find((t) => t.name === record.topic)!;
      const partition = this.#partitionFor(record.topic, topic.definition, record.key);
      const offset = this.#nextOffset(record.topic, partition);
      this.#onOutput({
        processor: stage.definition.name,
        topic: record.topic,
        partition,
        offset,
        key: record.key === null ? null : record.key.toString(),
        schema: topic.codec.schema.fullName,
        value: topic.codec.decode(record.value),
        headers: record.headers,
        timestampMs: this.#clock ?? 0,
        deadLetter,
      });
      if (deadLetter) this.#stats.deadLetters++;
      else this.#stats.outputs++;
      out.push({ ...record, partition, offset });
    }
    return out;
  }

  #partitionFor(topic: string, definition: TopicDefinition, key: string | Buffer | null): number {
    const count = this.#partitionsOf(definition);
    if (key === null) {
      // Kafka's producers spread keyless records round-robin from a random start; replays must be
      // repeatable, so this one starts at 0.
      const n = this.#roundRobin.get(topic) ?? 0;
      this.#roundRobin.set(topic, n + 1);
      return n % count;
    }
    return partitionOfKey(key, count);
  }

  #nextOffset(topic: string, partition: number): number {
    const slot = `${topic}|${partition}`;
    const offset = this.#offsets.get(slot) ?? 0;
    this.#offsets.set(slot, offset + 1);
    return offset;
  }
}
