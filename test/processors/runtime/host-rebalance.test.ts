import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readPartitionsToEnd } from '../../../lib/kafka.ts';
import { codecFor } from '../../../schemas/codec.ts';
import type { MetricSample } from '../../../schemas/types.ts';
import { type TestKafka, testKafka } from '../../../testkit/kafka.ts';
import { waitFor } from '../../helpers/wait.ts';
import { COUNTER_INPUT } from './fixtures/counter.ts';
import {
  COUNTER_PATH,
  caughtUp,
  counterInputs,
  counterTopics,
  produceCounterInputs,
  type RunningCli,
  readCounterOutputs,
  readCounterState,
  startCli,
  testConfigFile,
} from './helpers.ts';

const KEYS = 40;
const HALF = 25;

const RESTORED = /"restoredRecords":[1-9]\d*,"restoreMs":\d+,"msg":"partitions restored and processing"/;

describe('processor host: rebalance across two instances', () => {
  let k: TestKafka;
  const runs: RunningCli[] = [];
  before(async () => {
    k = await testKafka('rebalance');
    await k.createTopics([COUNTER_INPUT]);
  });
  after(async () => {
    for (const run of runs) run.child.kill('SIGKILL');
    await k.cleanup();
  });

  it('shares the partitions, moves state with them, and processes every record once', async () => {
    const env = { ...k.env, MESHPIPE_CONFIG: testConfigFile(['counter']) };
    const { group, input } = counterTopics(k.prefix);
    await produceCounterInputs(k.kafka, k.prefix, counterInputs(KEYS, HALF));
    const a = startCli(['process', COUNTER_PATH], env);
    runs.push(a);
    await waitFor('a alone to consume the first half', () => caughtUp(k.admin, group, input), {
      timeoutMs: 60_000,
    });

    // B joins: the sticky assignor leaves A half of its partitions and gives B the others, whose state
    // B rebuilds from the changelog before it processes them.
    const b = startCli(['process', COUNTER_PATH], env);
    runs.push(b);
    await waitFor('b to restore the partitions it took over', () => RESTORED.test(b.stderr()), {
      timeoutMs: 60_000,
    });
    await waitFor('a to hand those partitions over', () => a.stderr().includes('"why":"revoked"'), {
      timeoutMs: 30_000,
    });

    await produceCounterInputs(k.kafka, k.prefix, counterInputs(KEYS, HALF, HALF + 1));
    await waitFor('both to consume the second half', () => caughtUp(k.admin, group, input), {
      timeoutMs: 60_000,
    });
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    assert.equal(await a.exited, 0, a.stderr().slice(-2000));
    assert.equal(await b.exited, 0, b.stderr().slice(-2000));

    const outputs = await readCounterOutputs(k.kafka, k.admin, k.prefix);
    const state = await readCounterState(k.kafka, k.admin, k.prefix);
    assert.equal(outputs.size, KEYS);
    for (const [key, counts] of outputs) {
      // Counts continue across the move (B started from A's state), each exactly once.
      assert.deepEqual(
        counts,
        Array.from({ length: 2 * HALF }, (_, i) => BigInt(i + 1)),
        `outputs of ${key}`,
      );
      assert.equal(state.get(key), BigInt(2 * HALF), `state of ${key}`);
    }

    // Each instance published its own cumulative counts (published again at shutdown); together they
    // consumed every record exactly once.
    const codec = codecFor<MetricSample>('metric-sample');
    const consumed = new Map<string, number>();
    await readPartitionsToEnd({
      kafka: k.kafka,
      admin: k.admin,
      topic: k.topic('metrics'),
      partitions: [0, 1, 2],
      onRecord(_p, m) {
        const s = codec.decode(m.value!);
        if (s.name === 'meshpipe.processor.records.consumed') consumed.set(s.stream, s.value);
      },
    });
    assert.equal(consumed.size, 2, [...consumed.keys()].join(', '));
    assert.ok([...consumed.values()].every((v) => v > 0));
    assert.equal(
      [...consumed.values()].reduce((x, y) => x + y, 0),
      2 * KEYS * HALF,
    );
  });
});
