import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type DataRecord,
  formatIPv6,
  type LoaderRecord,
  MAX_FRAME_SIZE,
  RecordDecoder,
  RecordStreamError,
} from '../../../../collectors/capture/loader/record-decoder.ts';
import { fuzzParameters } from '../../../helpers/avro-hostile.ts';

// Frames captured from the real loader on 127.0.0.1 (curl against `python3 -m http.server 18080`,
// then a curl to the closed port 18081), as [u32 length][record], little-endian.
const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const concat = (...parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts));

/** READY: ABI 1, loader pid 16001, cap 4096, 8 MiB ring, poll 10 ms, async connect. */
const READY_FRAME = hex(`28000000 06000100 813e0000 00100000 00008000 0a000000 01000000
  257232b9fe000000 cceaa39a2b84eb18`);

/** OPEN of curl's connection (pid 16043, fd 5): client, connect(), 127.0.0.1:39226 -> :18080. */
const OPEN_FRAME = hex(`60000000 0200 0a00 00000000 cae5d1e8fe000000 0100000000000000 0100000000000000
  ab3e0000 ab3e0000 05000000 01000000 f9ffffef 01 00 0000
  7f000001000000000000000000000000 7f000001000000000000000000000000 3a99 a046 0200 0000`);

/** DATA: curl's request, sendto(), egress, message start, 79 bytes all captured. */
const DATA_FRAME = hex(`bf000000 0100 0500 01000000 898ed2e8fe000000 0100000000000000 0100000000000000
  ab3e0000 ab3e0000 05000000 01000000 f9ffffef 01 01 0000
  7f000001000000000000000000000000 7f000001000000000000000000000000 3a99 a046 0200 0000
  4f000000 4f000000 e9330000 00000000
  474554202f20485454502f312e310d0a486f73743a203132372e302e302e313a31383038300d0a557365722d
  4167656e743a206375726c2f372e38382e310d0a4163636570743a202a2f2a0d0a0d0a`);
const DATA_PAYLOAD =
  'GET / HTTP/1.1\r\nHost: 127.0.0.1:18080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n';

/** CLOSE of the server side (pid 16000, thread 16044, fd 4): 4750 bytes out, 79 in. */
const CLOSE_FRAME = hex(`78000000 0300 0d00 00000000 ba94f8e8fe000000 0200000000000000 0100000000000000
  803e0000 ac3e0000 04000000 01000000 f9ffffef 02 00 0000
  7f000001000000000000000000000000 7f000001000000000000000000000000 a046 3a99 0200 0000
  07c1d3e8fe000000 8e12000000000000 4f00000000000000`);

/** CONNECT_FAILED: curl to the closed port 18081, refused during the handshake (async). */
const CONNECT_FAILED_FRAME =
  hex(`70000000 0400 0000 00020000 6e315de9fe000000 0000000000000000 0100000000000000
  ad3e0000 ad3e0000 05000000 00000000 f9ffffef 01 00 0000
  7f000001000000000000000000000000 7f000001000000000000000000000000 0000 a146 0200 0000
  106b59e9fe000000 6f000000 00000000`);

/** STATS (hand-made): 10 records forwarded, 3 dropped in user space, 7 ring-full, 2 read-user and 4
 * TLS-unbound drops; 1 iov-limit and 5 read-payload truncations. */
const STATS_FRAME = hex(`a8000000 0500 0000 0c000000 e803000000000000 d007000000000000
  0a00000000000000 ee24000000000000 0a00000000000000 ee24000000000000 0300000000000000 2c01000000000000
  0700000000000000 0000000000000000 0000000000000000 0000000000000000 0200000000000000
  0000000000000000 0100000000000000 0000000000000000 0000000000000000 0400000000000000
  0000000000000000 0500000000000000`);

/** TLS_LIBRARY (from the real loader): the system libssl, found on disk (pid 0), attached to all five
 * functions; device 0xfe00000 (254:0), inode 326786. */
const TLS_LIBRARY_PATH = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const TLS_LIBRARY_FRAME = concat(
  hex(`00010000 0800 0100 00000000 1f000000 00000000 0000e00f00000000 82fc040000000000`),
  Uint8Array.from(
    Buffer.concat([Buffer.from(TLS_LIBRARY_PATH), Buffer.alloc(224 - TLS_LIBRARY_PATH.length)]),
  ),
);

/** NAT (hand-made, as bpf/loader/conntrack.c writes it): connection 1 really reached 10.233.0.3:8080. */
const NAT_FRAME = hex(`28000000 0700 0200 00000000 0100000000000000
  0ae90003000000000000000000000000 901f 0000 00000000`);

const STREAM = concat(
  READY_FRAME,
  TLS_LIBRARY_FRAME,
  NAT_FRAME,
  OPEN_FRAME,
  DATA_FRAME,
  CLOSE_FRAME,
  CONNECT_FAILED_FRAME,
  STATS_FRAME,
);
const KINDS = ['ready', 'tls_library', 'nat', 'open', 'data', 'close', 'connect_failed', 'stats'];

function decodeAll(chunks: Uint8Array[]): LoaderRecord[] {
  const decoder = new RecordDecoder();
  const out = chunks.flatMap((c) => decoder.push(c));
  assert.equal(decoder.end(), 0);
  return out;
}

describe('RecordDecoder', () => {
  it('decodes a READY record', () => {
    const [ready] = decodeAll([READY_FRAME]);
    assert.deepStrictEqual(ready, {
      kind: 'ready',
      abiVersion: 1,
      loaderTgid: 16001,
      captureCap: 4096,
      ringBytes: 8 << 20,
      pollMs: 10,
      features: { asyncConnect: true, tls: false },
      monotonicNs: 1094028784165n,
      realtimeNs: 1795674199250168524n,
    });
  });

  it('decodes a DATA record with its header, tuple and payload', () => {
    const [data] = decodeAll([DATA_FRAME]) as [DataRecord];
    assert.equal(data.kind, 'data');
    assert.equal(data.syscall, 'sendto');
    assert.equal(data.tgid, 16043);
    assert.equal(data.tid, 16043);
    assert.equal(data.fd, 5);
    assert.equal(data.connId, 1);
    assert.equal(data.generation, 1);
    assert.equal(data.timestampNs, 1094827806345n);
    assert.equal(data.direction, 'egress');
    assert.equal(data.role, 'client');
    assert.equal(data.roleInferred, false);
    assert.equal(data.family, 4);
    assert.equal(data.localAddr, '127.0.0.1');
    assert.equal(data.localPort, 39226);
    assert.equal(data.peerAddr, '127.0.0.1');
    assert.equal(data.peerPort, 18080);
    assert.equal(data.cgroupId, 1n);
    assert.equal(data.netnsInode, 4026531833);
    assert.equal(data.byteCount, 79);
    assert.equal(data.durationNs, 13289);
    assert.equal(data.flags.messageStart, true);
    assert.equal(data.flags.response, false);
    assert.equal(data.flags.truncated, false);
    assert.equal(data.flagBits, 1);
    assert.equal(Buffer.from(data.captured).toString('latin1'), DATA_PAYLOAD);
  });

  it('hands out the payload as a view of the chunk, not a copy', () => {
    const chunk = concat(DATA_FRAME);
    const [data] = new RecordDecoder().push(chunk) as [DataRecord];
    assert.equal(data.captured.buffer, chunk.buffer);
    assert.equal(data.captured.byteOffset, chunk.byteOffset + 4 + 112);
  });

  it('decodes OPEN, CLOSE and CONNECT_FAILED', () => {
    const [open, close, failed] = decodeAll([OPEN_FRAME, CLOSE_FRAME, CONNECT_FAILED_FRAME]);
    assert.ok(open?.kind === 'open' && close?.kind === 'close' && failed?.kind === 'connect_failed');
    assert.equal(open.syscall, 'connect');
    assert.equal(open.timestampNs, 1094827763146n);
    assert.equal(open.direction, 'none');
    assert.equal(close.role, 'server');
    assert.equal(close.tid, 16044);
    assert.equal(close.localPort, 18080);
    assert.equal(close.bytesEgress, 4750);
    assert.equal(close.bytesIngress, 79);
    assert.equal(close.openNs, 1094827884807n);
    assert.equal(failed.connId, 0);
    assert.equal(failed.errno, 111);
    assert.equal(failed.errorCode, 'ECONNREFUSED');
    assert.equal(failed.flags.async, true);
    assert.equal(failed.syscall, 'none');
    assert.equal(failed.peerPort, 18081);
    assert.equal(failed.startedNs, 1094836644624n);
  });

  it('decodes a NAT record (loader --conntrack)', () => {
    assert.deepEqual(decodeAll([NAT_FRAME]), [{ kind: 'nat', connId: 1, addr: '10.233.0.3', port: 8080 }]);
  });

  it('decodes a STATS record with every drop reason by name', () => {
    const [stats] = decodeAll([STATS_FRAME]);
    assert.deepStrictEqual(stats, {
      kind: 'stats',
      monotonicNs: 1000n,
      realtimeNs: 2000n,
      ringRecords: 10,
      ringBytes: 9454,
      forwardedRecords: 10,
      forwardedBytes: 9454,
      loaderDroppedRecords: 3,
      loaderDroppedBytes: 300,
      kernelDrops: {
        RINGBUF_FULL: 7,
        CONN_MAP_FULL: 0,
        ARGS_MAP_FULL: 0,
        PENDING_MAP_FULL: 0,
        READ_USER: 2,
        READ_KERNEL: 0,
        IOV_LIMIT: 1,
        CONN_MISMATCH: 0,
        SCRATCH: 0,
        TLS_UNBOUND: 4,
        TLS_NOTICE: 0,
        READ_PAYLOAD: 5,
      },
    });
  });

  it('decodes a TLS_LIBRARY record', () => {
    const [library] = decodeAll([TLS_LIBRARY_FRAME]);
    assert.deepStrictEqual(library, {
      kind: 'tls_library',
      state: 'attached',
      tgid: 0,
      functions: ['SSL_read', 'SSL_read_ex', 'SSL_write', 'SSL_write_ex', 'SSL_do_handshake'],
      error: null,
      dev: 0xfe00000,
      ino: 326786,
      path: TLS_LIBRARY_PATH,
    });
  });

  it('decodes the TLS flag of a connection record', () => {
    const tls = concat(DATA_FRAME);
    const view = new DataView(tls.buffer);
    view.setUint32(4 + 4, view.getUint32(4 + 4, true) | 1024, true);
    view.setUint16(4 + 2, 15, true); // MP_SYS_SSL_WRITE
    const [data] = decodeAll([tls]) as [DataRecord];
    assert.equal(data.flags.tls, true);
    assert.equal(data.syscall, 'ssl_write');
    assert.equal((decodeAll([DATA_FRAME]) as [DataRecord])[0].flags.tls, false);
  });

  it('decodes a stream split at every byte boundary exactly like the whole stream', () => {
    const whole = decodeAll([STREAM]);
    assert.deepStrictEqual(
      whole.map((r) => r.kind),
      KINDS,
    );
    for (let cut = 1; cut < STREAM.length; cut++) {
      const split = decodeAll([STREAM.subarray(0, cut), STREAM.subarray(cut)]);
      assert.deepStrictEqual(split, whole, `split at byte ${cut}`);
    }
  });

  it('decodes a stream delivered one byte per chunk', () => {
    const chunks = Array.from(STREAM, (_, i) => STREAM.subarray(i, i + 1));
    assert.deepStrictEqual(decodeAll(chunks), decodeAll([STREAM]));
  });

  it('reports a truncated tail at end() and keeps the complete records', () => {
    const decoder = new RecordDecoder();
    const cut = READY_FRAME.length + 50;
    const records = decoder.push(STREAM.subarray(0, cut));
    assert.deepStrictEqual(
      records.map((r) => r.kind),
      ['ready'],
    );
    assert.equal(decoder.end(), 50);
    assert.equal(decoder.counters.truncatedBytes, 50);
    assert.deepStrictEqual(decoder.push(READY_FRAME)[0]?.kind, 'ready', 'usable again after end()');
  });

  const MALFORMED: Array<[string, Uint8Array]> = [
    ['an unknown kind', hex('04000000 6300 0000')],
    ['a record shorter than its kind', hex('02000000 0100')],
    [
      'a DATA record whose captured count disagrees with its size',
      concat(hex('c0000000'), DATA_FRAME.subarray(4), hex('00')),
    ],
    ['an empty frame', hex('00000000')],
  ];
  for (const [name, frame] of MALFORMED) {
    it(`skips and counts ${name}, then goes on`, () => {
      const decoder = new RecordDecoder();
      const records = decoder.push(concat(frame, READY_FRAME));
      assert.deepStrictEqual(
        records.map((r) => r.kind),
        ['ready'],
      );
      assert.equal(decoder.counters.malformed, 1);
    });
  }

  it('throws RecordStreamError on a frame length no loader writes (cannot resynchronise)', () => {
    const bad = new Uint8Array(8);
    new DataView(bad.buffer).setUint32(0, MAX_FRAME_SIZE + 1, true);
    assert.throws(() => new RecordDecoder().push(bad), RecordStreamError);
  });

  it('formats IPv6 addresses per RFC 5952', () => {
    const cases: Array<[number[], string]> = [
      [[0, 0, 0, 0, 0, 0, 0, 1], '::1'],
      [[0, 0, 0, 0, 0, 0, 0, 0], '::'],
      [[0xfd00, 0, 0, 0, 0, 0, 0, 2], 'fd00::2'],
      [[0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], '2001:db8::1:0:0:1'],
      [[0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], '2001:db8:0:1:1:1:1:1'],
      [[0xfe80, 0, 0, 0, 0x1ff, 0xfe23, 0x4567, 0x890a], 'fe80::1ff:fe23:4567:890a'],
      [[0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201], '::ffff:192.0.2.1'],
    ];
    for (const [groups, text] of cases) assert.equal(formatIPv6(groups), text);
  });

  it('decodes IPv6 tuples', () => {
    // OPEN_FRAME with family AF_INET6 and ::1 on both ends.
    const v6 = concat(OPEN_FRAME);
    const view = new DataView(v6.buffer);
    const tuple = 4 + 56;
    v6.fill(0, tuple, tuple + 32);
    v6[tuple + 15] = 1;
    v6[tuple + 31] = 1;
    view.setUint16(tuple + 36, 10, true);
    const [open] = decodeAll([v6]);
    assert.ok(open?.kind === 'open');
    assert.equal(open.family, 6);
    assert.equal(open.localAddr, '::1');
    assert.equal(open.peerAddr, '::1');
  });
});

describe('RecordDecoder: fuzzing (MESHPIPE_FUZZ_RUNS, scripts/fuzz)', () => {
  /** The stream split at `cuts`, pushed chunk by chunk: the records, or the stream error and the records before it. */
  function outcome(
    bytes: Uint8Array,
    cuts: number[],
  ): { records: LoaderRecord[]; error?: string; tail: number } {
    const decoder = new RecordDecoder();
    const records: LoaderRecord[] = [];
    let from = 0;
    try {
      for (const cut of [...cuts, bytes.length]) {
        records.push(...decoder.push(bytes.subarray(from, Math.max(from, cut))));
        from = Math.max(from, cut);
      }
    } catch (err) {
      assert.ok(err instanceof RecordStreamError, `only RecordStreamError is thrown: ${String(err)}`);
      return { records, error: 'stream', tail: 0 };
    }
    assert.equal(decoder.counters.records, records.length);
    return { records, tail: decoder.end() };
  }

  /** Real frames with bytes overwritten (lengths included), cut anywhere, and random frames appended. */
  const hostileStream = fc
    .tuple(
      fc.array(fc.tuple(fc.nat(STREAM.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 4 }),
      fc.nat(STREAM.length),
    )
    .map(([edits, frames, cut]) => {
      const bytes = concat(STREAM.subarray(0, cut));
      for (const [at, b] of edits) if (at < bytes.length) bytes[at] = b;
      const framed = frames.map((f) => {
        const head = new Uint8Array(4);
        new DataView(head.buffer).setUint32(0, f.length, true);
        return concat(head, f);
      });
      return concat(bytes, ...framed);
    });

  it('fuzz: hostile streams decode the same whatever the chunking, and only fail with RecordStreamError', () => {
    fc.assert(
      fc.property(
        hostileStream.chain((bytes) =>
          fc.tuple(fc.constant(bytes), fc.uniqueArray(fc.nat(bytes.length), { maxLength: 6 })),
        ),
        ([bytes, cuts]) => {
          const whole = outcome(bytes, []);
          const split = outcome(
            bytes,
            cuts.sort((a, b) => a - b),
          );
          if (whole.error === undefined) assert.deepStrictEqual(split, whole);
          else {
            // push() throws away the records of the chunk it throws in: a split stream has returned
            // those of its earlier chunks, so it may have more records before the same error.
            assert.equal(split.error, whole.error);
            assert.deepStrictEqual(split.records.slice(0, whole.records.length), whole.records);
          }
          for (const r of whole.records) {
            assert.ok(KINDS.includes(r.kind));
            if (r.kind === 'data') assert.ok(r.captured.length <= MAX_FRAME_SIZE);
          }
        },
      ),
      fuzzParameters(),
    );
  });
});
