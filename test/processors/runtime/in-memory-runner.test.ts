import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
// kafkajs's Java-compatible partitioner: an independent reference for where a key lands.
import { Partitioners } from 'kafkajs';
import { s } from '../../../lib/config/spec.ts';
import { createLogger } from '../../../lib/logger.ts';
import { defineProcessor } from '../../../processors/runtime/definition.ts';
import { type InMemoryOutput, InMemoryPipeline } from '../../../processors/runtime/in-memory-runner.ts';
import type { TopicDefinition } from '../../../schemas/topics.ts';
import counter, { COUNTER_OUTPUT } from './fixtures/counter.ts';
import { encodeCounterInput } from './helpers.ts';

const INPUT = 'meshpipe.test.counter-input.v1';

const DOUBLED = { ...COUNTER_OUTPUT, suffix: 'test.doubled.v1' } satisfies TopicDefinition;

/** Second stage of a chain: reads the counter's outputs and doubles the counts. */
const doubler = defineProcessor({
  name: 'doubler',
  description: 'Test processor: doubles counts.',
  inputs: [COUNTER_OUTPUT],
  outputs: [DOUBLED],
  config: s.object({}, { doc: 'None.' }),
  process(record, ctx) {
    const v = record.value as { key: string; count: bigint; n: bigint };
    ctx.emit(DOUBLED, record.key, { ...v, count: v.count * 2n });
  },
});

function pipeline(stages: Array<{ definition: typeof counter | typeof doubler; config: unknown }>) {
  const outputs: InMemoryOutput[] = [];
  const p = new InMemoryPipeline({
    stages,
    prefix: 'meshpipe',
    partitionsOf: (d) => d.partitions,
    logger: createLogger({ component: 'test', level: 'silent' }),
    onOutput: (o) => outputs.push(o),
  });
  return { p, outputs };
}

describe('in-memory runner', () => {
  it('partitions by key as Kafka producers do', () => {
    const { p, outputs } = pipeline([{ definition: counter, config: { step: 1, tickMs: 3_600_000 } }]);
    const partition = Partitioners.DefaultPartitioner();
    const metadata = [0, 1, 2].map((partitionId) => ({
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
      partitionErrorCode: 0,
    }));
    for (const key of ['alpha', 'beta', 'gamma', 'delta']) {
      p.push(INPUT, key, encodeCounterInput({ key, n: 1n }), 0);
      const out = outputs.at(-1)!;
      assert.equal(
        out.partition,
        partition({ topic: out.topic, partitionMetadata: metadata, message: { key, value: null } }),
        key,
      );
    }
  });

  it("punctuates on the recording's clock, also after the last record", () => {
    const { p, outputs } = pipeline([{ definition: counter, config: { step: 1, tickMs: 1_000 } }]);
    p.push(INPUT, 'a', encodeCounterInput({ key: 'a', n: 1n }), 10_000);
    p.push(INPUT, 'a', encodeCounterInput({ key: 'a', n: 2n }), 12_500);
    p.finish(1_000);
    const ticks = outputs.filter((o) => o.key === 'tick-0');
    assert.deepEqual(
      ticks.map((o) => [o.timestampMs, (o.value as { count: bigint }).count]),
      [
        [11_000, 1n],
        [12_000, 2n],
        [13_000, 3n],
      ],
    );
    const counts = outputs.filter((o) => o.key === 'a');
    assert.deepEqual(
      counts.map((o) => o.timestampMs),
      [10_000, 12_500],
      'records keep their own time',
    );
  });

  it("feeds one processor's outputs to the next, and reports dead letters", () => {
    const { p, outputs } = pipeline([
      { definition: counter, config: { step: 1, tickMs: 3_600_000 } },
      { definition: doubler, config: {} },
    ]);
    p.push(INPUT, 'a', encodeCounterInput({ key: 'a', n: 1n }), 0);
    p.push(INPUT, 'a', encodeCounterInput({ key: 'a', n: 2n }), 1);
    p.push(INPUT, 'a', encodeCounterInput({ key: 'a', n: -1n }), 2);
    assert.deepEqual(
      outputs.map((o) => [o.processor, o.topic, (o.value as { count?: bigint }).count ?? null, o.deadLetter]),
      [
        ['counter', 'meshpipe.test.counter-output.v1', 1n, false],
        ['doubler', 'meshpipe.test.doubled.v1', 2n, false],
        ['counter', 'meshpipe.test.counter-output.v1', 2n, false],
        ['doubler', 'meshpipe.test.doubled.v1', 4n, false],
        ['counter', 'meshpipe.dlq.v1', null, true],
      ],
    );
    assert.deepEqual(p.stats(), { delivered: 5, outputs: 4, deadLetters: 1 });
  });
});
