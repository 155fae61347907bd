import { existsSync } from 'node:fs';
import type { MeshpipeConfig } from '../../lib/config/meshpipe-config.ts';
import { ERRORS, errorMessage, MeshpipeError } from '../../lib/errors.ts';
import { connectAdmin, createKafka, kafkaOptionsFrom } from '../../lib/kafka.ts';
import { resolveProcessorSettings } from '../../processors/runtime/config.ts';
import type { AnyProcessorDefinition } from '../../processors/runtime/definition.ts';
import { type InMemoryOutput, InMemoryPipeline } from '../../processors/runtime/in-memory-runner.ts';
import { loadProcessor } from '../../processors/runtime/registry.ts';
import { codecFor, toJsonSafe } from '../../schemas/codec.ts';
import { batchRecordsOf, topicCodec } from '../../schemas/topic-codec.ts';
import { TOPICS, topicName } from '../../schemas/topics.ts';
import type { L7RawEvent } from '../../schemas/types.ts';
import { readRecording } from '../../sdk/recording.ts';
import { type CommandContext, type CommandDefinition, KAFKA_OPTIONS } from '../command.ts';
import { resolveEndpoints } from '../endpoints.ts';
import { summarizeRecord } from '../render-record.ts';
import { useSchemaRegistry } from '../schema-registry.ts';

const RAW_SCHEMA = 'dev.meshpipe.v1.L7RawEvent';

export const command: CommandDefinition = {
  name: 'replay',
  summary: 'Play a recording back: through processors in memory, into Kafka, or to the terminal.',
  usage: 'replay <file> [--processor <name|path>]... [--to-kafka] [--advance s] [--json]',
  description:
    "A recording is the file `meshpipe record` writes (an Avro container of raw events). With --processor, the processors run in this process, without Kafka: events are partitioned by connection key as on the raw topic, each partition has its own state, and the clock is the recording's — ctx.now() is the event time and punctuations fire when it passes them, so windows and timeouts behave as they did live. Several --processor form a chain (what one emits feeds those that read it). Every output is printed, dead letters included. With --to-kafka the events are produced to the raw topic (keyed by connection, idempotent producer). Without either, the events are printed.",
  options: {
    ...KAFKA_OPTIONS,
    processor: {
      type: 'string',
      multiple: true,
      value: '<name|path>',
      doc: 'Run this processor over the recording (repeat for a chain).',
    },
    'to-kafka': { type: 'boolean', doc: 'Produce the events to the raw topic instead.' },
    advance: {
      type: 'string',
      value: '<seconds>',
      doc: 'After the last event, let the clock run this long so pending windows and timeouts fire (default 60).',
    },
  },
  positionals: { min: 1, max: 1, names: ['file'] },
  json: true,
  examples: [
    'meshpipe replay capture.avro --processor span-assembler',
    'meshpipe replay capture.avro --processor ./processors/my-proc/index.ts --json',
    'meshpipe replay capture.avro --to-kafka',
  ],
  async run(ctx) {
    const file = ctx.positionals[0]!;
    if (!existsSync(file))
      throw new MeshpipeError(ERRORS.REPLAY_RECORDING_UNREADABLE, [file, 'no such file']);
    const processors = (ctx.values.processor as string[] | undefined) ?? [];
    const toKafka = ctx.values['to-kafka'] === true;
    if (toKafka && processors.length > 0) {
      throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, ['--to-kafka and --processor exclude each other']);
    }
    const advanceS = ctx.values.advance === undefined ? 60 : Number(ctx.values.advance);
    if (!Number.isFinite(advanceS) || advanceS < 0) {
      throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, ['--advance must be a number of seconds']);
    }
    // `meshpipe replay ... | head`: a closed pipe ends the output, it is not an error.
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
    // The processors first: the configuration's check needs their names (a section of theirs may be
    // named anything).
    const definitions: AnyProcessorDefinition[] = [];
    for (const target of processors) definitions.push((await loadProcessor(target)).definition);
    const { config } = ctx.config({ processors: definitions.map((d) => d.name) });
    if (toKafka) return produce(ctx, file, config);
    if (definitions.length > 0) return runProcessors(ctx, file, config, definitions, advanceS * 1000);
    return printEvents(ctx, file);
  },
};

/** Every event of the recording, or REPLAY_RECORDING_UNREADABLE naming the file. */
async function* events(file: string): AsyncGenerator<L7RawEvent> {
  try {
    yield* readRecording(file);
  } catch (err) {
    if (err instanceof MeshpipeError) throw err;
    throw new MeshpipeError(ERRORS.REPLAY_RECORDING_UNREADABLE, [file, errorMessage(err)], { cause: err });
  }
}

function eventTimeMs(event: L7RawEvent): number {
  return Number(event.timeUnixNano / 1_000_000n);
}

async function runProcessors(
  ctx: CommandContext,
  file: string,
  config: MeshpipeConfig,
  definitions: readonly AnyProcessorDefinition[],
  advanceMs: number,
): Promise<number> {
  // One chain in this process: every stage runs here, so none's section is taken for a typo.
  const running = definitions.map((d) => d.name);
  const stages = definitions.map((definition) => ({
    definition,
    config: resolveProcessorSettings(definition, config, running).config,
  }));
  const prefix = config.kafka.topicPrefix;
  const raw = topicName(TOPICS.raw, prefix);
  const pipeline = new InMemoryPipeline({
    stages,
    prefix,
    partitionsOf: (definition) => config.kafka.partitions[definition.suffix] ?? definition.partitions,
    logger: ctx.logger,
    onOutput: (output) => print(ctx, output),
  });
  if (!stages.some((s) => s.definition.inputs.includes('raw'))) {
    throw new MeshpipeError(ERRORS.REPLAY_NO_RAW_INPUT, [raw]);
  }
  const codec = codecFor<L7RawEvent>('l7-raw-event');
  let count = 0;
  for await (const event of events(file)) {
    pipeline.push(raw, event.connection.key, codec.encode(event), eventTimeMs(event));
    count++;
  }
  pipeline.finish(advanceMs);
  const stats = pipeline.stats();
  process.stderr.write(
    `replayed ${count} events through ${stages.map((s) => s.definition.name).join(' → ')}: ${stats.outputs} outputs, ${stats.deadLetters} dead letters\n`,
  );
  return 0;
}

function print(ctx: CommandContext, output: InMemoryOutput): void {
  if (ctx.json) {
    ctx.printJson(
      {
        processor: output.processor,
        topic: output.topic,
        partition: output.partition,
        offset: output.offset,
        timestampMs: output.timestampMs,
        key: output.key,
        headers: output.headers,
        schema: output.schema,
        value: toJsonSafe(output.value),
      },
      { line: true },
    );
  } else {
    ctx.out(
      `${output.topic}[${output.partition}]@${output.offset} ${summarizeRecord(output.schema, output.value)}`,
    );
  }
}

async function printEvents(ctx: CommandContext, file: string): Promise<number> {
  for await (const event of events(file)) {
    if (ctx.json)
      ctx.printJson({ timestampMs: eventTimeMs(event), value: toJsonSafe(event) }, { line: true });
    else ctx.out(summarizeRecord(RAW_SCHEMA, event));
  }
  return 0;
}

async function produce(ctx: CommandContext, file: string, config: MeshpipeConfig): Promise<number> {
  const endpoints = await resolveEndpoints(config, { logger: ctx.logger, start: false });
  const kafka = createKafka(kafkaOptionsFrom(config, ctx.logger, endpoints.brokers));
  await useSchemaRegistry(config, ctx.logger);
  const topic = topicName(TOPICS.raw, config.kafka.topicPrefix);
  const admin = await connectAdmin(kafka);
  let partitions: number;
  try {
    const count = (await admin.partitionCounts([topic])).get(topic);
    if (count === undefined) throw new MeshpipeError(ERRORS.KAFKA_TOPIC_MISSING, [topic]);
    partitions = count;
  } finally {
    await admin.disconnect();
  }
  // Idempotent: a retried batch is not written twice. In batch records per partition, like the
  // collector's: the events of one connection land on the partition of its key, in order.
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const codec = topicCodec<L7RawEvent>(TOPICS.raw);
  const started = Date.now();
  let count = 0;
  try {
    // Kafka timestamps are the time of this replay, not the recording's: a recording older than the
    // topic's retention would otherwise be deleted as soon as it is written.
    let batch: L7RawEvent[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await producer.send({ topic, messages: batchRecordsOf(codec, batch, partitions) });
      count += batch.length;
      batch = [];
      ctx.progress.update(`produced ${count} events to ${topic}`);
    };
    for await (const event of events(file)) {
      if (ctx.signal.aborted) break;
      batch.push(event);
      if (batch.length >= 2000) await flush();
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
  const seconds = (Date.now() - started) / 1000;
  ctx.progress.done();
  if (ctx.json) ctx.printJson({ topic, events: count, seconds });
  else ctx.out(`produced ${count} events to ${topic} in ${seconds.toFixed(1)}s`);
  return ctx.signal.aborted ? 130 : 0;
}
