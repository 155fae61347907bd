import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jsonLines, runCli } from '../helpers/cli.ts';
import { type TestKafka, testKafka, testRedisUrl } from '../helpers/kafka.ts';

interface UpStatus {
  kafka: { healthy: boolean; brokers: string[] };
  redis: { healthy: boolean | null };
  topics: number;
  components: Array<{ name: string; state: string }>;
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
