/**
 * red-metrics and the Prometheus sink on a test's Kafka, with windows and intervals short enough for
 * a test to wait seconds (the logic is the same at the defaults).
 */
import redMetrics from '../../../processors/red-metrics/index.ts';
import { resolveProcessorSettings } from '../../../processors/runtime/config.ts';
import type { ProcessorDefinition } from '../../../processors/runtime/definition.ts';
import { ProcessorHost } from '../../../processors/runtime/host.ts';
import { prometheusSinkSpec } from '../../../sinks/prometheus/config.ts';
import { prometheusSink } from '../../../sinks/prometheus/sink.ts';
import { type RunningSink, startSink } from '../../../sinks/runtime/host.ts';
import { type TestKafka, testLogger } from '../../../testkit/kafka.ts';

const definition = redMetrics as unknown as ProcessorDefinition;
export const FAST_RED_METRICS = { windowMs: 1_000, allowedLatenessMs: 500, punctuateMs: 100 };

export function redMetricsHost(
  k: TestKafka,
  config: Record<string, unknown> = FAST_RED_METRICS,
  instanceId?: string,
): ProcessorHost {
  return new ProcessorHost({
    definition,
    settings: resolveProcessorSettings(definition, {
      processors: { 'red-metrics': { ...config, runtime: { metricsIntervalMs: 1_000, maxWaitMs: 100 } } },
    }),
    kafka: k.kafka,
    topicPrefix: k.prefix,
    replicationFactor: -1,
    logger: testLogger,
    ...(instanceId === undefined ? {} : { instanceId }),
  });
}

export async function prometheusSinkFor(k: TestKafka, listen: string, warmupMs = 0): Promise<RunningSink> {
  const config = prometheusSinkSpec.parseWithEnv(
    {
      listen,
      warmupMs,
      startFrom: 'earliest',
      lingerMs: 50,
      runtime: { maxWaitMs: 100, metricsIntervalMs: 1_000 },
    },
    'sinks.prometheus',
    {},
  );
  const sink = await startSink(prometheusSink, config, {
    kafka: k.kafka,
    topicPrefix: k.prefix,
    logger: testLogger,
    onStatus: () => {},
  });
  await sink.ready;
  return sink;
}
