import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type TestKafka, testKafka, testRedisUrl } from '../../testkit/kafka.ts';
import { CLI, jsonLines, runCli } from '../helpers/cli.ts';
import { waitFor } from '../helpers/wait.ts';

interface UpStatus {
  kafka: { healthy: boolean; brokers: string[] };
  redis: { healthy: boolean | null };
  topics: number;
  components: Array<{ name: string; state: string; pid: number | null }>;
}

describe('meshpipe up', () => {
  let k: TestKafka;
  before(async () => {
    k = await testKafka('up');
  });
  after(async () => k.cleanup());

  it('reports Kafka and Redis healthy, creates the topics, and stops after --duration', async () => {
    // A password in the Redis URL (the test Redis's default user takes any: `nopass`) is never printed.
    const redisUrl = (await testRedisUrl()).replace('redis://', 'redis://default:S3CR3Tredis@');
    const r = await runCli(['up', '--duration', '3', '--json'], {
      env: { ...k.env, MESHPIPE_REDIS_URL: redisUrl },
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!`${r.stdout}${r.stderr}`.includes('S3CR3T'), 'the Redis password was printed');
    assert.match(r.stdout, /redis:\/\/default:\*\*\*@/);
    const statuses = jsonLines(r.stdout) as UpStatus[];
    assert.ok(statuses.length >= 1);
    assert.equal(statuses[0]!.kafka.healthy, true);
    assert.equal(statuses[0]!.redis.healthy, true);
    assert.ok(statuses[0]!.topics >= 5);
    const topics = await k.admin.listTopics();
    assert.ok(topics.includes(k.topic('raw')));
  });

  it('exits non-zero naming the key on bad configuration', async () => {
    const r = await runCli(['up', '--duration', '1'], { env: { MESHPIPE_TOPIC_PREFIX: 'bad prefix!' } });
    assert.equal(r.code, 78);
    assert.match(r.stderr, /kafka\.topicPrefix/);
  });
});

/**
 * `meshpipe up | tee up.log`, then Ctrl-C: the terminal signals both, tee dies first, and `up` gets EPIPE
 * on stdout. Whatever happens to its stdout, a signal (or the closed pipe alone) must stop every component
 * and every service `up` started. Here `up` starts its own Redis in a stack directory of the test's (so
 * the witness is a service it started) and its components; the test reads the first status line (their
 * pids), closes the pipe as tee would, and signals.
 */
describe('meshpipe up stops what it started when its stdout goes away', () => {
  let k: TestKafka;
  before(async () => {
    k = await testKafka('up-signals');
  });
  after(async () => k.cleanup());

  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };

  for (const signals of [
    [],
    ['SIGINT'],
    ['SIGTERM'],
    ['SIGHUP'],
    ['SIGINT', 'SIGINT'],
  ] as NodeJS.Signals[][]) {
    const name = signals.length === 0 ? 'the closed pipe alone' : signals.join(' then ');
    it(`${name}: components and the Redis it started are stopped`, { timeout: 180_000 }, async () => {
      const stackDir = mkdtempSync(join(tmpdir(), 'meshpipe-up-stack-'));
      const up = spawn(process.execPath, [CLI, 'up', '--no-collector', '--json'], {
        env: {
          ...process.env,
          ...k.env,
          MESHPIPE_REDIS_URL: '',
          MESHPIPE_STACK_DIR: stackDir,
          MESHPIPE_PROMETHEUS_LISTEN: '127.0.0.1:0',
          // Info: the "stopping" line is how the test knows a first signal arrived.
          MESHPIPE_LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      up.stderr.on('data', (d) => {
        stderr += d;
      });
      const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
      const first = await new Promise<UpStatus>((resolve, reject) => {
        let buffered = '';
        up.stdout.on('data', (d) => {
          buffered += d;
          const newline = buffered.indexOf('\n');
          if (newline >= 0) resolve(JSON.parse(buffered.slice(0, newline)));
        });
        up.once('exit', () => reject(new Error(`up exited before its first status line: ${stderr}`)));
      });
      // The reader goes away, like tee killed by the same Ctrl-C.
      up.stdout.destroy();
      const pids = first.components.map((c) => c.pid).filter((p): p is number => p !== null);
      const redisPid = (
        JSON.parse(readFileSync(join(stackDir, 'state.json'), 'utf8')) as { redis: { pid: number } }
      ).redis.pid;
      assert.ok(pids.length >= 5, `components: ${JSON.stringify(first.components)}`);
      assert.ok(alive(redisPid), 'up started a Redis');
      for (const [i, signal] of signals.entries()) {
        // A second Ctrl-C while `up` is stopping: the user insists.
        if (i > 0) await waitFor('up to start stopping', () => stderr.includes('"msg":"stopping"'));
        up.kill(signal);
      }
      const code = await exited;
      await waitFor(
        `every component and Redis gone after up exited (code ${code})`,
        () => [...pids, redisPid].every((pid) => !alive(pid)),
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      assert.doesNotMatch(stderr, /unexpected error/, stderr);
    });
  }
});
