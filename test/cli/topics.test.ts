import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
// kafkajs, an independent client, checks what `meshpipe topics` (meshpipe's own adapter) created.
import { type Admin, Kafka as Kafkajs, logLevel } from 'kafkajs';
import { TOPICS } from '../../schemas/topics.ts';
import { type TestKafka, testKafka } from '../../testkit/kafka.ts';
import { runCli } from '../helpers/cli.ts';

interface TopicsOutput {
  ok: boolean;
  topics: Array<{ name: string; state: string; partitions: number; problems: string[] }>;
}

describe('meshpipe topics', () => {
  let k: TestKafka;
  let independent: Admin;
  before(async () => {
    k = await testKafka('topics');
    independent = new Kafkajs({ brokers: k.brokers, logLevel: logLevel.NOTHING }).admin();
    await independent.connect();
  });
  after(async () => {
    await independent.disconnect();
    await k.cleanup();
  });

  it('creates every topic with its definition, then verifies them', async () => {
    const first = await runCli(['topics', '--json'], { env: k.env });
    assert.equal(first.code, 0, first.stderr);
    const created = JSON.parse(first.stdout) as TopicsOutput;
    assert.equal(created.topics.length, Object.keys(TOPICS).length);
    assert.ok(created.topics.every((t) => t.state === 'created'));

    const metadata = await independent.fetchTopicMetadata({ topics: [k.topic('raw')] });
    assert.equal(metadata.topics[0]!.partitions.length, TOPICS.raw.partitions);
    const configs = await independent.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2, name: k.topic('dlq'), configNames: ['retention.ms', 'cleanup.policy'] }],
    });
    const entries = configs.resources[0]!.configEntries;
    assert.equal(
      entries.find((e) => e.configName === 'retention.ms')?.configValue,
      String(TOPICS.dlq.retentionMs),
    );

    const second = await runCli(['topics', '--json'], { env: k.env });
    assert.equal(second.code, 0);
    assert.ok((JSON.parse(second.stdout) as TopicsOutput).topics.every((t) => t.state === 'ok'));
  });

  it('reports a topic with too few partitions (exit 1) and --fix raises them', async () => {
    await k.admin.deleteTopics([k.topic('spans')]);
    await k.admin.createTopics([{ topic: k.topic('spans'), numPartitions: 2 }]);
    const r = await runCli(['topics', '--json'], { env: k.env });
    assert.equal(r.code, 1);
    const spans = (JSON.parse(r.stdout) as TopicsOutput).topics.find((t) => t.name === k.topic('spans'))!;
    assert.equal(spans.state, 'mismatch');
    assert.match(spans.problems.join(), /2 partitions/);

    const fixed = await runCli(['topics', '--fix', '--json'], { env: k.env });
    assert.equal(fixed.code, 0, fixed.stdout);
    const metadata = await independent.fetchTopicMetadata({ topics: [k.topic('spans')] });
    assert.equal(metadata.topics[0]!.partitions.length, TOPICS.spans.partitions);
  });

  it('fails clearly when Kafka is unreachable', async () => {
    const r = await runCli(['topics'], { env: { MESHPIPE_KAFKA_BROKERS: '127.0.0.1:1' }, timeoutMs: 90_000 });
    assert.equal(r.code, 69);
    assert.match(r.stderr, /MESHPIPE_ERR_KAFKA_UNREACHABLE/);
    assert.match(r.stderr, /127\.0\.0\.1:1/);
  });
});
