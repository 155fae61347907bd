/**
 * `meshpipe sink <name|path>`: runs one sink on its own — a built-in one by name, yours by path — which
 * is what a Kubernetes Deployment runs and what `meshpipe up` starts under its supervisor. The command
 * is built from the sink's definition (sinks/registry.ts): its flags are the ones the sink declares,
 * plus --listen and the Kafka ones. It loads the configuration (flags win), validates `sinks.<name>`
 * with the sink's spec, connects to Kafka, starts the sink host as a static member of its group (the
 * instance id of lib/instance-slot.ts, as `meshpipe process` does), reports status (the supervisor's IPC
 * channel, and JSON lines with --json), and on SIGINT/SIGTERM stops gracefully: it delivers and commits
 * what is buffered, within `sinks.<name>.shutdownTimeoutMs`, and leaves the group.
 */

import { reportStatus } from '../../lib/component-status.ts';
import { claimInstanceSlot } from '../../lib/instance-slot.ts';
import { createKafka, kafkaOptionsFrom } from '../../lib/kafka.ts';
import {
  BUILTIN_SINKS,
  type LoadedSink,
  loadSink,
  resolveSinkConfig,
  sinkFlagOverrides,
} from '../../sinks/registry.ts';
import type { AnySinkDefinition } from '../../sinks/runtime/definition.ts';
import { sinkGroupId, startSink } from '../../sinks/runtime/host.ts';
import { type CommandContext, type CommandDefinition, KAFKA_OPTIONS, type OptionSpec } from '../command.ts';
import { resolveEndpoints } from '../endpoints.ts';
import { redisUrlOf } from '../redis-url.ts';
import { useSchemaRegistry } from '../schema-registry.ts';

const AT_LEAST_ONCE =
  'At least once: offsets are committed only after the exporter acknowledged a batch; transient failures are retried with backoff while consumption pauses (Kafka keeps the records), and records or batches that can never be delivered go to the dead-letter topic with the reason. Instances of a sink share its consumer group (<kafka.topicPrefix>-sink-<name>) as static members (MESHPIPE_INSTANCE_ID, else one per host and slot): one killed and restarted gets its partitions back at once. SIGTERM or Ctrl-C delivers and commits what is buffered and leaves the group.';

const LISTEN: OptionSpec = {
  type: 'string',
  value: '<host:port>',
  doc: 'Serve /metrics, /healthz (liveness) and /readyz (readiness) here (default: sinks.<name>.listen; empty: not served).',
};

/** The flags a sink declares, as options of its command. */
export function sinkOptions(definition: AnySinkDefinition): Record<string, OptionSpec> {
  const options: Record<string, OptionSpec> = {};
  for (const [flag, spec] of Object.entries(definition.flags ?? {})) {
    options[flag] = { type: 'string', value: spec.value ?? '<value>', doc: spec.doc };
  }
  return options;
}

/** `meshpipe sink --help`: what sinks there are and how to run one. */
async function sinkList(): Promise<CommandDefinition> {
  const lines: string[] = [];
  for (const name of BUILTIN_SINKS) {
    const { definition } = await loadSink(name);
    const flags = Object.entries(definition.flags ?? {}).map(([f, s]) => ` --${f} ${s.value ?? '<value>'}`);
    lines.push(`${name}${flags.join('')}: ${definition.description.replace(/\.$/, '')}`);
  }
  return {
    name: 'sink',
    summary: `Run a sink on Kafka, at least once: built-in ones (${BUILTIN_SINKS.join(', ')}) by name, yours by path.`,
    usage: 'sink <name|path> [options] [--json]',
    description: `${AT_LEAST_ONCE} Configuration: sinks.<name> in meshpipe.json (\`meshpipe config\`). \`meshpipe sink <name> --help\` shows a sink's own flags. Built-in sinks: ${lines.join(' · ')}. Your own sink: a module whose default export is defineSink({...}) (\`meshpipe sink new <name>\`, docs/adding-a-sink.md).`,
    options: { ...KAFKA_OPTIONS, listen: LISTEN },
    positionals: { min: 1, max: 1, names: ['sink'] },
    json: true,
    examples: [
      'meshpipe sink otlp --endpoint http://localhost:4317',
      'meshpipe sink prometheus --listen 0.0.0.0:9464 --json',
      'meshpipe sink ./sinks/my-sink/sink.ts --json',
    ],
    run: async () => 0, // never reached: parsing asks for the sink first
  };
}

/** The command of one sink: `meshpipe sink otlp`, `meshpipe sink ./my-sink.ts`. */
export function sinkCommand(target: string, loaded: LoadedSink): CommandDefinition {
  const { definition } = loaded;
  return {
    name: `sink ${target}`,
    summary: definition.description,
    usage: `sink ${target} [options] [--json]`,
    description: `${definition.help ?? ''}${definition.help === undefined ? '' : ' '}${AT_LEAST_ONCE} Configuration: sinks.${definition.name} (\`meshpipe config\`).`,
    options: {
      ...KAFKA_OPTIONS,
      listen: { ...LISTEN, doc: LISTEN.doc.replace('<name>', definition.name) },
      ...sinkOptions(definition),
    },
    positionals: { min: 1, max: 1, names: ['sink'] },
    json: true,
    examples: [...(definition.examples ?? [`meshpipe sink ${target} --json`])],
    run: (ctx) => runSink(ctx, definition),
  };
}

async function runSink(ctx: CommandContext, definition: AnySinkDefinition): Promise<number> {
  // The sink's own section may be named anything; another near a built-in's name is a typo.
  const { config } = ctx.config({ sinks: [definition.name] });
  const overrides = {
    ...(typeof ctx.values.listen === 'string' ? { listen: ctx.values.listen } : {}),
    ...sinkFlagOverrides(definition, ctx.values),
  };
  const section = resolveSinkConfig(definition, config, { overrides });
  const endpoints = await resolveEndpoints(config, { logger: ctx.logger, start: false });
  // Shared services the sink asked for, resolved once and handed to its createExporter.
  const redisUrl = definition.needs?.includes('redis') === true ? await redisUrlOf(config) : undefined;
  const withServices: AnySinkDefinition =
    redisUrl === undefined
      ? definition
      : { ...definition, createExporter: (c) => definition.createExporter({ ...c, redisUrl }) };
  const kafka = createKafka(kafkaOptionsFrom(config, ctx.logger, endpoints.brokers));
  await useSchemaRegistry(config, ctx.logger);
  // A static member of the group: restarted, it takes its partitions back at once (lib/instance-slot.ts).
  const slot = claimInstanceSlot(sinkGroupId(config.kafka.topicPrefix, definition.name));
  try {
    const sink = await startSink(withServices, section, {
      kafka,
      brokers: endpoints.brokers,
      topicPrefix: config.kafka.topicPrefix,
      groupInstanceId: slot.id,
      logger: ctx.logger,
      onStatus: (status) => {
        reportStatus(status);
        if (ctx.json)
          ctx.printJson({ time: new Date().toISOString(), sink: definition.name, ...status }, { line: true });
        else ctx.progress.update(`${definition.name} sink: ${status.state} · ${status.summary}`);
      },
    });
    ctx.signal.addEventListener('abort', () => void sink.stop(), { once: true });
    if (ctx.signal.aborted) void sink.stop();
    await sink.done;
  } finally {
    slot.release();
    ctx.progress.done();
  }
  return 0;
}

/**
 * The command for `meshpipe sink <args>`: the sink named (or at the path) right after `sink`, or, with
 * none, the overview (`meshpipe sink --help`).
 */
export async function loadSinkCommand(args: readonly string[] = []): Promise<CommandDefinition> {
  const target = args[0];
  if (target === undefined || target.startsWith('-')) return sinkList();
  return sinkCommand(target, await loadSink(target));
}
