import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
// The changelog is written by kafkajs, an independent client, and read back by the host's restore.
import { Kafka as Kafkajs, logLevel } from 'kafkajs';
import { changelogMessages, restoreState } from '../../../processors/runtime/changelog.ts';
import { jsonStateCodec } from '../../../processors/runtime/state-codec.ts';
import { StateStore } from '../../../processors/runtime/state-store.ts';
import { type TestKafka, testKafka, testLogger } from '../../../testkit/kafka.ts';

const codec = jsonStateCodec<unknown>();

describe('changelog restore', () => {
  let k: TestKafka;
  let topic: string;
  before(async () => {
    k = await testKafka('changelog');
    topic = `${k.prefix}.test.changelog.v1`;
    await k.admin.createTopics([{ topic, numPartitions: 2, config: { 'cleanup.policy': 'compact' } }]);
  });
  after(async () => k.cleanup());

  it('rebuilds exactly the committed changes of each partition, deletes included', async () => {
    const producer = new Kafkajs({ brokers: k.brokers, logLevel: logLevel.NOTHING }).producer({
      transactionalId: `${k.prefix}-writer`,
      maxInFlightRequests: 1,
      idempotent: true,
    });
    await producer.connect();
    const write = async (partition: number, changes: Record<string, unknown>, commit: boolean) => {
      const map = new Map(
        Object.entries(changes).map(([key, v]) => [key, v === null ? null : codec.encode(v)]),
      );
      const txn = await producer.transaction();
      await txn.send({
        topic,
        messages: changelogMessages(map, partition) as Array<{
          key: Buffer;
          value: Buffer | null;
          partition: number;
        }>,
      });
      await (commit ? txn.commit() : txn.abort());
    };
    await write(0, { a: 1, b: { at: 5n } }, true);
    await write(0, { a: 99, c: 'aborted' }, false);
    await write(0, { b: null, d: Buffer.from('x') }, true);
    await write(1, { other: 'partition' }, true);
    await producer.disconnect();

    const stores = new Map([
      [0, new StateStore<unknown>(codec)],
      [1, new StateStore<unknown>(codec)],
    ]);
    const result = await restoreState({
      kafka: k.kafka,
      admin: k.admin,
      topic,
      stores,
      logger: testLogger,
    });
    const state = (p: number) =>
      Object.fromEntries([...stores.get(p)!.keys()].map((key) => [key, stores.get(p)!.get(key)]));
    assert.deepEqual(state(0), { a: 1, d: Buffer.from('x') });
    assert.deepEqual(state(1), { other: 'partition' });
    assert.equal(result.records, 5, 'aborted records are never read');
    // The restore reads without a consumer group: none is left behind.
    const groups = await k.admin.listGroups();
    assert.ok(!groups.some((g) => g.startsWith(k.prefix)), groups.join(' '));
  });
});
