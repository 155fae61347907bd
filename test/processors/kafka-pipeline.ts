/**
 * The span path on a real broker: span-assembler and trace-linker run by the processor host, and a
 * reader of the spans topic. Shared by the recorded-stream test and the end-to-end capture test.
 */
import assert from 'node:assert/strict';
import type { KafkaClient } from '../../lib/kafka.ts';
import { partitionOfKey } from '../../lib/key-partition.ts';
import { resolveProcessorSettings } from '../../processors/runtime/config.ts';
import type { ProcessorDefinition } from '../../processors/runtime/definition.ts';
import { ProcessorHost } from '../../processors/runtime/host.ts';
import spanAssembler from '../../processors/span-assembler/index.ts';
import traceLinker from '../../processors/trace-linker/index.ts';
import { topicCodec } from '../../schemas/topic-codec.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { Span } from '../../schemas/types.ts';
import { follow, type TestKafka, testLogger } from '../../testkit/kafka.ts';
import { waitFor } from '../helpers/wait.ts';

/** Starts the two processors on `prefix`, with waits short enough for a test. */
export async function runHosts(kafka: KafkaClient, prefix: string): Promise<ProcessorHost[]> {
  const configs: [ProcessorDefinition, Record<string, unknown>][] = [
    [spanAssembler as unknown as ProcessorDefinition, { pairWaitMs: 500, punctuateMs: 100 }],
    [traceLinker as unknown as ProcessorDefinition, { causalityWaitMs: 1_500, punctuateMs: 100 }],
  ];
  const hosts = configs.map(
    ([definition, config]) =>
      new ProcessorHost({
        definition,
        settings: resolveProcessorSettings(definition, { processors: { [definition.name]: config } }),
        kafka,
        topicPrefix: prefix,
        replicationFactor: -1,
        logger: testLogger,
      }),
  );
  await Promise.all(hosts.map((h) => h.start()));
  return hosts;
}

/** Reads the spans topic from the beginning until `until` holds, or fails after `timeoutMs`. */
export async function collectSpans(
  k: TestKafka,
  until: (spans: Span[]) => boolean,
  timeoutMs = 90_000,
): Promise<Span[]> {
  const codec = topicCodec<Span>(TOPICS.spans);
  const spans: Span[] = [];
  const partitions = (await k.admin.partitionCounts([k.topic('spans')])).get(k.topic('spans'))!;
  const consumer = await follow(k.kafka, {
    groupId: `${k.prefix}-spans-reader`,
    topics: [k.topic('spans')],
    eachMessage: async ({ partition, message }) => {
      for (const span of codec.decodeRecord(message.value!)) {
        assert.equal(
          partitionOfKey(span.traceId, partitions),
          partition,
          'spans are partitioned by trace id',
        );
        spans.push(span);
      }
    },
  });
  try {
    await waitFor('the spans of both chains', () => until(spans), { timeoutMs, intervalMs: 250 });
  } finally {
    await consumer.stop();
  }
  return spans;
}
