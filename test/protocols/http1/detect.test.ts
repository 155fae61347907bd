import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  detectMessageStart,
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
    ['unknown method', 'PROPFIND / HTTP/1.1\r\n', MESSAGE_START.none],
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
    for (const m of HTTP1_METHODS)
      assert.equal(detectMessageStart(bytes(`${m} /`)), MESSAGE_START.request, m);
  });

  test('the method list is the one the kernel is built with', () => {
    // Changing it means changing the in-kernel detector too (PROTOCOL-REGISTRY in detect.ts).
    assert.deepEqual(
      [...HTTP1_METHODS],
      ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'],
    );
    assert.equal(RESPONSE_DETECT_BYTES, 12);
    assert.equal(REQUEST_DETECT_MAX_BYTES, 8);
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
