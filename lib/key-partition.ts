/**
 * Which partition a key goes to: the Java client's default partitioner (murmur2 of the key bytes,
 * made positive, modulo the partition count), so a key lands on the same partition whichever client
 * wrote it — Java, librdkafka with `murmur2_random`, kafkajs's DefaultPartitioner, or meshpipe's own
 * batching, which groups values by the partition their key would have gone to (schemas/topics.ts).
 *
 * Reference: org.apache.kafka.common.utils.Utils#murmur2 and #toPositive.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Java's Utils.murmur2 over bytes (a signed 32-bit result). */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const length4 = length >> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  // The 1 to 3 bytes after the last full word (Java folds them in with a falling-through switch).
  const tail = length & ~3;
  const rest = length & 3;
  if (rest === 3) h ^= data[tail + 2]! << 16;
  if (rest >= 2) h ^= data[tail + 1]! << 8;
  if (rest >= 1) {
    h ^= data[tail]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

const encoder = new TextEncoder();

/** Java's toPositive(murmur2(key)): the partition of the key among P partitions is this modulo P. */
export function keyHash(key: string | Uint8Array): number {
  return murmur2(typeof key === 'string' ? encoder.encode(key) : key) & 0x7fffffff;
}

/** The partition of a key among `partitions` (Java's toPositive(murmur2(key)) % partitions). */
export function partitionOfKey(key: string | Uint8Array, partitions: number): number {
  return keyHash(key) % partitions;
}
