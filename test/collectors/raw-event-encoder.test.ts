/**
 * The hot-path encoder writes exactly the bytes of the codec (schemas/codec.ts), for the fixture event,
 * for generated events covering every field's edge cases (longs beyond 2^53 and at the 64-bit limits,
 * negative ints, empty and non-ASCII strings, null and non-null unions, many segments), and its records
 * decode back to the event.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createRawEventEncoder } from '../../collectors/raw-event-encoder.ts';
import { codecFor } from '../../schemas/codec.ts';
import type { L7RawEvent } from '../../schemas/types.ts';
import { RAW_EVENT } from '../helpers/fixtures.ts';

const codec = codecFor<L7RawEvent>('l7-raw-event');
const encoder = createRawEventEncoder()!;

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

const segment = fc.record({
  kind: fc.constantFrom('HEAD', 'BODY', 'UNKNOWN' as const),
  length: long,
  data: nullable(fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a))),
  endsMessage: fc.boolean(),
});

const event: fc.Arbitrary<L7RawEvent> = fc.record({
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
  }),
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
  }),
  direction: fc.constantFrom('EGRESS', 'INGRESS', 'NONE' as const),
  syscall: fc.constantFrom('READ', 'WRITEV', 'RECVMSG', 'SENDFILE', 'CLOSE', 'OTHER' as const),
  byteCount: long,
  protocol: fc.constantFrom('UNKNOWN', 'HTTP1' as const),
  segments: fc.array(segment, { maxLength: 8 }),
  truncated: fc.boolean(),
  redactions: int,
  errno: nullable(int),
});

describe('raw-event encoder', () => {
  it("writes the codec's bytes for the fixture event", () => {
    assert.deepEqual(encoder.encode(RAW_EVENT), codec.encode(RAW_EVENT));
    assert.equal(encoder.schemaId, codec.schema.id);
  });

  it("writes the codec's bytes for any event, and they decode back to it", () => {
    fc.assert(
      fc.property(event, (e) => {
        const fast = encoder.encode(e);
        assert.deepEqual(fast, codec.encode(e));
        assert.deepEqual(codec.decode(fast), codec.decode(codec.encode(e)));
      }),
      { numRuns: 1000 },
    );
  });

  it('hands out records that stay intact while later ones are written (slabs are never reused)', () => {
    const first = encoder.encode(RAW_EVENT);
    const copy = Buffer.from(first);
    for (let i = 0; i < 2000; i++) encoder.encode({ ...RAW_EVENT, seq: BigInt(i) });
    assert.deepEqual(first, copy);
  });

  it('leaves nothing half-written behind a value it cannot encode', () => {
    assert.throws(() => encoder.encode({ ...RAW_EVENT, kind: 'NOPE' as 'DATA' }));
    assert.deepEqual(encoder.encode(RAW_EVENT), codec.encode(RAW_EVENT));
  });
});
