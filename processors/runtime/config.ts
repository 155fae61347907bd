/**
 * A processor's configuration: the section `processors.<name>` of meshpipe.json, validated with the
 * processor's own spec plus the keys the host reads for every processor (`enabled`, `startFrom`,
 * `runtime.*`). Errors name the full key — `processors.span-assembler.exchangeTimeoutMs` — and suggest
 * the closest known key, exactly like meshpipe's own configuration.
 */
import type { MeshpipeConfig } from '../../lib/config/meshpipe-config.ts';
import { type Fields, type InferFields, ObjectSpec, s } from '../../lib/config/spec.ts';
import {
  checkConsumerSettings,
  consumerFields,
  maxBatchBytesSpec,
  metricsIntervalSpec,
} from '../../runtime/consumer-settings.ts';
import { checkProcessorSections } from './builtin-processors.ts';
import type { AnyProcessorDefinition } from './definition.ts';

export const runtimeSpec = s.object(
  {
    sessionTimeoutMs: consumerFields.sessionTimeoutMs,
    heartbeatIntervalMs: consumerFields.heartbeatIntervalMs,
    rebalanceTimeoutMs: s.int({
      doc: 'How long a rebalance waits for every instance to finish its batch and rejoin.',
      default: 60_000,
      min: 1_000,
      max: 3_600_000,
    }),
    maxWaitMs: consumerFields.maxWaitMs,
    maxBatchBytes: maxBatchBytesSpec(
      'Most bytes fetched per partition per batch; one batch is one transaction.',
    ),
    concurrency: s.int({
      doc: 'Partitions processed at the same time, each in its own transaction.',
      default: 4,
      min: 1,
      max: 256,
    }),
    transactionTimeoutMs: s.int({
      doc: "How long the broker lets a transaction stay open: a crashed instance's open transaction holds back read_committed consumers of the outputs at most this long (less when another instance takes its partitions over).",
      default: 30_000,
      min: 1_000,
      max: 900_000,
    }),
    metricsIntervalMs: metricsIntervalSpec,
    metricsHost: s.string({
      doc: 'Address the /metrics, /healthz and /readyz of `meshpipe process --metrics-port` bind to (`--metrics-host` wins): 127.0.0.1 keeps them local; 0.0.0.0 lets a Prometheus and the kubelet elsewhere reach them.',
      default: '127.0.0.1',
      check: (v) => (v.trim() === '' ? 'must not be empty' : undefined),
    }),
  },
  { doc: 'How the host runs the processor (consumer group, transactions, metrics).' },
);

export type RuntimeOptions = InferFields<(typeof runtimeSpec)['fields']>;

/** Keys of `processors.<name>` that belong to the host; a processor's own spec cannot use them. */
export const HOST_KEYS = ['enabled', 'startFrom', 'runtime'] as const;

function hostFields(definition: AnyProcessorDefinition) {
  return {
    enabled: s.boolean({
      doc: 'Whether `meshpipe up` runs this processor.',
      default: definition.enabledByDefault ?? true,
    }),
    startFrom: s.enumOf(['earliest', 'latest'] as const, {
      doc: 'Where a new consumer group starts reading its inputs: `earliest` processes what the topics retain, `latest` only new records. Once offsets are committed, they win.',
      default: definition.startFrom ?? 'earliest',
    }),
    runtime: runtimeSpec,
  };
}

/** The full spec of `processors.<name>`: host keys first, then the processor's own. */
export function processorConfigSpec(definition: AnyProcessorDefinition): ObjectSpec<Fields> {
  return new ObjectSpec<Fields>(
    { ...hostFields(definition), ...definition.config.fields },
    `${definition.name}: ${definition.config.doc}`,
  );
}

export interface ProcessorSettings<C = unknown> {
  enabled: boolean;
  startFrom: 'earliest' | 'latest';
  runtime: RuntimeOptions;
  /** The processor's own configuration (its spec's keys only): what handlers see as `ctx.config`. */
  config: C;
}

/**
 * Validates `processors.<definition.name>` from the loaded configuration. Throws CONFIG_UNKNOWN_KEY or
 * CONFIG_INVALID_VALUE naming the full dotted key, or CONFIG_SECTION_MISSPELLED for a section named a
 * typo of a built-in processor's (builtin-processors.ts) that is not one of the `running` processors
 * (default: this one; `meshpipe replay` runs a chain in one process).
 */
export function resolveProcessorSettings(
  definition: AnyProcessorDefinition,
  config: Pick<MeshpipeConfig, 'processors'>,
  running: readonly string[] = [definition.name],
): ProcessorSettings {
  checkProcessorSections(config, running);
  const key = `processors.${definition.name}`;
  const parsed = processorConfigSpec(definition).parseWithEnv(config.processors[definition.name], key, {});
  const runtime = parsed.runtime as RuntimeOptions;
  checkConsumerSettings(`${key}.runtime`, runtime);
  const own: Record<string, unknown> = {};
  for (const name of Object.keys(definition.config.fields)) own[name] = parsed[name];
  return {
    enabled: parsed.enabled as boolean,
    startFrom: parsed.startFrom as 'earliest' | 'latest',
    runtime,
    config: own,
  };
}
