import { readFileSync } from 'node:fs';
import { ERRORS, errorMessage, isMeshpipeError, MeshpipeError } from '../../lib/errors.ts';
import type { ConsumedRecord } from '../../lib/kafka.ts';
import { connectAdmin, createKafka, kafkaOptionsFrom } from '../../lib/kafka.ts';
import { schemaIdOfRecord, toJsonSafe } from '../../schemas/codec.ts';
import { schemaRegistry } from '../../schemas/registry.ts';
import { decodeAnyRecord, topicCodec } from '../../schemas/topic-codec.ts';
import { definitionOf } from '../../schemas/topics.ts';
import { type CommandDefinition, KAFKA_OPTIONS } from '../command.ts';
import { resolveEndpoints } from '../endpoints.ts';
import { summarizeRecord } from '../render-record.ts';
import { useSchemaRegistry } from '../schema-registry.ts';

/** The key of a value of a batch record: the key field of the topic it came from. */
function keyOfValue(topic: string, value: unknown): string | null {
  const definition = definitionOf(topic);
  return definition?.batch === undefined ? null : topicCodec(definition).keyOf(value);
}

/** Makes a user's schema known to the decoder; a file that is not an Avro schema is a usage error. */
function registerSchemaFile(file: string): void {
  try {
    schemaRegistry().register(JSON.parse(readFileSync(file, 'utf8')), { current: false });
  } catch (err) {
    throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, [`--schema ${file}: ${errorMessage(err)}`]);
  }
}

export const command: CommandDefinition = {
  name: 'tail',
  summary: 'Decode and print the records of a meshpipe topic (any schema this build knows).',
  usage: 'tail <topic> [--from-beginning] [--limit N] [--idle-timeout s] [--json]',
  description:
    'Reads every partition of the topic directly, without a consumer group (it never moves anyone\'s offsets), with read_committed isolation. Records that do not decode are reported with their partition and offset on stderr (and as {"error":...} lines with --json) and skipped. The hot topics carry batches of values per record: each value is printed on its own line (`@offset#index`; `index` in --json), and --limit counts values.',
  options: {
    ...KAFKA_OPTIONS,
    'from-beginning': {
      type: 'boolean',
      doc: 'Start at the oldest retained record instead of new records only.',
    },
    limit: { type: 'string', value: '<n>', doc: 'Exit after printing n records.' },
    'idle-timeout': {
      type: 'string',
      value: '<seconds>',
      doc: 'Exit after this long without a new record (default: follow until Ctrl-C).',
    },
    schema: {
      type: 'string',
      multiple: true,
      value: '<file.avsc>',
      doc: "Also decode records written with this schema (your processor's own topics); repeatable.",
    },
  },
  positionals: { min: 1, max: 1, names: ['topic'] },
  json: true,
  examples: [
    'meshpipe tail meshpipe.spans.v2',
    'meshpipe tail meshpipe.l7.raw.v2 --from-beginning --limit 10 --json | jq .value.connection',
    'meshpipe tail meshpipe.dlq.v1 --from-beginning --idle-timeout 5',
    'meshpipe tail meshpipe.service-traffic.v1 --schema processors/service-traffic/service-traffic.avsc',
  ],
  async run(ctx) {
    const topic = ctx.positionals[0]!;
    const limit = ctx.values.limit === undefined ? Number.POSITIVE_INFINITY : Number(ctx.values.limit);
    if (limit !== Number.POSITIVE_INFINITY && (!Number.isInteger(limit) || limit < 1))
      throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, ['--limit must be a positive integer']);
    const idleMs = ctx.values['idle-timeout'] === undefined ? 0 : Number(ctx.values['idle-timeout']) * 1000;
    if (!Number.isFinite(idleMs) || idleMs < 0)
      throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, ['--idle-timeout must be a number of seconds']);

    for (const file of (ctx.values.schema as string[] | undefined) ?? []) registerSchemaFile(file);
    const { config } = ctx.config();
    const endpoints = await resolveEndpoints(config, { logger: ctx.logger, start: false });
    const kafka = createKafka(kafkaOptionsFrom(config, ctx.logger, endpoints.brokers));
    await useSchemaRegistry(config, ctx.logger);
    const admin = await connectAdmin(kafka);
    let partitions: number;
    try {
      const count = (await admin.partitionCounts([topic])).get(topic);
      if (count === undefined) throw new MeshpipeError(ERRORS.KAFKA_TOPIC_MISSING, [topic]);
      partitions = count;
    } finally {
      await admin.disconnect();
    }

    const consumer = kafka.assignedConsumer({ maxWaitMs: 250 });
    let printed = 0;
    let failed = 0;
    let stopped = false;
    ctx.signal.addEventListener(
      'abort',
      () => {
        stopped = true;
      },
      { once: true },
    );

    await consumer.connect();
    const from = ctx.values['from-beginning'] === true ? 'beginning' : 'end';
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, from })));
    // The idle clock starts once the partitions are assigned.
    let lastActivity = Date.now();
    const print = async (message: ConsumedRecord) => {
      lastActivity = Date.now();
      const { partition } = message;
      const where = { topic, partition, offset: message.offset, timestamp: String(message.timestamp) };
      if (message.value === null) return;
      try {
        await schemaRegistry().resolveIds([message]);
        // A batch record (the hot topics) prints as its values, one line each, `@offset#index`.
        const { schema, values, batched } = decodeAnyRecord(message.value);
        for (let index = 0; index < values.length && printed < limit; index++) {
          const value = values[index];
          printed++;
          if (ctx.json) {
            ctx.printJson(
              {
                ...where,
                ...(batched ? { index } : {}),
                key: batched ? keyOfValue(topic, value) : (message.key?.toString('utf8') ?? null),
                schema: schema.fullName,
                schemaId: schemaIdOfRecord(message.value),
                value: toJsonSafe(value),
              },
              { line: true },
            );
          } else {
            const at = batched ? `${message.offset}#${index}` : message.offset;
            ctx.out(`${topic}[${partition}]@${at} ${summarizeRecord(schema.fullName, value)}`);
          }
        }
      } catch (err) {
        failed++;
        const code = isMeshpipeError(err) ? err.code : 'MESHPIPE_ERR_SCHEMA_DECODE_FAILED';
        process.stderr.write(
          `meshpipe tail: ${topic}[${partition}]@${message.offset}: skipped, ${errorMessage(err)} [${code}]\n`,
        );
        if (ctx.json)
          ctx.printJson({ ...where, error: { code, message: errorMessage(err) } }, { line: true });
      }
    };
    try {
      while (!stopped && printed < limit && (idleMs === 0 || Date.now() - lastActivity < idleMs)) {
        const poll = await consumer.poll(1000);
        for (const record of poll.records) {
          if (printed >= limit) break;
          await print(record);
        }
      }
    } finally {
      await consumer.disconnect();
    }
    ctx.logger.debug({ printed, failed }, 'tail finished');
    return 0;
  },
};
