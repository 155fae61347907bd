/** The detector's two processors under the processor host, on a test broker, from one test config. */
import anomalyDeltas from '../../../processors/anomaly-deltas/index.ts';
import anomalyDetector from '../../../processors/anomaly-detector/index.ts';
import { resolveProcessorSettings } from '../../../processors/runtime/config.ts';
import type { AnyProcessorDefinition } from '../../../processors/runtime/definition.ts';
import { ProcessorHost } from '../../../processors/runtime/host.ts';
import { type TestKafka, testLogger } from '../../../testkit/kafka.ts';
import { splitConfig } from './harness.ts';

/** anomaly-deltas' host, and anomaly-detector's (not started). */
export function detectorHosts(
  k: TestKafka,
  config: Record<string, unknown>,
): { deltas: ProcessorHost; detector: ProcessorHost } {
  const split = splitConfig(config);
  const host = (definition: AnyProcessorDefinition, section: Record<string, unknown>) =>
    new ProcessorHost({
      definition,
      settings: resolveProcessorSettings(definition, { processors: { [definition.name]: section } }),
      kafka: k.kafka,
      topicPrefix: k.prefix,
      replicationFactor: -1,
      logger: testLogger,
    });
  return {
    deltas: host(anomalyDeltas as unknown as AnyProcessorDefinition, split.deltas),
    detector: host(anomalyDetector as unknown as AnyProcessorDefinition, split.detector),
  };
}
