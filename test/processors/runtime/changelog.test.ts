import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
// The changelog is written by kafkajs, an independent client, and read back by the host's restore.
import { Kafka as Kafkajs, logLevel } from 'kafkajs';
import { changelogMessages, restoreState } from '../../../processors/runtime/changelog.ts';
import type { AnyProcessorDefinition } from '../../../processors/runtime/definition.ts';
import { PartitionStores } from '../../../processors/runtime/partition-stores.ts';
import { jsonStateCodec } from '../../../processors/runtime/state-codec.ts';
import { jsonStore } from '../../../processors/runtime/store-types.ts';
import { type TestKafka, testKafka, testLogger } from '../../../testkit/kafka.ts';

const codec = jsonStateCodec<unknown>();

/** The stores of a partition of a processor with one store, `state`. */
function partitionStores(): PartitionStores {
  const definition = {
    name: 'changelog-test',
    stores: { state: jsonStore() },
  } as unknown as AnyProcessorDefinition;
  return new PartitionStores({
    definition,
    access: 'copy',
    check: () => {},
    unreadable: (_, error) => {
      throw error;
    },
  });
}

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
        Object.entries(changes).map(([key, v]) => [
          `state/${key}`,
          { store: 'state', value: v === null ? null : codec.encode(v) },
        ]),
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

    const stores = new Map([0, 1].map((p) => [p, partitionStores()]));
    const result = await restoreState({
      kafka: k.kafka,
      admin: k.admin,
      topic,
      stores,
      logger: testLogger,
    });
    const state = (p: number) => {
      const store = stores.get(p)!.store('state')!;
      return Object.fromEntries([...store.keys()].map((key) => [key, store.get(key)]));
    };
    assert.deepEqual(state(0), { a: 1, d: Buffer.from('x') });
    assert.deepEqual(state(1), { other: 'partition' });
    assert.equal(result.records, 5, 'aborted records are never read');
    // The restore reads without a consumer group: none is left behind.
    const groups = await k.admin.listGroups();
    assert.ok(!groups.some((g) => g.startsWith(k.prefix)), groups.join(' '));
  });
});
