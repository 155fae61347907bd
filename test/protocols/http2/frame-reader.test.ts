import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Http2FrameReader } from '../../../protocols/http2/frame-reader.ts';
import type {
  Http2CapturedEvent,
  Http2Frame,
  Http2FrameReaderOutput,
} from '../../../protocols/http2/types.ts';
import { captureDirection } from './capture-model.ts';
import { ascii, concat, FLAG, frame, grpcMessage, hex, PREFACE, settings, TYPE, u32 } from './fixtures.ts';

const REQUEST_HEADERS = frame(TYPE.HEADERS, FLAG.END_HEADERS, 1, hex('828684418cf1e3c2e5f23a6ba0ab90f4ff'));
const REQUEST_DATA = frame(TYPE.DATA, FLAG.END_STREAM, 1, grpcMessage(ascii('hello')));
const WINDOW = frame(TYPE.WINDOW_UPDATE, 0, 0, u32(65535));
const CLIENT_START = concat(PREFACE, settings([[4, 65535]]), WINDOW, REQUEST_HEADERS, REQUEST_DATA);

function ev(copied: Uint8Array, extra: Partial<Http2CapturedEvent> = {}): Http2CapturedEvent {
  return {
    direction: 'egress',
    role: 'client',
    copied,
    byteCount: copied.length,
    elided: false,
    frameStart: false,
    truncated: false,
    ...extra,
  };
}

function frames(out: Http2FrameReaderOutput[]): Http2Frame[] {
  return out.filter((o): o is Http2Frame => o.kind === 'frame');
}

/** Frame identity for comparisons: header fields, payload, and DATA bytes as one array. */
function summary(f: Http2Frame) {
  const data = f.data === null ? null : concat(...f.data.map((p) => p.bytes));
  return [
    f.type,
    f.flags,
    f.streamId,
    f.length,
    f.payload && Buffer.from(f.payload).toString('hex'),
    data && Buffer.from(data).toString('hex'),
  ];
}

describe('Http2FrameReader', () => {
  test('reads the client preface, then every frame, in one event', () => {
    const r = new Http2FrameReader();
    const out = r.push(ev(CLIENT_START));
    assert.deepEqual(
      frames(out).map((f) => f.type),
      [TYPE.SETTINGS, TYPE.WINDOW_UPDATE, TYPE.HEADERS, TYPE.DATA],
    );
    assert.equal(r.counters.prefaces, 1);
    const data = frames(out)[3]!;
    assert.equal(data.length, 10);
    assert.deepEqual(data.data, [{ offset: 0, bytes: grpcMessage(ascii('hello')) }]);
    assert.equal(r.atBoundary, true);
  });

  test('the same bytes one at a time give the same frames', () => {
    const whole = frames(new Http2FrameReader().push(ev(CLIENT_START))).map(summary);
    const r = new Http2FrameReader();
    const out: Http2FrameReaderOutput[] = [];
    for (let i = 0; i < CLIENT_START.length; i++) out.push(...r.push(ev(CLIENT_START.subarray(i, i + 1))));
    assert.deepEqual(frames(out).map(summary), whole);
    assert.equal(out.filter((o) => o.kind === 'gap').length, 0);
  });

  test('an elided record: DATA payload past its prefix is missing, lengths still add up', () => {
    const payload = new Uint8Array(20000).fill(7);
    payload.set([0, 0, 0, 0x4e, 0x1b], 0); // a gRPC prefix: 19995 bytes
    const wire = concat(
      frame(TYPE.DATA, 0, 3, payload),
      frame(TYPE.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 3, hex('88')),
    );
    const copied = concat(wire.subarray(0, 9 + 5), wire.subarray(9 + 20000));
    const r = new Http2FrameReader();
    const out = r.push(ev(copied, { byteCount: wire.length, elided: true, frameStart: true }));
    assert.deepEqual(
      frames(out).map((f) => [f.type, f.length]),
      [
        [TYPE.DATA, 20000],
        [TYPE.HEADERS, 1],
      ],
    );
    assert.deepEqual(frames(out)[0]!.data, [{ offset: 0, bytes: hex('0000004e1b') }]);
    assert.equal(out.length, 2);
  });

  test('an elided DATA payload that spans buffers is counted by byte counts', () => {
    const payload = new Uint8Array(30000);
    const wire = concat(frame(TYPE.DATA, FLAG.END_STREAM, 1, payload), frame(TYPE.RST_STREAM, 0, 1, u32(8)));
    const events = captureDirection(wire, [6000, 6000, 6000, 6000, 6000, 22], { cap: 4096 });
    assert.ok(
      events.slice(0, -1).every((e) => e.elided),
      'big buffers are elided',
    );
    assert.equal(events.at(-1)!.elided, false, 'the last one is small: copied whole');
    const r = new Http2FrameReader();
    const out = events.flatMap((e) => r.push(e));
    assert.deepEqual(
      frames(out).map((f) => f.type),
      [TYPE.DATA, TYPE.RST_STREAM],
    );
    assert.equal(r.counters.gaps.truncated, undefined);
  });

  const gapCases: Array<[string, Http2CapturedEvent[], string]> = [
    [
      'a truncated record',
      [ev(REQUEST_HEADERS.subarray(0, 12), { byteCount: 40, truncated: true })],
      'truncated',
    ],
    [
      'copied bytes short of the byte count',
      [ev(REQUEST_HEADERS.subarray(0, 12), { byteCount: 40 })],
      'length-mismatch',
    ],
    [
      'events lost',
      [ev(REQUEST_HEADERS.subarray(0, 12)), ev(REQUEST_DATA, { afterLoss: true })],
      'events-lost',
    ],
    [
      'the kernel says a frame starts where the reader is mid-frame',
      [ev(REQUEST_HEADERS.subarray(0, 12)), ev(REQUEST_DATA, { frameStart: true })],
      'frame-start-mismatch',
    ],
    ['a bad preface', [ev(ascii('PRI * HTTP/1.1\r\n\r\n'))], 'bad-preface'],
  ];
  for (const [name, events, reason] of gapCases) {
    test(`gap: ${name}`, () => {
      const r = new Http2FrameReader();
      const out = events.flatMap((e) => r.push(e));
      const gaps = out.filter((o) => o.kind === 'gap');
      assert.equal(gaps.length, 1);
      assert.equal(gaps[0]!.reason, reason);
    });
  }

  test('after a gap: frames again at a kernel frame start, or at a whole event whose frames chain', () => {
    const r = new Http2FrameReader();
    r.push(ev(REQUEST_HEADERS.subarray(0, 12), { byteCount: 40, truncated: true }));
    assert.equal(r.lost, true);
    assert.equal(frames(r.push(ev(REQUEST_DATA.subarray(3)))).length, 0, 'not a frame start: skipped');
    assert.equal(frames(r.push(ev(concat(WINDOW, REQUEST_DATA)))).length, 2, 'frames chain to the end');
    const k = new Http2FrameReader();
    k.push(ev(new Uint8Array(5), { byteCount: 50, truncated: true }));
    assert.equal(frames(k.push(ev(REQUEST_HEADERS, { frameStart: true }))).length, 1);
    assert.equal(k.counters.resyncs, 1);
  });

  test('an unknown frame type is skipped (RFC 9113 §5.5)', () => {
    const r = new Http2FrameReader();
    const out = r.push(ev(concat(frame(0xfa, 0, 0, ascii('whatever')), WINDOW)));
    assert.deepEqual(
      frames(out).map((f) => f.type),
      [TYPE.WINDOW_UPDATE],
    );
    assert.equal(r.counters.unknownTypes, 1);
  });
});

// --- fuzzing ------------------------------------------------------------------------------------

const arbFrame = fc.oneof(
  fc.record({
    type: fc.constant(TYPE.DATA),
    flags: fc.constantFrom(0, FLAG.END_STREAM),
    stream: fc.integer({ min: 1, max: 99 }),
    payload: fc.uint8Array({ maxLength: 12000 }),
  }),
  fc.record({
    type: fc.constantFrom(TYPE.HEADERS, TYPE.CONTINUATION),
    flags: fc.constantFrom(0, FLAG.END_HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM),
    stream: fc.integer({ min: 1, max: 99 }),
    payload: fc.uint8Array({ maxLength: 9000 }),
  }),
  fc.record({
    type: fc.constantFrom(TYPE.RST_STREAM, TYPE.WINDOW_UPDATE),
    flags: fc.constant(0),
    stream: fc.integer({ min: 1, max: 99 }),
    payload: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  }),
  fc.record({
    type: fc.constantFrom(TYPE.PING, TYPE.SETTINGS),
    flags: fc.constantFrom(0, 1),
    stream: fc.constant(0),
    payload: fc.uint8Array({ minLength: 0, maxLength: 8 }),
  }),
);

describe('Http2FrameReader fuzzing (random frames, random splits)', () => {
  test('whole and elided captures give back every frame, any split, no gap', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(arbFrame, { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 9000 }), { maxLength: 40 }),
        fc.integer({ min: 16, max: 6000 }),
        fc.integer({ min: 0, max: 32 }),
        (preface, specs, sizes, cap, prefix) => {
          const parts = specs.map((s) => frame(s.type, s.flags, s.stream, s.payload));
          const wire = concat(...(preface ? [PREFACE] : []), ...parts);
          const events = captureDirection(wire, sizes, { cap, dataPrefixBytes: prefix, recordMax: 3000 });
          const r = new Http2FrameReader({ dataPrefixBytes: prefix });
          const out = events.flatMap((e) => r.push(e));
          assert.equal(out.filter((o) => o.kind === 'gap').length, 0);
          const got = frames(out);
          assert.equal(got.length, specs.length);
          got.forEach((f, i) => {
            const s = specs[i]!;
            assert.deepEqual(
              [f.type, f.flags, f.streamId, f.length],
              [s.type, s.flags, s.stream, s.payload.length],
            );
            if (f.type === TYPE.DATA) {
              // Every copied piece is the payload's bytes at its offset; the prefix is always there.
              for (const piece of f.data!) {
                assert.deepEqual(
                  piece.bytes,
                  s.payload.subarray(piece.offset, piece.offset + piece.bytes.length),
                );
              }
              const first = f.data![0];
              const want = Math.min(prefix, s.payload.length);
              if (want > 0)
                assert.ok(first !== undefined && first.offset === 0 && first.bytes.length >= want);
            } else {
              assert.deepEqual(f.payload, s.payload);
            }
          });
          assert.equal(r.atBoundary, true);
        },
      ),
      { numRuns: 1500 },
    );
  });

  test('garbage, truncation and loss never throw, and the reader finds frames again', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            bytes: fc.uint8Array({ maxLength: 600 }),
            extra: fc.nat({ max: 3000 }),
            elided: fc.boolean(),
            frameStart: fc.boolean(),
            truncated: fc.boolean(),
            afterLoss: fc.boolean(),
          }),
          { maxLength: 20 },
        ),
        (evs) => {
          const r = new Http2FrameReader();
          for (const e of evs) {
            r.push(
              ev(e.bytes, {
                byteCount: e.bytes.length + e.extra,
                elided: e.elided,
                frameStart: e.frameStart,
                truncated: e.truncated,
                afterLoss: e.afterLoss,
              }),
            );
          }
          // Whatever came before, a clean frame start is read.
          const out = r.push(ev(concat(WINDOW, REQUEST_HEADERS), { frameStart: true }));
          assert.deepEqual(
            frames(out).map((f) => f.type),
            [TYPE.WINDOW_UPDATE, TYPE.HEADERS],
          );
        },
      ),
      { numRuns: 1000 },
    );
  });
});
