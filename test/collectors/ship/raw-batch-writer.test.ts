/**
 * The collector's batch writer: whatever events it accepts, in whatever order and with whatever field
 * values (longs beyond 2^53 and at the 64-bit limits, negative ints, empty and non-ASCII strings, null
 * and non-null unions, many segments, clock offsets that move, deltas that leave the int range), the
 * batch records it hands out decode — through the same reader every consumer uses — to exactly those
 * events, with consecutive sequence numbers, each on the partition its connection key hashes to, in
 * order within a partition.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RawBatchWriter } from '../../../collectors/ship/raw-batch-writer.ts';
import { partitionOfKey } from '../../../lib/key-partition.ts';
import { toJsonSafe } from '../../../schemas/codec.ts';
import { topicCodec } from '../../../schemas/topic-codec.ts';
import { TOPICS } from '../../../schemas/topics.ts';
import type { L7RawEvent } from '../../../schemas/types.ts';
import { RAW_EVENT } from '../../../testkit/fixtures.ts';

const codec = topicCodec<L7RawEvent>(TOPICS.raw);
const NO_LIMIT = { maxEvents: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER };

const long = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.constantFrom(
    0n,
    -1n,
    1n,
    2n ** 53n,
    -(2n ** 53n),
    2n ** 63n - 1n,
    -(2n ** 63n),
    1_796_000_000_123_456_789n,
  ),
  fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n }),
);
const int = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.constantFrom(0, -1, 63, 64, -65, 8191, 8192),
);
const text = fc.oneof(fc.string(), fc.constantFrom('', 'é→✓', 'x'.repeat(300)));
const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });

/** A syscall moves at most 2^31 - 4096 bytes (Linux MAX_RW_COUNT): what the compact form holds. */
const byteCount = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 31n - 4096n }),
  fc.constantFrom(0n, 2n ** 31n - 4096n),
);

const segment = fc.record({
  kind: fc.constantFrom('HEAD', 'BODY', 'UNKNOWN' as const),
  length: byteCount,
  data: nullable(fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a))),
  endsMessage: fc.boolean(),
});

const h2Event = fc.record({
  kind: fc.constantFrom('HEADERS', 'DATA', 'RST_STREAM', 'GOAWAY', 'GAP' as const),
  sender: fc.constantFrom('CLIENT', 'SERVER', 'UNKNOWN' as const),
  streamId: int,
  offsetNs: long,
  endStream: fc.boolean(),
  fields: fc.array(fc.record({ name: nullable(text), value: nullable(text) }), { maxLength: 6 }),
  unresolved: int,
  hpackError: nullable(text),
  lost: nullable(text),
  promisedStreamId: nullable(int),
  length: int,
  grpcMessages: int,
  grpcMessagesExact: fc.boolean(),
  errorCode: long,
  reason: nullable(text),
});

const eventArb: fc.Arbitrary<L7RawEvent> = fc.record({
  kind: fc.constantFrom('DATA', 'OPEN', 'CLOSE', 'CONNECT_FAILED' as const),
  timeUnixNano: long,
  monotonicNs: long,
  node: text,
  seq: long,
  process: fc.record({
    pid: int,
    tid: int,
    comm: text,
    exe: nullable(text),
    cgroupId: long,
    containerId: nullable(text),
  }),
  workload: fc.record({
    netnsInode: long,
    pod: nullable(text),
    namespace: nullable(text),
    workload: nullable(text),
    service: text,
    podUid: nullable(text),
    container: nullable(text),
    workloadKind: nullable(text),
  }),
  peer: nullable(
    fc.record({
      service: text,
      namespace: nullable(text),
      pod: nullable(text),
      workload: nullable(text),
      workloadKind: nullable(text),
    }),
  ),
  connection: fc.record({
    key: text,
    id: long,
    fd: int,
    generation: int,
    role: fc.constantFrom('CLIENT', 'SERVER', 'UNKNOWN' as const),
    roleInferred: fc.boolean(),
    family: fc.constantFrom('IPV4', 'IPV6' as const),
    localAddress: text,
    localPort: int,
    peerAddress: text,
    peerPort: int,
    openedUnixNano: nullable(long),
    translatedPeerAddress: nullable(text),
    translatedPeerPort: nullable(int),
  }),
  direction: fc.constantFrom('EGRESS', 'INGRESS', 'NONE' as const),
  syscall: fc.constantFrom('READ', 'WRITEV', 'RECVMSG', 'SENDFILE', 'CLOSE', 'OTHER' as const),
  byteCount,
  protocol: fc.constantFrom('UNKNOWN', 'HTTP1', 'HTTP2' as const),
  segments: fc.array(segment, { maxLength: 8 }),
  truncated: fc.boolean(),
  redactions: int,
  errno: nullable(int),
  causalCandidates: fc.array(nullable(int), { maxLength: 3 }),
  h2: fc.array(h2Event, { maxLength: 4 }),
});

/** Events of one node, with times that mostly stay close and sometimes jump (new windows). */
const events = fc
  .array(
    fc.tuple(eventArb, fc.integer({ min: 0, max: 5 }), fc.bigInt({ min: -(2n ** 34n), max: 2n ** 34n })),
    {
      maxLength: 60,
    },
  )
  .map((list) => {
    let mono = 1_000_000_000n;
    let offset = 1_700_000_000_000_000_000n;
    return list.map(([e, jump, delta]) => {
      mono += jump === 0 ? delta : BigInt(jump) * 1000n;
      if (jump === 5) offset += delta;
      return { ...e, node: 'node-a', monotonicNs: mono, timeUnixNano: mono + offset };
    });
  });

/** What the writer's records hold, per partition, in record order. */
function decodeAll(records: ReturnType<RawBatchWriter['take']>): Map<number, L7RawEvent[]> {
  const out = new Map<number, L7RawEvent[]>();
  for (const r of records) {
    const list = codec.decodeRecord(r.value);
    assert.equal(list.length, r.events);
    out.set(r.partition, [...(out.get(r.partition) ?? []), ...list]);
  }
  return out;
}

function expected(accepted: readonly L7RawEvent[], partitions: number): Map<number, L7RawEvent[]> {
  const out = new Map<number, L7RawEvent[]>();
  accepted.forEach((e, seq) => {
    const p = partitionOfKey(e.connection.key, partitions);
    out.set(p, [...(out.get(p) ?? []), { ...e, seq: BigInt(seq) }]);
  });
  return out;
}

const sorted = (m: Map<number, L7RawEvent[]>) => toJsonSafe([...m].sort((a, b) => a[0] - b[0]));

describe('raw batch writer', () => {
  it('writes batch records that decode to the accepted events, by partition, in order', () => {
    fc.assert(
      fc.property(
        events,
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 9 }),
        (list, partitions, perRecord) => {
          const writer = new RawBatchWriter({ node: 'node-a', maxEvents: 10_000, maxBytes: 1 << 30 });
          for (const e of list) assert.ok(writer.add(e));
          assert.equal(writer.size, list.length);
          const records = writer.take(partitions, { maxEvents: perRecord, maxBytes: 1 << 20 });
          assert.equal(writer.size, 0);
          assert.ok(records.every((r) => r.events <= perRecord));
          assert.deepEqual(sorted(decodeAll(records)), sorted(expected(list, partitions)));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('keeps numbering across takes, and splits a partition by bytes', () => {
    const writer = new RawBatchWriter({ node: RAW_EVENT.node, maxEvents: 10_000, maxBytes: 1 << 30 });
    const first = [
      RAW_EVENT,
      { ...RAW_EVENT, monotonicNs: RAW_EVENT.monotonicNs + 7n, timeUnixNano: RAW_EVENT.timeUnixNano + 7n },
    ];
    for (const e of first) writer.add(e);
    writer.take(6, NO_LIMIT);
    const second = Array.from({ length: 50 }, (_, i) => ({
      ...RAW_EVENT,
      monotonicNs: RAW_EVENT.monotonicNs + BigInt(i),
      timeUnixNano: RAW_EVENT.timeUnixNano + BigInt(i),
    }));
    for (const e of second) writer.add(e);
    const records = writer.take(6, { maxEvents: 1000, maxBytes: 2000 });
    assert.ok(records.length > 1, 'split by bytes');
    assert.ok(
      records.every((r) => r.value.length <= 2000 + 600),
      'about the limit (one event may overshoot)',
    );
    const all = [...decodeAll(records).values()].flat();
    assert.deepEqual(
      all.map((e) => e.seq),
      second.map((_, i) => BigInt(i + first.length)),
    );
  });

  it('refuses events beyond its bounds, and accepts again once they are taken', () => {
    const writer = new RawBatchWriter({ node: RAW_EVENT.node, maxEvents: 3, maxBytes: 1 << 20 });
    assert.ok(writer.add(RAW_EVENT));
    assert.ok(writer.add(RAW_EVENT));
    assert.ok(writer.add(RAW_EVENT));
    assert.equal(writer.add(RAW_EVENT), false);
    assert.equal(writer.nextSeq, 3, 'a refused event gets no sequence number');
    writer.take(6, NO_LIMIT);
    assert.ok(writer.add(RAW_EVENT));
  });

  it('leaves nothing half-written behind an event it cannot encode', () => {
    const writer = new RawBatchWriter({ node: RAW_EVENT.node, maxEvents: 10, maxBytes: 1 << 20 });
    assert.throws(() => writer.add({ ...RAW_EVENT, kind: 'NOPE' as 'DATA' }));
    assert.throws(() => writer.add({ ...RAW_EVENT, byteCount: 2n ** 31n }));
    assert.ok(writer.add(RAW_EVENT));
    const all = [...decodeAll(writer.take(6, NO_LIMIT)).values()].flat();
    assert.deepEqual(toJsonSafe(all), toJsonSafe([{ ...RAW_EVENT, seq: 0n }]));
  });
});
