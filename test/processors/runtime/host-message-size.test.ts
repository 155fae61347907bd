/**
 * Records the broker refuses, on a real broker with a small max.message.bytes: a transaction larger than
 * the limit is sent in chunks; an output or state value that can never fit is dead-lettered when it is
 * made; a record the broker refuses for what it holds (a key-less record on a compacted topic) is found
 * by committing its batch record by record, and dead-lettered. Every other record is written once, and
 * the processor goes on. (Before: the batch's transaction failed with MESSAGE_TOO_LARGE, was aborted and
 * retried forever.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ERRORS } from '../../../lib/errors.ts';
import { readPartitionsToEnd } from '../../../lib/kafka.ts';
import { resolveProcessorSettings } from '../../../processors/runtime/config.ts';
import { ProcessorHost } from '../../../processors/runtime/host.ts';
import { jsonStateCodec } from '../../../processors/runtime/state-codec.ts';
import { codecFor } from '../../../schemas/codec.ts';
import type { DeadLetter } from '../../../schemas/types.ts';
import { type TestKafka, testKafka, testLogger } from '../../../testkit/kafka.ts';
import { waitFor } from '../../helpers/wait.ts';
import { COUNTER_INPUT, type CounterInput } from './fixtures/counter.ts';
import sizer, { SIZER_OUTPUT } from './fixtures/sizer.ts';
import { caughtUp, produceCounterInputs, TEST_RUNTIME } from './helpers.ts';

const LIMIT = 20_000;
const MEDIUM = 1_500; // 30 of them: 45 kB of outputs in one batch's transaction, to one partition
const HUGE = 25_000;

const INPUTS: CounterInput[] = [
  ...Array.from({ length: 30 }, () => ({ key: 'k', n: BigInt(MEDIUM) })),
  { key: 'k', n: BigInt(HUGE) }, // offset 30: an output over the limit
  { key: 'k', n: 0n }, // 31: a key-less output on a compacted topic, refused by the broker
  { key: 'k', n: BigInt(-HUGE) }, // 32: a state value over the changelog's limit
  ...Array.from({ length: 5 }, () => ({ key: 'k', n: 100n })),
];

describe('processor host: records the broker refuses', () => {
  let k: TestKafka;
  let host: ProcessorHost | undefined;
  const output = () => `${k.prefix}.${SIZER_OUTPUT.suffix}`;
  const changelog = () => `${k.prefix}.sizer.changelog.v1`;

  before(async () => {
    k = await testKafka('message-size');
    await k.createTopics([COUNTER_INPUT]);
    const small = (topic: string, numPartitions: number) => ({
      topic,
      numPartitions,
      config: { 'cleanup.policy': 'compact', 'retention.ms': '-1', 'max.message.bytes': String(LIMIT) },
    });
    await k.admin.createTopics([
      small(output(), SIZER_OUTPUT.partitions),
      small(changelog(), COUNTER_INPUT.partitions),
    ]);
  });
  after(async () => {
    await host?.stop();
    await k.cleanup();
  });

  it('chunks large transactions, dead-letters records that can never be written, and goes on', async () => {
    // One produce request, so one batch, normally one transaction.
    await produceCounterInputs(k.kafka, k.prefix, INPUTS);
    host = new ProcessorHost({
      definition: sizer,
      settings: resolveProcessorSettings(sizer, { processors: { sizer: { runtime: TEST_RUNTIME } } }),
      kafka: k.kafka,
      topicPrefix: k.prefix,
      replicationFactor: -1,
      logger: testLogger,
    });
    await host.start();
    const group = `${k.prefix}-sizer`;
    const input = `${k.prefix}.${COUNTER_INPUT.suffix}`;
    await waitFor('the input consumed', () => caughtUp(k.admin, group, input), {
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    // Still processing afterwards.
    await produceCounterInputs(k.kafka, k.prefix, [{ key: 'k', n: 7n }]);
    await waitFor('the next record consumed', () => caughtUp(k.admin, group, input), {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    await host.stop();

    const outputCodec = codecFor<{ key: string; n: bigint; payload: string }>('sizer-output');
    const outputs: bigint[] = [];
    await readPartitionsToEnd({
      kafka: k.kafka,
      admin: k.admin,
      topic: output(),
      partitions: [0, 1],
      onRecord: (_p, m) => outputs.push(outputCodec.decode(m.value!).n),
    });
    assert.deepEqual(
      outputs,
      [...Array(30).fill(BigInt(MEDIUM)), ...Array(5).fill(100n), 7n],
      'every output that can be written, once, in order',
    );

    const letters: DeadLetter[] = [];
    const dlqCodec = codecFor<DeadLetter>('dead-letter');
    await readPartitionsToEnd({
      kafka: k.kafka,
      admin: k.admin,
      topic: k.topic('dlq'),
      partitions: [0],
      onRecord: (_p, m) => letters.push(dlqCodec.decode(m.value!)),
    });
    assert.deepEqual(
      letters.map((l) => [l.sourceOffset, l.errorCode]),
      [
        [30n, ERRORS.PROCESSOR_RECORD_TOO_LARGE.code],
        [31n, ERRORS.PROCESSOR_OUTPUT_REJECTED.code],
        [32n, ERRORS.PROCESSOR_RECORD_TOO_LARGE.code],
      ],
    );
    assert.match(letters[0]!.errorMessage, new RegExp(`at most ${LIMIT} bytes`));
    assert.match(letters[1]!.errorMessage, /key|record/i);

    // State: the records that were dead-lettered left no change behind.
    const state = new Map<string, unknown>();
    const stateCodec = jsonStateCodec<unknown>();
    await readPartitionsToEnd({
      kafka: k.kafka,
      admin: k.admin,
      topic: changelog(),
      partitions: [0, 1, 2, 3],
      onRecord: (_p, m) =>
        m.value === null
          ? state.delete(m.key!.toString())
          : state.set(m.key!.toString(), stateCodec.decode(m.value)),
    });
    assert.deepEqual([...state], [['state/k', 36]], 'one key of the store "state"');

    const exposition = await host.metrics.exposition();
    assert.match(
      exposition,
      /meshpipe_processor_dead_letters_total\{[^}]*code="MESHPIPE_ERR_PROCESSOR_RECORD_TOO_LARGE"[^}]*\} 2/,
    );
  });
});
