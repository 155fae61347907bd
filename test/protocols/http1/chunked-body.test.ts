import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CHUNK,
  CHUNKED_STOP,
  ChunkedBodyReader,
  type ChunkedStop,
  MAX_CHUNK_LINE_BYTES,
  MAX_CHUNK_SIZE_DIGITS,
} from '../../../protocols/http1/chunked-body.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

/** Chunked bodies, named; each is a whole body unless the name says otherwise. */
const TWO_CHUNKS = '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n';
const UPPER_HEX = 'A\r\n0123456789\r\n0\r\n\r\n';
const WITH_EXTENSIONS = '5;name=value\r\nhello\r\n5 ; ext\r\nworld\r\n0\r\n\r\n';
const WITH_TRAILERS = '3\r\nabc\r\n0\r\nExpires: never\r\nX-Digest: 1234\r\n\r\n';
const BARE_LF = '3\nabc\n0\n\n';
const SMUGGLING_PROBE = '0\n\n';
const NOT_HEX = 'z\r\n';
const NO_DIGITS = ';ext\r\n';
const SIZE_CR_WITHOUT_LF = '3\rabc';
const DATA_NOT_ENDED_BY_CRLF = '3\r\nabcX';

interface Case {
  name: string;
  body: string;
  strict: boolean;
  stop: ChunkedStop;
  /** Where read() stops: the end of the body, or the offending byte. */
  at: number;
}

const CASES: Case[] = [
  { name: 'two chunks', body: TWO_CHUNKS, strict: true, stop: CHUNKED_STOP.end, at: TWO_CHUNKS.length },
  {
    name: 'upper-case hex size',
    body: UPPER_HEX,
    strict: true,
    stop: CHUNKED_STOP.end,
    at: UPPER_HEX.length,
  },
  {
    name: 'chunk extensions, with whitespace before them (RFC 9112 §7.1.1)',
    body: WITH_EXTENSIONS,
    strict: true,
    stop: CHUNKED_STOP.end,
    at: WITH_EXTENSIONS.length,
  },
  {
    name: 'trailer fields (RFC 9112 §7.1.2)',
    body: WITH_TRAILERS,
    strict: true,
    stop: CHUNKED_STOP.end,
    at: WITH_TRAILERS.length,
  },
  { name: 'bare LF in a response', body: BARE_LF, strict: false, stop: CHUNKED_STOP.end, at: BARE_LF.length },
  { name: 'bare LF in a request', body: BARE_LF, strict: true, stop: CHUNKED_STOP.invalid, at: 1 },
  {
    name: 'the "0\\n\\n" smuggling probe in a request',
    body: SMUGGLING_PROBE,
    strict: true,
    stop: CHUNKED_STOP.invalid,
    at: 1,
  },
  { name: 'a size that is not hex', body: NOT_HEX, strict: false, stop: CHUNKED_STOP.invalid, at: 0 },
  { name: 'an extension without a size', body: NO_DIGITS, strict: false, stop: CHUNKED_STOP.invalid, at: 0 },
  {
    name: 'CR without LF after the size',
    body: SIZE_CR_WITHOUT_LF,
    strict: false,
    stop: CHUNKED_STOP.invalid,
    at: 2,
  },
  {
    name: 'chunk data not followed by its line end',
    body: DATA_NOT_ENDED_BY_CRLF,
    strict: false,
    stop: CHUNKED_STOP.invalid,
    at: 6,
  },
  {
    name: `more than ${MAX_CHUNK_SIZE_DIGITS} hex digits`,
    body: `${'1'.repeat(MAX_CHUNK_SIZE_DIGITS + 1)}\r\n`,
    strict: false,
    stop: CHUNKED_STOP.invalid,
    at: MAX_CHUNK_SIZE_DIGITS,
  },
  {
    name: `chunk extensions longer than ${MAX_CHUNK_LINE_BYTES} bytes`,
    body: `1;${'x'.repeat(MAX_CHUNK_LINE_BYTES + 1)}\r\n`,
    strict: false,
    stop: CHUNKED_STOP.invalid,
    at: 2 + MAX_CHUNK_LINE_BYTES,
  },
];

/** Feeds `body` in pieces of `step` bytes (the bytes of several events), as the framer does. */
function readInSteps(body: Uint8Array, step: number, strict: boolean): { stop: ChunkedStop; at: number } {
  const reader = new ChunkedBodyReader();
  for (let from = 0; from < body.length; from += step) {
    const end = Math.min(body.length, from + step);
    const at = reader.read(body, from, end, strict);
    if (reader.stop !== CHUNKED_STOP.more) return { stop: reader.stop, at };
    assert.equal(at, end, 'a read that needs more bytes consumes all it was given');
  }
  return { stop: reader.stop, at: body.length };
}

describe('ChunkedBodyReader', () => {
  for (const c of CASES) {
    it(`${c.name}: whole, and split at every byte`, () => {
      const body = bytes(c.body);
      for (const step of [body.length, 1, 2, 3, 7]) {
        assert.deepEqual(readInSteps(body, step, c.strict), { stop: c.stop, at: c.at }, `step ${step}`);
      }
    });
  }

  it('stops at the end of the body, leaving what follows (the next message) unread', () => {
    const stream = bytes(`${TWO_CHUNKS}HTTP/1.1 200 OK\r\n`);
    const reader = new ChunkedBodyReader();
    assert.equal(reader.read(stream, 0, stream.length, false), TWO_CHUNKS.length);
    assert.equal(reader.stop, CHUNKED_STOP.end);
  });

  it('skips uncopied chunk data by count, and refuses a gap that may hold a size line', () => {
    const reader = new ChunkedBodyReader();
    const head = bytes('a\r\n');
    assert.equal(reader.read(head, 0, head.length, false), head.length);
    assert.equal(reader.state, CHUNK.data);
    assert.equal(reader.skip(4), true);
    assert.equal(reader.remaining, 6);
    assert.equal(reader.skip(6), true, 'the rest of the chunk');
    assert.equal(reader.state, CHUNK.dataCr);
    assert.equal(reader.skip(1), false, 'past the chunk: the next size line may be in the gap');
    const tail = bytes('\r\n0\r\n\r\n');
    assert.equal(reader.read(tail, 0, tail.length, false), tail.length);
    assert.equal(reader.stop, CHUNKED_STOP.end);
  });

  it('starts over after reset()', () => {
    const reader = new ChunkedBodyReader();
    const broken = bytes(NOT_HEX);
    reader.read(broken, 0, broken.length, false);
    assert.equal(reader.stop, CHUNKED_STOP.invalid);
    reader.reset();
    const body = bytes(TWO_CHUNKS);
    assert.equal(reader.read(body, 0, body.length, true), body.length);
    assert.equal(reader.stop, CHUNKED_STOP.end);
  });
});
