import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  DETECTED_METHODS,
  detectMessageStart,
  detectStreamMessageStart,
  detectTokenRequestLine,
  EXTENSION_METHODS,
  endsWithChunkTerminator,
  findMessageStartAtLine,
  HTTP1_METHODS,
  MESSAGE_START,
  messageStartKind,
  REQUEST_DETECT_MAX_BYTES,
  RESPONSE_DETECT_BYTES,
} from '../../../protocols/http1/detect.ts';
import {
  bytes,
  CHUNKED_BODY,
  CONNECT_REQUEST,
  GET_A,
  GET_B,
  HEAD_REQUEST,
  POST_JSON,
  REDIS_PING,
  RESPONSE_200_HELLO,
  SIMPLE_GET,
  TLS_CLIENT_HELLO,
  WEBSOCKET_FRAME,
} from './fixtures.ts';

describe('detectMessageStart', () => {
  const cases: Array<[name: string, wire: string, expected: number]> = [
    ['simple GET', SIMPLE_GET, MESSAGE_START.request],
    ['HEAD (shares its first byte with HTTP/)', HEAD_REQUEST, MESSAGE_START.request],
    ['POST with body', POST_JSON, MESSAGE_START.request],
    ['CONNECT authority-form', CONNECT_REQUEST, MESSAGE_START.request],
    ['OPTIONS asterisk-form', 'OPTIONS * HTTP/1.1\r\n', MESSAGE_START.request],
    ['PATCH', 'PATCH /x HTTP/1.1\r\n', MESSAGE_START.request],
    ['status line 200', RESPONSE_200_HELLO, MESSAGE_START.response],
    ['status line HTTP/1.0 404', 'HTTP/1.0 404 Not Found\r\n', MESSAGE_START.response],
    ['status line without reason', 'HTTP/1.1 204', MESSAGE_START.response],
    ['lower-case method is not a method (RFC 9110 §9.1)', 'get / HTTP/1.1\r\n', MESSAGE_START.none],
    ['method without space', 'GETX / HTTP/1.1\r\n', MESSAGE_START.none],
    ['extension method PURGE', 'PURGE /cache HTTP/1.1\r\n', MESSAGE_START.request],
    ['extension method M-SEARCH (9 bytes with its space)', 'M-SEARCH * HTTP/1.1\r\n', MESSAGE_START.request],
    ['unlisted method', 'BREW /pot HTTP/1.1\r\n', MESSAGE_START.none],
    ['a listed method cut before its space', 'PROPPATC', MESSAGE_START.needsMore],
    ['HTTP/2 status line', 'HTTP/2 200\r\n', MESSAGE_START.none],
    ['status code not digits', 'HTTP/1.1 2x0 OK\r\n', MESSAGE_START.none],
    ['HTTP/1.1 without SP', 'HTTP/1.1200 OK', MESSAGE_START.none],
    ['TLS ClientHello', TLS_CLIENT_HELLO, MESSAGE_START.none],
    ['WebSocket frame', WEBSOCKET_FRAME, MESSAGE_START.none],
    ['Redis command', REDIS_PING, MESSAGE_START.none],
    ['chunk body bytes', CHUNKED_BODY, MESSAGE_START.none],
    ['leading CRLF', '\r\nGET / HTTP/1.1\r\n', MESSAGE_START.none],
    ['empty', '', MESSAGE_START.needsMore],
    ['prefix of GET', 'GE', MESSAGE_START.needsMore],
    ['method without its space yet', 'DELETE', MESSAGE_START.needsMore],
    ['H: HEAD or HTTP/', 'H', MESSAGE_START.needsMore],
    ['prefix of a status line', 'HTTP/1.1 2', MESSAGE_START.needsMore],
  ];
  for (const [name, wire, expected] of cases) {
    test(name, () => assert.equal(detectMessageStart(bytes(wire)), expected));
  }

  test('every listed method followed by a space is a request start', () => {
    for (const m of DETECTED_METHODS)
      assert.equal(detectMessageStart(bytes(`${m} /`)), MESSAGE_START.request, m);
  });

  test('the method lists are the ones the kernel is built with (bpf/lib/http.h)', () => {
    // Changing a list means changing the in-kernel detector too (PROTOCOL-REGISTRY in detect.ts). The
    // kernel matches at most 8 bytes: a method of 8 or more is compared on its first 8.
    const source = readFileSync(new URL('../../../bpf/lib/http.h', import.meta.url), 'utf8');
    const body = source.slice(
      source.indexOf('mp_http_message_start(__u64'),
      source.indexOf("'H', 'T', 'T', 'P'"),
    );
    const [standard, extension] = body.split('Extension methods').map((part) =>
      [...part.matchAll(/MP_M(\d)\(w, avail((?:, '[^']')+)\)/g)].map((m) =>
        [...m[2]!.matchAll(/'([^'])'/g)]
          .map((c) => c[1])
          .join('')
          .trim(),
      ),
    );
    const inKernel = (m: string) => (m.length >= 8 ? m.slice(0, 8) : m);
    assert.deepEqual(standard!.sort(), HTTP1_METHODS.map(inKernel).sort());
    assert.deepEqual(extension!.sort(), EXTENSION_METHODS.map(inKernel).sort());
    assert.equal(RESPONSE_DETECT_BYTES, 12);
    assert.equal(REQUEST_DETECT_MAX_BYTES, 'PROPPATCH '.length);
  });

  test('detects at an offset and respects the end bound', () => {
    const wire = bytes(GET_A + GET_B);
    assert.equal(detectMessageStart(wire, GET_A.length), MESSAGE_START.request);
    assert.equal(detectMessageStart(wire, GET_A.length, GET_A.length + 2), MESSAGE_START.needsMore);
    assert.equal(detectMessageStart(wire, 1), MESSAGE_START.none);
  });

  test('kinds', () => {
    assert.equal(messageStartKind(MESSAGE_START.request), 'request');
    assert.equal(messageStartKind(MESSAGE_START.response), 'response');
    assert.equal(messageStartKind(MESSAGE_START.none), null);
    assert.equal(messageStartKind(MESSAGE_START.needsMore), null);
  });

  test('property: never throws, and a decided answer does not change with more bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(40), (buf, cut) => {
        const end = Math.min(cut, buf.length);
        const partial = detectMessageStart(buf, 0, end);
        const full = detectMessageStart(buf, 0, buf.length);
        if (partial !== MESSAGE_START.needsMore) assert.equal(full, partial);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('detectTokenRequestLine and detectStreamMessageStart: any method on an HTTP connection', () => {
  const cases: Array<[name: string, wire: string, expected: number]> = [
    ['an unlisted method with a whole request line', 'BREW /pot HTTP/1.1\r\n', MESSAGE_START.request],
    ['a lower-case token (RFC 9110 §9.1: still a method)', 'purge /x HTTP/1.1\r\n', MESSAGE_START.request],
    ['a bare-LF line end (the parser decides on it)', 'BREW /pot HTTP/1.0\n', MESSAGE_START.request],
    ['a word and a space in a body', 'hello world and more\r\n', MESSAGE_START.none],
    ['a version other than 1.x', 'BREW /pot HTTP/2.0\r\n', MESSAGE_START.none],
    ['two spaces', 'BREW  /pot HTTP/1.1\r\n', MESSAGE_START.none],
    ['a control byte in the target', 'BREW /p\x01t HTTP/1.1\r\n', MESSAGE_START.none],
    ['trailing bytes after the version', 'BREW /pot HTTP/1.1x\r\n', MESSAGE_START.none],
    ['a CR first (an empty line)', '\r\nBREW / HTTP/1.1\r\n', MESSAGE_START.none],
    ['cut in the method', 'BRE', MESSAGE_START.needsMore],
    ['cut in the target', 'BREW /po', MESSAGE_START.needsMore],
    ['cut in the version', 'BREW /pot HTTP/1', MESSAGE_START.needsMore],
    ['cut before the line end', 'BREW /pot HTTP/1.1', MESSAGE_START.needsMore],
  ];
  for (const [name, wire, expected] of cases) {
    test(name, () => assert.equal(detectTokenRequestLine(bytes(wire)), expected));
  }

  test('the listed starts keep their answer; an unlisted method needs its whole line', () => {
    assert.equal(detectStreamMessageStart(bytes('GET /')), MESSAGE_START.request);
    assert.equal(detectStreamMessageStart(bytes(RESPONSE_200_HELLO)), MESSAGE_START.response);
    assert.equal(detectStreamMessageStart(bytes('BREW /')), MESSAGE_START.needsMore);
    assert.equal(detectStreamMessageStart(bytes('BREW / HTTP/1.1\r\n')), MESSAGE_START.request);
    assert.equal(detectStreamMessageStart(bytes(TLS_CLIENT_HELLO)), MESSAGE_START.none);
  });

  test('property: never throws, and a decided answer does not change with more bytes', () => {
    const line = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc
        .tuple(
          fc.stringMatching(/^[A-Za-z-]{1,10}$/),
          fc.stringMatching(/^\/[a-z]{0,8}$/),
          fc.constantFrom('1.0', '1.1', '2.0'),
        )
        .map(([m, t, v]) => bytes(`${m} ${t} HTTP/${v}\r\n`)),
    );
    fc.assert(
      fc.property(line, fc.nat(40), (buf, cut) => {
        const end = Math.min(cut, buf.length);
        for (const detect of [detectTokenRequestLine, detectStreamMessageStart]) {
          const partial = detect(buf, 0, end);
          if (partial !== MESSAGE_START.needsMore) assert.equal(detect(buf, 0, buf.length), partial);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('findMessageStartAtLine', () => {
  const cases: Array<[name: string, wire: string, accept: 'request' | 'response' | null, expected: number]> =
    [
      ['request after garbage line', 'xx\r\nGET / HTTP/1.1\r\n', null, 4],
      [
        'response only when responses are wanted',
        'xx\r\nGET / HTTP/1.1\r\nHTTP/1.1 200 OK\r\n',
        'response',
        20,
      ],
      ['a start at `from` itself is not a line start after it', 'GET / HTTP/1.1\r\n', null, -1],
      ['bare LF line ends count', 'junk\nPOST /x HTTP/1.1\n', 'request', 5],
      ['no line start', 'just garbage without newline GET / ', null, -1],
      ['LF as the last byte', 'garbage\n', null, -1],
    ];
  for (const [name, wire, accept, expected] of cases) {
    test(name, () => {
      const b = bytes(wire);
      assert.equal(findMessageStartAtLine(b, 0, b.length, accept), expected);
    });
  }
});

describe('endsWithChunkTerminator', () => {
  const cases: Array<[name: string, wire: string, expected: boolean]> = [
    ['whole chunked body', CHUNKED_BODY, true],
    ['exactly the last chunk', '0\r\n\r\n', true],
    ['terminator after data', 'abc\r\n0\r\n\r\n', true],
    ['last chunk with trailers is not recognised (kernel rule)', '0\r\nX: y\r\n\r\n', false],
    ['a zero inside data', 'a0\r\n\r\n', false],
    ['too short', '\r\n', false],
    ['empty', '', false],
  ];
  for (const [name, wire, expected] of cases) {
    test(name, () => assert.equal(endsWithChunkTerminator(bytes(wire)), expected));
  }
});
