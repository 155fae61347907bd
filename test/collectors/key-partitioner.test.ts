import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PartitionMetadata } from 'kafkajs';
import { memoizedKeyPartitioner } from '../../collectors/key-partitioner.ts';
import { partitioner } from '../../lib/kafka.ts';

const metadata = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, i) => ({
    partitionId: i,
    leader: 1,
    replicas: [1],
    isr: [1],
    partitionErrorCode: 0,
    offlineReplicas: [],
  }));

describe('memoized key partitioner', () => {
  it('answers exactly what the project partitioner answers, for the same key object or an equal one', () => {
    const plain = partitioner();
    const memo = memoizedKeyPartitioner();
    for (const partitions of [1, 6, 7, 24]) {
      for (let i = 0; i < 500; i++) {
        const key = Buffer.from(`10.0.${i % 7}.1:${40000 + i}|10.0.0.2:8080`);
        const args = { topic: 't', partitionMetadata: metadata(partitions), message: { key, value: null } };
        const expected = plain(args);
        assert.equal(memo(args), expected);
        assert.equal(memo(args), expected, 'cached');
        assert.equal(memo({ ...args, message: { key: Buffer.from(key), value: null } }), expected);
      }
    }
  });

  it('recomputes when the partition count changes, and honours an explicit partition', () => {
    const memo = memoizedKeyPartitioner();
    const plain = partitioner();
    const key = Buffer.from('10.0.0.1:41234|10.0.0.2:8080');
    const at = (n: number) => ({ topic: 't', partitionMetadata: metadata(n), message: { key, value: null } });
    memo(at(6));
    assert.equal(memo(at(24)), plain(at(24)));
    assert.equal(memo({ ...at(6), message: { key, value: null, partition: 5 } }), 5);
  });
});
