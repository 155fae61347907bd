import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
// kafkajs's Java-compatible partitioner: an independent reference for where a key lands.
import { Partitioners } from 'kafkajs';
import { keyHash, murmur2, partitionOfKey } from '../../lib/key-partition.ts';

const metadata = (n: number) =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: 1,
    replicas: [1],
    isr: [1],
    partitionErrorCode: 0,
  }));

describe('key partition', () => {
  it('agrees with the Java-compatible partitioner of the Kafka client for any key and partition count', () => {
    const clients = Partitioners.DefaultPartitioner();
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.uint8Array({ maxLength: 70 })),
        fc.integer({ min: 1, max: 64 }),
        (key, n) => {
          const buffer = typeof key === 'string' ? Buffer.from(key) : Buffer.from(key);
          const expected = clients({
            topic: 't',
            partitionMetadata: metadata(n),
            message: { key: buffer, value: null },
          });
          assert.equal(partitionOfKey(key, n), expected);
          assert.equal(keyHash(key) % n, expected);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it("matches Java's Utils.murmur2 on known values", () => {
    // From org.apache.kafka.common.utils.UtilsTest#testMurmur2.
    const cases: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [text, hash] of cases) assert.equal(murmur2(Buffer.from(text)), hash, text);
  });
});
