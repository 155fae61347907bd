import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
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
  TEST_RUNTIME,
  testConfigFile,
} from './helpers.ts';

const KEYS = 40;
const PER_KEY = 75; // 3000 records

/** Sum of the group's committed offsets on the input. */
async function committed(k: TestKafka): Promise<number> {
  const { group, input } = counterTopics(k.prefix);
  const offsets = (await k.admin.committedOffsets(group, [input])).get(input)!;
  return [...offsets.values()].reduce((sum, offset) => sum + Number(offset), 0);
}

describe('processor host: exactly once through crashes', () => {
  let k: TestKafka;
  const runs: RunningCli[] = [];
  before(async () => {
    k = await testKafka('eos');
    await k.createTopics([COUNTER_INPUT]);
  });
  after(async () => {
    for (const run of runs) run.child.kill('SIGKILL');
    await k.cleanup();
  });

  it('SIGKILLed mid-stream and restarted, it emits every input once, in order, with state to match', async () => {
    // Small batches make many transactions; punctuations every 50 ms interleave with them.
    const config = testConfigFile(['counter'], {
      counter: { tickMs: 50, runtime: { ...TEST_RUNTIME, maxBatchBytes: 2048 } },
    });
    const env = { ...k.env, MESHPIPE_CONFIG: config };
    await produceCounterInputs(k.kafka, k.prefix, counterInputs(KEYS, PER_KEY), { batch: 500 });
    for (const threshold of [500, 1300, 2100]) {
      const run = startCli(['process', COUNTER_PATH], env);
      runs.push(run);
      // Killed while it works through the backlog: batches are mid-transaction, their outputs and
      // changelog records written but not committed.
      await waitFor(`commits past ${threshold}`, async () => (await committed(k)) >= threshold, {
        timeoutMs: 60_000,
        intervalMs: 20,
      });
      run.child.kill('SIGKILL');
      await run.exited;
    }
    const last = startCli(['process', COUNTER_PATH], env);
    runs.push(last);
    const { group, input } = counterTopics(k.prefix);
    // The earlier instances may have got through the whole input before their kill: the last one must
    // be up (restored, its signal handlers installed) before it is asked to stop.
    await waitFor(
      'the last instance processing',
      () => /partitions restored and processing/.test(last.stderr()),
      {
        timeoutMs: 60_000,
      },
    );
    await waitFor('the input consumed to its end', () => caughtUp(k.admin, group, input), {
      timeoutMs: 90_000,
      intervalMs: 200,
    });
    last.child.kill('SIGTERM');
    assert.equal(await last.exited, 0, `graceful stop: ${last.stderr().slice(-2000)}`);
    // The restart continued from the changelog, not from scratch.
    assert.match(last.stderr(), /"restoredRecords":[1-9]/);

    const outputs = await readCounterOutputs(k.kafka, k.admin, k.prefix);
    const state = await readCounterState(k.kafka, k.admin, k.prefix);
    const counted = [...outputs.keys()].filter((key) => key.startsWith('k'));
    assert.equal(counted.length, KEYS);
    for (const [key, counts] of outputs) {
      // Nothing lost, nothing duplicated, in order: exactly 1..N, and the state says N. The same holds
      // for the per-partition tick counters the punctuations keep.
      const n = key.startsWith('k') ? PER_KEY : counts.length;
      assert.deepEqual(
        counts,
        Array.from({ length: n }, (_, i) => BigInt(i + 1)),
        `outputs of ${key}`,
      );
      assert.equal(state.get(key), BigInt(n), `state of ${key}`);
    }
  });
});
