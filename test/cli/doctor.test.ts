import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkBpfPermission, checkKernel } from '../../cli/stack/doctor.ts';
import { testBrokers, testRedisUrl } from '../../testkit/kafka.ts';
import { runCli } from '../helpers/cli.ts';

interface DoctorOutput {
  ok: boolean;
  checks: Array<{ name: string; status: 'ok' | 'warn' | 'fail'; detail: string; fix?: string }>;
}

describe('meshpipe doctor', () => {
  it('--json is valid JSON covering every check, with Kafka and Redis reachable', async () => {
    const brokers = await testBrokers();
    const redisUrl = await testRedisUrl();
    const r = await runCli(['doctor', '--json'], {
      env: { MESHPIPE_KAFKA_BROKERS: brokers.join(','), MESHPIPE_REDIS_URL: redisUrl },
    });
    const out = JSON.parse(r.stdout) as DoctorOutput;
    const names = out.checks.map((c) => c.name);
    for (const n of [
      'node',
      'kernel',
      'btf',
      'tracefs',
      'bpf-permission',
      'bpf-programs',
      'tls',
      'java',
      'kafka-jars',
      'kafka',
      'redis',
    ]) {
      assert.ok(names.includes(n), `check ${n}`);
    }
    const byName = Object.fromEntries(out.checks.map((c) => [c.name, c]));
    assert.equal(byName.kafka!.status, 'ok', byName.kafka!.detail);
    assert.equal(byName.redis!.status, 'ok', byName.redis!.detail);
    for (const c of out.checks) if (c.status !== 'ok') assert.ok(c.fix, `${c.name} has a fix hint`);
    assert.equal(r.code, out.ok ? 0 : 1);
  });

  it('fails the Kafka check with a fix when the broker is unreachable', async () => {
    const r = await runCli(['doctor', '--json'], { env: { MESHPIPE_KAFKA_BROKERS: '127.0.0.1:1' } });
    const out = JSON.parse(r.stdout) as DoctorOutput;
    const kafka = out.checks.find((c) => c.name === 'kafka')!;
    assert.equal(kafka.status, 'fail');
    assert.match(kafka.fix!, /MESHPIPE_KAFKA_BROKERS/);
    assert.equal(r.code, 1);
  });

  it('judges kernel versions and capabilities', () => {
    assert.equal(checkKernel('5.4.0-42-generic').status, 'fail');
    assert.equal(checkKernel('6.18.44').status, 'ok');
    assert.equal(checkBpfPermission('CapEff:\t0000000000000000\n').status, 'fail');
    assert.equal(checkBpfPermission('CapEff:\t000000c000000000\n').status, 'ok'); // CAP_PERFMON + CAP_BPF
    assert.equal(checkBpfPermission('CapEff:\t0000000000200000\n').status, 'ok'); // CAP_SYS_ADMIN
  });
});
