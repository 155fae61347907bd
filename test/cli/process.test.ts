import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { choosePort } from '../../cli/stack/ports.ts';
import { canConnect } from '../../lib/local-stack-state.ts';
import { type TestKafka, testKafka } from '../../testkit/kafka.ts';
import { jsonLines, runCli } from '../helpers/cli.ts';
import { waitFor } from '../helpers/wait.ts';
import { COUNTER_INPUT } from '../processors/runtime/fixtures/counter.ts';
import {
  COUNTER_PATH,
  caughtUp,
  counterInputs,
  counterTopics,
  LOOPER_PATH,
  produceCounterInputs,
  type RunningCli,
  readCounterOutputs,
  startCli,
  testConfigFile,
} from '../processors/runtime/helpers.ts';

interface Status {
  components: Array<{ name: string; restarts: number; state: string }>;
}

describe('meshpipe process', () => {
  let k: TestKafka;
  const runs: RunningCli[] = [];
  before(async () => {
    k = await testKafka('process');
    await k.createTopics([COUNTER_INPUT]);
  });
  after(async () => {
    for (const run of runs) run.child.kill('SIGKILL');
    await k.cleanup();
  });

  it('isolates processors: one stuck in a loop is killed and restarted while the other keeps producing', async () => {
    const env = { ...k.env, MESHPIPE_CONFIG: testConfigFile(['counter', 'looper']) };
    await produceCounterInputs(k.kafka, k.prefix, counterInputs(10, 20));
    const run = startCli(['process', LOOPER_PATH, COUNTER_PATH, '--stall-timeout', '3', '--json'], env);
    runs.push(run);
    const { group, input } = counterTopics(k.prefix);
    await waitFor('the counter to consume everything', () => caughtUp(k.admin, group, input), {
      timeoutMs: 60_000,
    });
    const restarted = await waitFor(
      'the looper to be restarted',
      () =>
        (jsonLines(run.stdout()) as Status[])
          .flatMap((s) => s.components)
          .find((c) => c.name === 'processor/looper' && c.restarts >= 1),
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    assert.equal(restarted.name, 'processor/looper');
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0, run.stderr().slice(-2000));
    const outputs = await readCounterOutputs(k.kafka, k.admin, k.prefix);
    assert.equal(outputs.size, 10);
    for (const counts of outputs.values()) assert.equal(counts.length, 20);
  });

  it('--metrics-port serves /metrics, /healthz and /readyz on 127.0.0.1 unless --metrics-host says otherwise', async () => {
    const env = { ...k.env, MESHPIPE_CONFIG: testConfigFile(['counter']) };
    // An address of this machine that is not loopback: where a Prometheus elsewhere would connect.
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
    for (const host of [undefined, '0.0.0.0']) {
      const port = await choosePort(39_464);
      const args = ['process', COUNTER_PATH, '--metrics-port', String(port)];
      const run = startCli(host === undefined ? args : [...args, '--metrics-host', host], env);
      runs.push(run);
      const base = `http://127.0.0.1:${port}`;
      await waitFor(
        '/readyz 200 once processing',
        async () => (await fetch(`${base}/readyz`)).status === 200,
        {
          timeoutMs: 60_000,
        },
      );
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      assert.match(
        await (await fetch(`${base}/metrics`)).text(),
        /^meshpipe_processor_partitions\{processor="counter"\} /m,
      );
      if (external !== undefined) {
        const reached = await canConnect(port, external);
        assert.equal(
          reached,
          host === '0.0.0.0',
          `${external}:${port} reachable with --metrics-host ${host ?? '(default)'}`,
        );
      }
      run.child.kill('SIGTERM');
      assert.equal(await run.exited, 0, run.stderr().slice(-2000));
    }
  });

  it('stops on bad configuration, naming the key', async () => {
    const env = { ...k.env, MESHPIPE_CONFIG: testConfigFile(['counter'], { counter: { stepp: 2 } }) };
    const r = await runCli(['process', COUNTER_PATH], { env });
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, /"processors\.counter\.stepp"; did you mean "processors\.counter\.step"/);
  });

  it('names an unknown processor and where the known ones are listed', async () => {
    const r = await runCli(['process', 'no-such-processor'], { env: k.env });
    assert.equal(r.code, 64);
    assert.match(r.stderr, /MESHPIPE_ERR_PROCESSOR_NOT_FOUND/);
    assert.match(r.stderr, /meshpipe processor list/);
  });
});
