import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  findHeadEnd,
  HEAD_INVALID_REASON,
  headerValue,
  MAX_HEADER_COUNT,
  MAX_LINE_BYTES,
  parseHead,
} from '../../../protocols/http1/parse-head.ts';
import type { ParsedHead } from '../../../protocols/http1/types.ts';
import {
  bytes,
  CHUNKED_POST_HEAD,
  CHUNKED_RESPONSE_HEAD,
  CLOSE_DELIMITED_RESPONSE_HEAD,
  CONNECT_REQUEST,
  GET_WITH_QUERY,
  HEAD_REQUEST,
  HTTP10_GET,
  POST_EXPECT_CONTINUE_HEAD,
  POST_JSON,
  POST_JSON_HEAD,
  REQUEST_WITH_SECRETS,
  RESPONSE_100_CONTINUE,
  RESPONSE_101_WEBSOCKET,
  RESPONSE_200_HELLO,
  RESPONSE_204,
  SIMPLE_GET,
  UPGRADE_WEBSOCKET,
} from './fixtures.ts';

function complete(wire: string, options = {}): { head: ParsedHead; consumed: number } {
  const r = parseHead(bytes(wire), 0, wire.length, options);
  assert.equal(r.state, 'complete', JSON.stringify(r));
  if (r.state !== 'complete') throw new Error('unreachable');
  return r;
}

describe('parseHead: complete heads', () => {
  const cases: Array<[name: string, wire: string, expected: Partial<ParsedHead>]> = [
    [
      'simple GET',
      SIMPLE_GET,
      {
        kind: 'request',
        method: 'GET',
        target: '/index.html',
        path: '/index.html',
        query: null,
        version: '1.1',
        statusCode: null,
        contentLength: null,
        chunked: false,
        connectionClose: false,
        headBytes: SIMPLE_GET.length,
        truncated: false,
      },
    ],
    ['query split from path', GET_WITH_QUERY, { path: '/search', query: 'q=mesh&page=2' }],
    ['HEAD', HEAD_REQUEST, { method: 'HEAD', path: '/big.iso' }],
    [
      'POST with Content-Length',
      POST_JSON,
      { method: 'POST', contentLength: 27, headBytes: POST_JSON_HEAD.length },
    ],
    ['Expect: 100-continue', POST_EXPECT_CONTINUE_HEAD, { expectContinue: true, contentLength: 10 }],
    ['Upgrade', UPGRADE_WEBSOCKET, { upgrade: 'websocket' }],
    [
      'CONNECT authority-form has no path',
      CONNECT_REQUEST,
      { method: 'CONNECT', target: 'db.internal:5432', path: null },
    ],
    [
      'chunked request',
      CHUNKED_POST_HEAD,
      { chunked: true, transferEncoding: 'chunked', contentLength: null },
    ],
    ['HTTP/1.0 closes by default (RFC 9112 §9.3)', HTTP10_GET, { version: '1.0', connectionClose: true }],
    [
      'HTTP/1.0 keep-alive',
      'GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n',
      { version: '1.0', connectionClose: false },
    ],
    [
      'Connection: close token list',
      'GET / HTTP/1.1\r\nConnection: TE, close\r\n\r\n',
      { connectionClose: true },
    ],
    ['OPTIONS asterisk-form', 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n', { path: '*', query: null }],
    [
      'absolute-form target',
      'GET http://proxy.test:8080/p/q?x=1#frag HTTP/1.1\r\n\r\n',
      { path: '/p/q', query: 'x=1' },
    ],
    ['absolute-form without path', 'GET http://h.test HTTP/1.1\r\n\r\n', { path: '/', query: null }],
    [
      'response with Content-Length',
      RESPONSE_200_HELLO,
      { kind: 'response', statusCode: 200, reason: 'OK', contentLength: 13 },
    ],
    ['204', RESPONSE_204, { statusCode: 204, reason: 'No Content' }],
    ['100 Continue', RESPONSE_100_CONTINUE, { statusCode: 100 }],
    ['101', RESPONSE_101_WEBSOCKET, { statusCode: 101, upgrade: 'websocket' }],
    ['chunked response', CHUNKED_RESPONSE_HEAD, { chunked: true }],
    [
      'HTTP/1.0 response without length',
      CLOSE_DELIMITED_RESPONSE_HEAD,
      { version: '1.0', connectionClose: true },
    ],
    ['status line without reason phrase or its SP', 'HTTP/1.1 200\r\n\r\n', { statusCode: 200, reason: '' }],
    ['empty reason phrase', 'HTTP/1.1 200 \r\n\r\n', { statusCode: 200, reason: '' }],
    [
      'bare LF line ends in a response (RFC 9112 §2.2: a client may accept them)',
      'HTTP/1.1 200 OK\nContent-Length: 0\n\n',
      { statusCode: 200, contentLength: 0, headBytes: 35 },
    ],
    [
      'a bare-LF empty line before a request line is still an empty line (RFC 9112 §2.2)',
      '\nGET / HTTP/1.1\r\n\r\n',
      { method: 'GET', headBytes: 19 },
    ],
    ['HTAB and obs-text in a value', 'GET / HTTP/1.1\r\nX: a\tb\xe9\r\n\r\n', { method: 'GET' }],
    ['an extension method', 'M-SEARCH * HTTP/1.1\r\n\r\n', { method: 'M-SEARCH', path: '*' }],
    [
      'leading empty line before the request line',
      '\r\nGET / HTTP/1.1\r\n\r\n',
      { method: 'GET', headBytes: 20 },
    ],
    [
      'identical Content-Length list (RFC 9110 §8.6)',
      'HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n',
      { contentLength: 5 },
    ],
    [
      'repeated identical Content-Length fields',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n',
      { contentLength: 5 },
    ],
    [
      'Transfer-Encoding wins over Content-Length, both reported',
      'POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
      { chunked: true, contentLength: 3 },
    ],
    [
      'chunked must be the final coding',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n',
      { chunked: false },
    ],
    [
      'Transfer-Encoding over several lines',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n',
      { chunked: true, transferEncoding: 'gzip, chunked' },
    ],
  ];
  for (const [name, wire, expected] of cases) {
    test(name, () => {
      const { head } = complete(wire);
      for (const [k, v] of Object.entries(expected)) assert.deepEqual(head[k as keyof ParsedHead], v, k);
    });
  }

  test('consumed stops at the empty line; the body is not part of the head', () => {
    const { consumed } = complete(POST_JSON);
    assert.equal(consumed, POST_JSON_HEAD.length);
  });

  test('headers keep wire order and case; lower-cased names alongside', () => {
    const { head } = complete('GET / HTTP/1.1\r\nHost: a\r\nX-Trace-ID:  abc \r\nhost: b\r\n\r\n');
    assert.deepEqual(head.headers, [
      ['Host', 'a'],
      ['X-Trace-ID', 'abc'],
      ['host', 'b'],
    ]);
    assert.deepEqual(head.lowerNames, ['host', 'x-trace-id', 'host']);
    assert.equal(headerValue(head, 'X-TRACE-id'), 'abc');
    assert.equal(headerValue(head, 'missing'), undefined);
  });

  test('obs-fold in a response is joined with a space (RFC 9112 §5.2)', () => {
    const { head } = complete('HTTP/1.1 200 OK\r\nX-Long: one\r\n  two\r\n\ttwo-b\r\n\r\n');
    assert.deepEqual(head.headers, [['X-Long', 'one two two-b']]);
  });

  test('values are Latin-1: every byte is kept', () => {
    const { head } = complete('GET / HTTP/1.1\r\nX-Name: caf\xe9\r\n\r\n');
    assert.equal(head.headers[0]![1], 'caf\u00e9');
  });

  test('parses at an offset inside a larger buffer', () => {
    const wire = bytes('garbage' + SIMPLE_GET + 'tail');
    const r = parseHead(wire, 7, wire.length);
    assert.equal(r.state, 'complete');
    if (r.state === 'complete') assert.equal(r.consumed, SIMPLE_GET.length);
  });
});

describe('parseHead: invalid heads', () => {
  const cases: Array<[name: string, wire: string, reason: string]> = [
    [
      'whitespace before colon (RFC 9112 §5.1)',
      'GET / HTTP/1.1\r\nHost : x\r\n\r\n',
      HEAD_INVALID_REASON.whitespaceBeforeColon,
    ],
    ['missing colon', 'GET / HTTP/1.1\r\nHost x\r\n\r\n', HEAD_INVALID_REASON.missingColon],
    ['empty field name', 'GET / HTTP/1.1\r\n: x\r\n\r\n', HEAD_INVALID_REASON.badFieldName],
    ['field name with a bad byte', 'GET / HTTP/1.1\r\nX(y): 1\r\n\r\n', HEAD_INVALID_REASON.badFieldName],
    [
      'fold as the first field line (RFC 9112 §2.2)',
      'GET / HTTP/1.1\r\n x: 1\r\n\r\n',
      HEAD_INVALID_REASON.leadingWhitespace,
    ],
    ['bare CR', 'GET / HTTP/1.1\r\nX: a\rb\r\n\r\n', HEAD_INVALID_REASON.bareCr],
    ['HTTP/2.0 version', 'GET / HTTP/2.0\r\n\r\n', HEAD_INVALID_REASON.badVersion],
    ['missing version', 'GET /\r\n\r\n', HEAD_INVALID_REASON.badStartLine],
    ['two spaces in request line', 'GET  / HTTP/1.1\r\n\r\n', HEAD_INVALID_REASON.badTarget],
    ['control byte in target', 'GET /a\x01b HTTP/1.1\r\n\r\n', HEAD_INVALID_REASON.badTarget],
    ['status code out of range', 'HTTP/1.1 600 Nope\r\n\r\n', HEAD_INVALID_REASON.badStatusCode],
    ['status code not digits', 'HTTP/1.1 2x0 OK\r\n\r\n', HEAD_INVALID_REASON.badStatusCode],
    ['status line bad version', 'HTTP/3.0 200 OK\r\n\r\n', HEAD_INVALID_REASON.badVersion],
    ['binary garbage', '\x16\x03\x01\x02\x00\r\n\r\n', HEAD_INVALID_REASON.badMethod],
    [
      'conflicting Content-Length (smuggling)',
      'POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n',
      HEAD_INVALID_REASON.badContentLength,
    ],
    [
      'Content-Length list with different values',
      'POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n',
      HEAD_INVALID_REASON.badContentLength,
    ],
    [
      'negative Content-Length',
      'POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n',
      HEAD_INVALID_REASON.badContentLength,
    ],
    [
      'huge Content-Length',
      'POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n',
      HEAD_INVALID_REASON.badContentLength,
    ],
    // Requests are read as strict servers read them (Node's llhttp answers each of these with a 400).
    ['bare LF ending the request line', 'GET / HTTP/1.1\nHost: x\r\n\r\n', HEAD_INVALID_REASON.bareLf],
    [
      'bare LF ending a request field line',
      'GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n',
      HEAD_INVALID_REASON.bareLf,
    ],
    ['bare LF as the empty line of a request', 'GET / HTTP/1.1\r\nHost: x\r\n\n', HEAD_INVALID_REASON.bareLf],
    ['obs-fold in a request', 'GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n', HEAD_INVALID_REASON.obsFold],
    [
      'control byte in a request value',
      'GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n',
      HEAD_INVALID_REASON.badFieldValue,
    ],
    ['NUL in a request value', 'GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n', HEAD_INVALID_REASON.badFieldValue],
    ['DEL in a request value', 'GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n', HEAD_INVALID_REASON.badFieldValue],
    [
      'NUL in a response value (RFC 9110 §5.5)',
      'HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n',
      HEAD_INVALID_REASON.badFieldValue,
    ],
    [
      'bare CR after another control byte',
      'GET / HTTP/1.1\r\nX: \x01a\rb\r\n\r\n',
      HEAD_INVALID_REASON.bareCr,
    ],
    [
      'too many empty lines first',
      '\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n',
      HEAD_INVALID_REASON.tooManyEmptyLines,
    ],
  ];
  for (const [name, wire, reason] of cases) {
    test(name, () => assert.deepEqual(parseHead(bytes(wire)), { state: 'invalid', reason }));
  }

  test('too many headers', () => {
    const wire = 'GET / HTTP/1.1\r\n' + 'X: 1\r\n'.repeat(MAX_HEADER_COUNT + 1) + '\r\n';
    assert.deepEqual(parseHead(bytes(wire)), {
      state: 'invalid',
      reason: HEAD_INVALID_REASON.tooManyHeaders,
    });
    assert.equal(parseHead(bytes(wire), 0, wire.length, { maxHeaderCount: 1000 }).state, 'complete');
  });

  test('line too long, also before the line is complete', () => {
    const line = 'GET /' + 'a'.repeat(MAX_LINE_BYTES) + ' HTTP/1.1';
    assert.deepEqual(parseHead(bytes(line + '\r\n\r\n')), {
      state: 'invalid',
      reason: HEAD_INVALID_REASON.lineTooLong,
    });
    assert.deepEqual(parseHead(bytes(line)), { state: 'invalid', reason: HEAD_INVALID_REASON.lineTooLong });
  });

  test('with allowTruncated the limits cut the head instead of rejecting it', () => {
    const many = 'GET /many HTTP/1.1\r\n' + 'X: 1\r\n'.repeat(MAX_HEADER_COUNT + 5) + '\r\n';
    const cut = complete(many, { allowTruncated: true }).head;
    assert.equal(cut.truncated, true);
    assert.equal(cut.path, '/many');
    assert.equal(cut.headers.length, MAX_HEADER_COUNT);

    const longField = 'GET /long HTTP/1.1\r\nHost: x\r\nX-Big: ' + 'v'.repeat(MAX_LINE_BYTES) + '\r\n\r\n';
    const field = complete(longField, { allowTruncated: true }).head;
    assert.equal(field.truncated, true);
    assert.deepEqual(field.headers, [['Host', 'x']]);

    const longTarget = 'GET /' + 'a'.repeat(MAX_LINE_BYTES) + ' HTTP/1.1\r\nHost: x\r\n\r\n';
    const target = complete(longTarget, { allowTruncated: true }).head;
    assert.equal(target.truncated, true);
    assert.equal(target.method, 'GET');
    assert.equal(target.target!.length, MAX_LINE_BYTES - 4);
  });

  test('head too large', () => {
    const wire = 'GET / HTTP/1.1\r\n' + 'X-Pad: aaaaaaaaaa\r\n'.repeat(100) + '\r\n';
    assert.deepEqual(parseHead(bytes(wire), 0, wire.length, { maxHeadBytes: 1000, maxHeaderCount: 1000 }), {
      state: 'invalid',
      reason: HEAD_INVALID_REASON.headTooLarge,
    });
  });

  test('garbage is rejected as soon as its first line is complete, without waiting for an empty line', () => {
    assert.equal(parseHead(bytes('\x00\x01garbage\r\n')).state, 'invalid');
    assert.equal(parseHead(bytes('GET / HTTP/1.1\r\nno colon here\r\n')).state, 'invalid');
  });
});

describe('parseHead: needs more', () => {
  const heads = [
    SIMPLE_GET,
    POST_JSON_HEAD,
    RESPONSE_200_HELLO.slice(0, RESPONSE_200_HELLO.indexOf('\r\n\r\n') + 4),
    REQUEST_WITH_SECRETS,
    UPGRADE_WEBSOCKET,
    'HTTP/1.1 204 No Content\nServer: x\n\n',
  ];
  for (const wire of heads) {
    test(`every proper prefix needs more: ${JSON.stringify(wire.slice(0, 24))}`, () => {
      for (let cut = 0; cut < wire.length; cut++) {
        assert.deepEqual(parseHead(bytes(wire), 0, cut), { state: 'needs-more' }, `cut at ${cut}`);
      }
      assert.equal(parseHead(bytes(wire)).state, 'complete');
    });
  }
});

describe('parseHead: truncated heads (allowTruncated)', () => {
  test('cut inside a field value: the cut value is kept, the head is marked', () => {
    const { head } = complete('GET /a HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozil', { allowTruncated: true });
    assert.equal(head.truncated, true);
    assert.deepEqual(head.headers, [
      ['Host', 'x'],
      ['User-Agent', 'Mozil'],
    ]);
  });

  test('cut inside a field name: the partial line is ignored', () => {
    const { head } = complete('GET /a HTTP/1.1\r\nHost: x\r\nAcc', { allowTruncated: true });
    assert.deepEqual(head.headers, [['Host', 'x']]);
    assert.equal(head.truncated, true);
  });

  test('cut inside the request line: method and partial target', () => {
    const { head } = complete('GET /very/long/path?x=1', { allowTruncated: true });
    assert.equal(head.method, 'GET');
    assert.equal(head.path, '/very/long/path');
    assert.equal(head.version, null);
    assert.equal(head.truncated, true);
  });

  test('cut inside the status line after the code', () => {
    const { head } = complete('HTTP/1.1 503 Service Unav', { allowTruncated: true });
    assert.equal(head.statusCode, 503);
    assert.equal(head.reason, 'Service Unav');
  });

  test('cut before the status code is unusable', () => {
    assert.equal(parseHead(bytes('HTTP/1.1 5'), 0, 10, { allowTruncated: true }).state, 'invalid');
  });

  test('a cut Content-Length value is not a framing error', () => {
    const { head } = complete('HTTP/1.1 200 OK\r\nContent-Length: 12', { allowTruncated: true });
    assert.equal(head.truncated, true);
  });

  test('a complete head parses the same with or without allowTruncated', () => {
    assert.deepEqual(
      parseHead(bytes(SIMPLE_GET), 0, SIMPLE_GET.length, { allowTruncated: true }),
      parseHead(bytes(SIMPLE_GET)),
    );
  });
});

describe('findHeadEnd', () => {
  const cases: Array<[name: string, wire: string, expected: number]> = [
    ['CRLF head', SIMPLE_GET, SIMPLE_GET.length],
    ['head followed by body', POST_JSON, POST_JSON_HEAD.length],
    ['bare LF', 'GET / HTTP/1.1\nA: b\n\nxyz', 21],
    ['mixed', 'GET / HTTP/1.1\r\nA: b\n\r\n', 23],
    ['incomplete', 'GET / HTTP/1.1\r\nA: b\r\n', -1],
    ['leading empty lines are not the end', '\r\n\r\n', -1],
    ['leading empty line then head', '\r\nGET / HTTP/1.1\r\n\r\n', 20],
  ];
  for (const [name, wire, expected] of cases) {
    test(name, () => assert.equal(findHeadEnd(bytes(wire), 0, wire.length), expected));
  }

  test('incremental scan finds a terminator split across calls', () => {
    const wire = bytes(SIMPLE_GET);
    for (let split = 1; split < wire.length; split++) {
      const first = findHeadEnd(wire, 0, split);
      const second = first === -1 ? findHeadEnd(wire, 0, wire.length, split) : first;
      assert.equal(second, wire.length, `split at ${split}`);
    }
  });
});

describe('parseHead: properties', () => {
  test('random bytes never throw and give a well-formed state', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (buf, allowTruncated) => {
        const r = parseHead(buf, 0, buf.length, { allowTruncated });
        assert.ok(['complete', 'needs-more', 'invalid'].includes(r.state));
        if (r.state === 'complete') assert.ok(r.consumed > 0 && r.consumed <= buf.length);
      }),
      { numRuns: 3000 },
    );
  });

  test('mutated heads (byte flips) never throw', () => {
    const seeds = [
      SIMPLE_GET,
      POST_JSON,
      RESPONSE_200_HELLO,
      REQUEST_WITH_SECRETS,
      CHUNKED_RESPONSE_HEAD,
    ].map(bytes);
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        (seed, flips) => {
          const buf = seed.slice();
          for (const [at, v] of flips) buf[at % buf.length] = v;
          const r = parseHead(buf);
          if (r.state === 'complete') assert.ok(r.consumed <= buf.length);
        },
      ),
      { numRuns: 3000 },
    );
  });

  test('generated valid heads round-trip their fields', () => {
    const token = fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/);
    const value = fc.stringMatching(/^[ -~]{0,40}$/).map((v) => v.trim());
    fc.assert(
      fc.property(fc.array(fc.tuple(token, value), { maxLength: 20 }), (fields) => {
        const filtered = fields.filter(
          ([n]) => !['content-length', 'transfer-encoding'].includes(n.toLowerCase()),
        );
        const wire = 'GET /x HTTP/1.1\r\n' + filtered.map(([n, v]) => `${n}: ${v}\r\n`).join('') + '\r\n';
        const { head } = complete(wire);
        assert.deepEqual(
          head.headers.map(([n, v]) => [n, v]),
          filtered,
        );
      }),
      { numRuns: 500 },
    );
  });
});
