/**
 * Failover with static membership (KIP-345; lib/instance-slot.ts): a processor instance SIGKILLed
 * mid-stream and started again takes its partitions back at once — the broker sees the same member
 * (`group.instance.id`) come back — instead of sitting without partitions until the dead member's
 * session expires; and exactly-once holds. A stop asked for while an instance is still joining its
 * group stops it on the first signal.
 *
 * The session timeout here is long (60 s, the runtime's default is 30 s), so that "at once" and "after
 * the session timeout" cannot be confused: the tests assert the broker's group state, and print the
 * failover time they measured (no timed assertion: the machine is shared).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
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
  startCli,
  TEST_RUNTIME,
  testConfigFile,
} from './helpers.ts';

const SESSION_TIMEOUT_MS = 60_000;
const KEYS = 20;
const PER_KEY = 60;

describe('processor host: failover with static membership', { timeout: 300_000 }, () => {
  let k: TestKafka;
  let env: Record<string, string>;
  const runs: RunningCli[] = [];
  before(async () => {
    k = await testKafka('failover');
    await k.createTopics([COUNTER_INPUT]);
    const config = testConfigFile(['counter'], {
      counter: {
        runtime: {
          ...TEST_RUNTIME,
          sessionTimeoutMs: SESSION_TIMEOUT_MS,
          rebalanceTimeoutMs: SESSION_TIMEOUT_MS,
        },
      },
    });
    env = { ...k.env, MESHPIPE_CONFIG: config };
  });
  after(async () => {
    for (const run of runs) run.child.kill('SIGKILL');
    await k.cleanup();
  });

  const start = (instanceId: string) => {
    const run = startCli(['process', COUNTER_PATH, '--json'], { ...env, MESHPIPE_INSTANCE_ID: instanceId });
    runs.push(run);
    return run;
  };

  it('SIGKILLed mid-stream, restarted with its instance id: its partitions back at once, every output once', async (t) => {
    const { group, input } = counterTopics(k.prefix);
    const instance = `${k.prefix}-a`;
    const partitions = COUNTER_INPUT.partitions;
    // Input keeps arriving while the instance is killed and restarted.
    const producing = produceCounterInputs(k.kafka, k.prefix, counterInputs(KEYS, PER_KEY), {
      batch: 40,
      pauseMs: 100,
    });
    const first = start(instance);
    const member = async () => {
      const g = await k.admin.describeGroup(group).catch(() => undefined);
      return g?.state === 'Stable' && g.members.length === 1 && g.members[0]!.partitions.length === partitions
        ? g.members[0]!
        : undefined;
    };
    const before = await waitFor('the first instance owns every partition', member, {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    assert.equal(before.groupInstanceId, instance);
    await waitFor(
      'the first instance processing',
      async () => {
        const offsets = (await k.admin.committedOffsets(group, [input])).get(input)!;
        return [...offsets.values()].reduce((sum, o) => sum + o, 0n) > 200n;
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    first.child.kill('SIGKILL');
    await first.exited;

    const restartedAt = performance.now();
    const second = start(instance);
    // The broker hands the restarted member its partitions without waiting for the old one's session:
    // the same static member (a new member id for it), alone in the group, with every partition.
    const after = await waitFor(
      'the restarted instance owns every partition',
      async () => {
        const m = await member();
        return m !== undefined && m.memberId !== before.memberId && m;
      },
      { timeoutMs: SESSION_TIMEOUT_MS * 2, intervalMs: 50 },
    );
    const assignedMs = performance.now() - restartedAt;
    assert.equal(after.groupInstanceId, instance, 'the same static member');
    await waitFor(
      'the restarted instance processing',
      () => /"msg":"partitions restored and processing"/.test(second.stderr()),
      { timeoutMs: SESSION_TIMEOUT_MS * 2, intervalMs: 50 },
    );
    const processingMs = performance.now() - restartedAt;
    // A generous functional bound: a dynamic member would have waited for the session to expire.
    assert.ok(
      processingMs < SESSION_TIMEOUT_MS,
      `processing resumed after ${Math.round(processingMs)} ms: it waited for the session timeout`,
    );
    const message = `failover: the restarted process (node start-up included) owned every partition ${Math.round(assignedMs)} ms and was processing ${Math.round(processingMs)} ms after the restart (session timeout ${SESSION_TIMEOUT_MS} ms)`;
    t.diagnostic(message);
    console.log(message);

    await producing;
    await waitFor('the input consumed to its end', () => caughtUp(k.admin, group, input), {
      timeoutMs: 120_000,
      intervalMs: 200,
    });
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0, second.stderr().slice(-2000));

    const outputs = await readCounterOutputs(k.kafka, k.admin, k.prefix);
    for (let key = 0; key < KEYS; key++) {
      assert.deepEqual(
        outputs.get(`k${key}`),
        Array.from({ length: PER_KEY }, (_, i) => BigInt(i + 1)),
        `every output of k${key} once, in order`,
      );
    }
  });

  it('a stop asked for while the instance is joining its group stops it on the first signal', async (t) => {
    const { group } = counterTopics(k.prefix);
    // A static member that is gone without leaving: the group waits for it (up to the session and
    // rebalance timeouts) before a new member with another instance id can complete its join.
    const gone = start(`${k.prefix}-gone`);
    await waitFor(
      'the first member in the group',
      async () => (await k.admin.describeGroup(group).catch(() => undefined))?.state === 'Stable',
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    await waitFor(
      'the first member processing',
      () => /partitions restored and processing/.test(gone.stderr()),
      {
        timeoutMs: 60_000,
      },
    );
    gone.child.kill('SIGKILL');
    await gone.exited;

    const joining = start(`${k.prefix}-joining`);
    await waitFor(
      'the new member joining (the group rebalancing, waiting for the member that is gone)',
      async () => (await k.admin.describeGroup(group).catch(() => undefined))?.state === 'PreparingRebalance',
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    await sleep(500);
    const signalledAt = performance.now();
    joining.child.kill('SIGINT');
    const code = await Promise.race([
      joining.exited,
      sleep(SESSION_TIMEOUT_MS / 2).then(() => 'still running'),
    ]);
    const stoppedMs = performance.now() - signalledAt;
    assert.equal(code, 0, `one SIGINT while joining: ${joining.stderr().slice(-2000)}`);
    // It stopped during the join: it never got partitions, and the group is still waiting.
    assert.doesNotMatch(joining.stderr(), /partitions restored and processing/);
    const state = (await k.admin.describeGroup(group)).state;
    assert.notEqual(state, 'Stable', 'the join had not completed when the instance stopped');
    const message = `stopped ${Math.round(stoppedMs)} ms after one SIGINT during its join (group ${state})`;
    t.diagnostic(message);
    console.log(message);
  });
});

describe('processor host: two processes with one instance id', { timeout: 300_000 }, () => {
  let k: TestKafka;
  let env: Record<string, string>;
  const runs: RunningCli[] = [];
  before(async () => {
    k = await testKafka('fenced');
    await k.createTopics([COUNTER_INPUT]);
    env = { ...k.env, MESHPIPE_CONFIG: testConfigFile(['counter']) };
  });
  after(async () => {
    for (const run of runs) run.child.kill('SIGKILL');
    await k.cleanup();
  });

  // A static member fenced once may have been fenced by itself (a join answered on a broken
  // connection after the coordinator moved): it joins again. Fenced again soon, the id is another's.
  it('the older is fenced out, joins again once, and stops naming the id when fenced again; the newer keeps processing', async () => {
    const { group, input } = counterTopics(k.prefix);
    const instance = `${k.prefix}-shared`;
    const start = () => {
      const run = startCli(['process', COUNTER_PATH, '--json'], { ...env, MESHPIPE_INSTANCE_ID: instance });
      runs.push(run);
      return run;
    };
    const older = start();
    await waitFor('the older processing', () => /partitions restored and processing/.test(older.stderr()), {
      timeoutMs: 60_000,
    });
    const newer = start();
    // Unref'd: a timer left running kept the file alive ~2 minutes after its tests passed.
    const code = await Promise.race([older.exited, sleep(120_000, 'still running', { ref: false })]);
    assert.equal(code, 69, `the older stops, unavailable: ${older.stderr().slice(-3000)}`);
    assert.match(older.stderr(), /joining again with a new consumer/, 'it joined again once first');
    assert.match(older.stderr(), /MESHPIPE_ERR_KAFKA_GROUP_INSTANCE_FENCED/);
    assert.match(older.stderr(), new RegExp(instance));
    assert.equal(newer.child.exitCode, null, `the newer runs on: ${newer.stderr().slice(-3000)}`);

    await produceCounterInputs(k.kafka, k.prefix, counterInputs(4, 10));
    await waitFor('the newer consuming the input to its end', () => caughtUp(k.admin, group, input), {
      timeoutMs: 120_000,
      intervalMs: 200,
    });
    const members = (await k.admin.describeGroup(group)).members;
    assert.deepEqual(
      members.map((m) => [m.groupInstanceId, m.partitions.length]),
      [[instance, COUNTER_INPUT.partitions]],
      'one member holds the id and every partition',
    );
    newer.child.kill('SIGTERM');
    assert.equal(await newer.exited, 0, newer.stderr().slice(-2000));
  });
});
