import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ComponentStatus } from '../../lib/component-status.ts';
import type { MeshpipeConfig } from '../../lib/config/meshpipe-config.ts';
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { claimInstanceSlot } from '../../lib/instance-slot.ts';
import { createKafka, kafkaOptionsFrom } from '../../lib/kafka.ts';
import { moduleFile } from '../../lib/module-file.ts';
import { STACK_DIR } from '../../lib/paths.ts';
import { resolveProcessorSettings } from '../../processors/runtime/config.ts';
import { ProcessorHost } from '../../processors/runtime/host.ts';
import { registerProcessorSchemas } from '../../processors/runtime/processor-topics.ts';
import { type LoadedProcessor, loadProcessor } from '../../processors/runtime/registry.ts';
import { type CommandContext, type CommandDefinition, KAFKA_OPTIONS } from '../command.ts';
import { type Endpoints, resolveEndpoints } from '../endpoints.ts';
import { PROCESSOR_STALL_MS } from '../processor-components.ts';
import { useSchemaRegistry } from '../schema-registry.ts';
import { Supervisor } from '../stack/supervisor.ts';

const MAIN = moduleFile('../main.ts', import.meta.url);

function positiveInt(ctx: CommandContext, flag: string, fallback: number, min: number, max: number): number {
  const raw = ctx.values[flag];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, [`--${flag} must be an integer from ${min} to ${max}`]);
  }
  return n;
}

export const command: CommandDefinition = {
  name: 'process',
  summary: 'Run processors on Kafka, exactly once: built-in ones by name, yours by path.',
  usage:
    'process <name|path>... [--instances N] [--metrics-port p] [--metrics-host a] [--stall-timeout s] [--json]',
  description:
    'Each processor is its own consumer group (<kafka.topicPrefix>-<name>); instances of one processor share its input partitions. One processor with one instance runs in this process (how a Kubernetes Deployment runs it); several processors or instances run as supervised child processes, each restarted if it exits or stops reporting (a handler stuck in a loop). Configuration: processors.<name> in meshpipe.json (`meshpipe processor list --json` shows the keys). SIGTERM or Ctrl-C finishes the batch in flight, commits it and leaves the group.',
  options: {
    ...KAFKA_OPTIONS,
    instances: {
      type: 'string',
      value: '<n>',
      doc: 'Instances per processor, as child processes (default 1).',
    },
    'metrics-port': {
      type: 'string',
      value: '<port>',
      doc: 'Serve /metrics (Prometheus), /healthz (liveness) and /readyz (readiness) here; further instances use the following ports.',
    },
    'metrics-host': {
      type: 'string',
      value: '<address>',
      doc: 'Address the --metrics-port endpoints bind to (default: processors.<name>.runtime.metricsHost, 127.0.0.1); 0.0.0.0 to be scraped from elsewhere.',
    },
    'stall-timeout': {
      type: 'string',
      value: '<seconds>',
      doc: `Restart a supervised instance silent for this long (default ${PROCESSOR_STALL_MS / 1000}).`,
    },
  },
  positionals: { min: 1, max: 32, names: ['processor'] },
  json: true,
  examples: [
    'meshpipe process span-assembler',
    'meshpipe process ./processors/my-proc/index.ts --metrics-port 9464',
    'meshpipe process red-metrics --metrics-port 9464 --metrics-host 0.0.0.0',
    'meshpipe process span-assembler --instances 3 --json',
  ],
  async run(ctx) {
    const instances = positiveInt(ctx, 'instances', 1, 1, 64);
    const metricsPort =
      ctx.values['metrics-port'] === undefined ? undefined : positiveInt(ctx, 'metrics-port', 0, 0, 65535);
    const stallMs = positiveInt(ctx, 'stall-timeout', PROCESSOR_STALL_MS / 1000, 1, 3600) * 1000;
    // Everything is loaded and its configuration validated here, so a mistake is one clear error
    // rather than children failing and restarting. Loaded first: the configuration's check needs
    // their names (a section of theirs may be named anything).
    const loaded: LoadedProcessor[] = [];
    for (const target of ctx.positionals) loaded.push(await loadProcessor(target));
    const { config } = ctx.config({ processors: loaded.map((p) => p.definition.name) });
    for (const { definition } of loaded) resolveProcessorSettings(definition, config);
    const endpoints = await resolveEndpoints(config, { logger: ctx.logger, start: false });
    if (loaded.length === 1 && instances === 1)
      return runHost(ctx, loaded[0]!, config, endpoints, metricsPort);
    return supervise(ctx, loaded, { instances, metricsPort, stallMs, endpoints });
  },
};

async function runHost(
  ctx: CommandContext,
  processor: LoadedProcessor,
  config: MeshpipeConfig,
  endpoints: Endpoints,
  metricsPort: number | undefined,
): Promise<number> {
  const { definition } = processor;
  const settings = resolveProcessorSettings(definition, config);
  // The processor's own topics are registered too: their schemas join the process's registry first.
  registerProcessorSchemas(definition);
  await useSchemaRegistry(config, ctx.logger, {
    topics: [...definition.inputs, ...definition.outputs].filter((t) => typeof t !== 'string'),
  });
  const supervised = process.env.MESHPIPE_SUPERVISED === '1';
  let lastPrinted = 0;
  // A static member of the group: restarted, it takes its partitions back at once (lib/instance-slot.ts).
  const slot = claimInstanceSlot(`${config.kafka.topicPrefix}-${definition.name}`);
  const host = new ProcessorHost({
    definition,
    settings,
    kafka: createKafka(kafkaOptionsFrom(config, ctx.logger, endpoints.brokers)),
    groupInstanceId: slot.id,
    topicPrefix: config.kafka.topicPrefix,
    replicationFactor: config.kafka.replicationFactor,
    partitionOverrides: config.kafka.partitions,
    logger: ctx.logger,
    ...(metricsPort === undefined ? {} : { metricsPort }),
    ...(typeof ctx.values['metrics-host'] === 'string' ? { metricsHost: ctx.values['metrics-host'] } : {}),
    onStatus: (status) => {
      if (supervised) return; // the supervisor shows it
      if (!ctx.json) ctx.progress.update(`${definition.name}: ${status.summary}`);
      else if (Date.now() - lastPrinted >= 2000) {
        lastPrinted = Date.now();
        ctx.printJson(
          { time: new Date().toISOString(), processor: definition.name, ...status },
          { line: true },
        );
      }
    },
  });
  const stopped = new AbortController();
  const stop = () => stopped.abort();
  ctx.signal.addEventListener('abort', stop, { once: true });
  // A supervised child whose supervisor is gone (killed) must not live on as an orphan.
  if (supervised) process.once('disconnect', stop);
  try {
    await host.start();
  } catch (err) {
    await host.stop();
    slot.release();
    throw err;
  }
  ctx.logger.info(
    { processor: definition.name, group: host.groupId, instance: host.instanceId, member: slot.id },
    'processing',
  );
  const failure = await Promise.race([
    host.failed,
    new Promise<undefined>((resolve) => stopped.signal.addEventListener('abort', () => resolve(undefined))),
  ]);
  await host.stop();
  slot.release();
  ctx.progress.done();
  if (failure !== undefined) throw failure;
  return 0;
}

async function supervise(
  ctx: CommandContext,
  loaded: LoadedProcessor[],
  options: { instances: number; metricsPort: number | undefined; stallMs: number; endpoints: Endpoints },
): Promise<number> {
  const supervisor = new Supervisor({ logger: ctx.logger, logDir: join(STACK_DIR, 'logs') });
  const env: Record<string, string> = { MESHPIPE_KAFKA_BROKERS: options.endpoints.brokers.join(',') };
  if (typeof ctx.values.config === 'string') env.MESHPIPE_CONFIG = ctx.values.config;
  let port = options.metricsPort;
  for (const { definition, module, builtin } of loaded) {
    for (let i = 1; i <= options.instances; i++) {
      const name =
        options.instances === 1 ? `processor/${definition.name}` : `processor/${definition.name}#${i}`;
      const args = ['process', builtin ? definition.name : module, '--instances', '1'];
      if (port !== undefined) {
        args.push('--metrics-port', String(port));
        port = port === 0 ? 0 : port + 1;
      }
      if (typeof ctx.values['metrics-host'] === 'string')
        args.push('--metrics-host', ctx.values['metrics-host']);
      supervisor.start({ name, modulePath: MAIN, args, env, stallMs: options.stallMs });
    }
  }
  ctx.progress.done(
    `running ${loaded.length * options.instances} processor instance(s) as child processes; logs in ${join(STACK_DIR, 'logs')}. Ctrl-C stops.`,
  );
  let lastJson = 0;
  try {
    while (!ctx.signal.aborted) {
      const states = supervisor.states();
      if (ctx.json) {
        if (Date.now() - lastJson >= 2000) {
          lastJson = Date.now();
          ctx.printJson(
            {
              time: new Date().toISOString(),
              components: states.map((s) => ({
                name: s.name,
                pid: s.pid ?? null,
                restarts: s.restarts,
                ...s.status,
              })),
            },
            { line: true },
          );
        }
      } else {
        ctx.progress.update(states.map((s) => `${s.name} ${mark(s.status)} ${s.status.summary}`).join(' · '));
      }
      await sleep(500, undefined, { signal: ctx.signal }).catch(() => {});
    }
  } finally {
    ctx.progress.update('stopping processors');
    await supervisor.stop();
    ctx.progress.done('processors stopped');
  }
  return 0;
}

function mark(status: ComponentStatus): string {
  return status.state === 'ok' ? '✓' : status.state === 'failed' ? '✗' : '…';
}
