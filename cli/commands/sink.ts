/**
 * `meshpipe sink <name>`: runs one sink on its own — what a Kubernetes Deployment runs, and what
 * `meshpipe up` starts under its supervisor. Every sink command is built by `sinkCommand`: load the
 * configuration (flags win), connect to Kafka, start the sink host, report status (the supervisor's IPC
 * channel, and JSON lines with --json), and on SIGINT/SIGTERM stop gracefully: deliver and commit what
 * is buffered, within `sinks.<name>.shutdownTimeoutMs`.
 */

import { reportStatus } from '../../lib/component-status.ts';
import { loadConfig } from '../../lib/config/load.ts';
import type { MeshpipeConfig } from '../../lib/config/meshpipe-config.ts';
import { createKafka, kafkaOptionsFrom } from '../../lib/kafka.ts';
import type { SinkDefinition } from '../../sinks/runtime/definition.ts';
import { startSink } from '../../sinks/runtime/host.ts';
import {
  type CommandContext,
  type CommandDefinition,
  configOverrides,
  KAFKA_OPTIONS,
  type OptionSpec,
} from '../command.ts';
import { resolveEndpoints } from '../endpoints.ts';
import { useSchemaRegistry } from '../schema-registry.ts';

interface SinkCommandSpec {
  name: keyof MeshpipeConfig['sinks'];
  summary: string;
  description: string;
  // biome-ignore lint/suspicious/noExplicitAny: any sink definition; its config type is checked by its own module
  load(): Promise<SinkDefinition<any, any, any>>;
  options: Record<string, OptionSpec>;
  /** Flag values as a partial `sinks.<name>` section (they win over file and environment). */
  overrides(values: CommandContext['values']): Record<string, unknown>;
  examples: string[];
}

export function sinkCommand(spec: SinkCommandSpec): CommandDefinition {
  return {
    name: `sink ${spec.name}`,
    summary: spec.summary,
    usage: `sink ${spec.name} [options] [--json]`,
    description: spec.description,
    options: {
      ...KAFKA_OPTIONS,
      listen: {
        type: 'string',
        value: '<host:port>',
        doc: `Serve /metrics, /healthz (liveness) and /readyz (readiness) here (default: sinks.${spec.name}.listen; empty: not served).`,
      },
      ...spec.options,
    },
    json: true,
    examples: spec.examples,
    async run(ctx) {
      const own = {
        ...(typeof ctx.values.listen === 'string' ? { listen: ctx.values.listen } : {}),
        ...spec.overrides(ctx.values),
      };
      const { config } = loadConfig({
        file: ctx.values.config as string | undefined,
        overrides: {
          ...configOverrides(ctx.values),
          ...(Object.keys(own).length === 0 ? {} : { sinks: { [spec.name]: own } }),
        },
      });
      const definition = await spec.load();
      const endpoints = await resolveEndpoints(config, { logger: ctx.logger, start: false });
      const kafka = createKafka(kafkaOptionsFrom(config, ctx.logger, endpoints.brokers));
      await useSchemaRegistry(config, ctx.logger);
      const sink = await startSink(definition, config.sinks[spec.name], {
        kafka,
        brokers: endpoints.brokers,
        topicPrefix: config.kafka.topicPrefix,
        logger: ctx.logger,
        onStatus: (status) => {
          reportStatus(status);
          if (ctx.json)
            ctx.printJson({ time: new Date().toISOString(), sink: spec.name, ...status }, { line: true });
          else ctx.progress.update(`${spec.name} sink: ${status.state} · ${status.summary}`);
        },
      });
      ctx.signal.addEventListener('abort', () => void sink.stop(), { once: true });
      if (ctx.signal.aborted) void sink.stop();
      try {
        await sink.done;
      } finally {
        ctx.progress.done();
      }
      return 0;
    },
  };
}

export const otlp = sinkCommand({
  name: 'otlp',
  summary:
    'Deliver the spans topic to an OTLP receiver over gRPC or HTTP (Collector, Jaeger, Grafana Tempo).',
  description:
    'At least once: offsets are committed only after the receiver acknowledged a batch; transient failures (UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED...) are retried with backoff while consumption pauses, and batches the receiver rejects for good go to the dead-letter topic with the reason. Configuration: sinks.otlp (`meshpipe config`).',
  load: async () => (await import('../../sinks/otlp/sink.ts')).otlpSink,
  options: {
    endpoint: {
      type: 'string',
      value: '<url>',
      doc: 'OTLP receiver, e.g. http://localhost:4317 (gRPC) or http://localhost:4318 with sinks.otlp.protocol http/protobuf (default: sinks.otlp.endpoint, $MESHPIPE_OTLP_ENDPOINT, $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, $OTEL_EXPORTER_OTLP_ENDPOINT).',
    },
  },
  overrides: (values) => (typeof values.endpoint === 'string' ? { endpoint: values.endpoint } : {}),
  examples: [
    'meshpipe sink otlp --endpoint http://localhost:4317',
    'MESHPIPE_OTLP_HEADERS="authorization=Bearer%20$TOKEN" meshpipe sink otlp --endpoint https://tempo.example.com:4317 --json',
  ],
});
