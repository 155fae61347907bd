import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseHead } from '../../../protocols/http1/parse-head.ts';
import {
  compileRedactionPolicy,
  DEFAULT_SENSITIVE_HEADERS,
  DEFAULT_SENSITIVE_QUERY_PARAMS,
  REDACTION_MARKER,
  redactHead,
} from '../../../protocols/http1/redact.ts';
import { bytes, REQUEST_WITH_SECRETS, RESPONSE_200_HELLO, SECRET, SIMPLE_GET, text } from './fixtures.ts';

/** Secrets in these tests are built only from these bytes, which nothing else in a fixture uses. */
const SECRET_ALPHABET = '~^';

function assertNoSecretBytes(out: Uint8Array, context: string): void {
  const s = text(out);
  for (const ch of SECRET_ALPHABET)
    assert.ok(!s.includes(ch), `${context}: secret byte ${ch} leaked in ${JSON.stringify(s)}`);
}

function redact(wire: string, policy = compileRedactionPolicy()) {
  const r = redactHead(bytes(wire), policy);
  return { ...r, out: text(r.bytes) };
}

function caseVariants(name: string): string[] {
  const mixed = name
    .split('')
    .map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c.toLowerCase()))
    .join('');
  const title = name.replace(/(^|-)([a-z])/g, (_, d: string, c: string) => d + c.toUpperCase());
  return [...new Set([name, name.toUpperCase(), mixed, title])];
}

describe('redactHead: sensitive headers', () => {
  for (const name of DEFAULT_SENSITIVE_HEADERS) {
    for (const variant of caseVariants(name)) {
      test(`${variant} is redacted`, () => {
        const wire = `GET / HTTP/1.1\r\nHost: a\r\n${variant}: Bearer ${SECRET}\r\nAccept: */*\r\n\r\n`;
        const r = redact(wire);
        assert.equal(
          r.out,
          `GET / HTTP/1.1\r\nHost: a\r\n${variant}: ${REDACTION_MARKER}\r\nAccept: */*\r\n\r\n`,
        );
        assert.equal(r.redactions, 1);
        assertNoSecretBytes(r.bytes, variant);
      });
    }
  }

  const cases: Array<[name: string, wire: string, expected: string, redactions: number]> = [
    [
      'no space after colon',
      `GET / HTTP/1.1\r\nCookie:${SECRET}\r\n\r\n`,
      `GET / HTTP/1.1\r\nCookie: ${REDACTION_MARKER}\r\n\r\n`,
      1,
    ],
    [
      'whitespace before colon (invalid, still redacted)',
      `GET / HTTP/1.1\r\nAuthorization \t: ${SECRET}\r\n\r\n`,
      `GET / HTTP/1.1\r\nAuthorization \t: ${REDACTION_MARKER}\r\n\r\n`,
      1,
    ],
    [
      'repeated fields each redacted',
      `HTTP/1.1 200 OK\r\nSet-Cookie: a=${SECRET}\r\nSet-Cookie: b=${SECRET}\r\n\r\n`,
      `HTTP/1.1 200 OK\r\nSet-Cookie: ${REDACTION_MARKER}\r\nSet-Cookie: ${REDACTION_MARKER}\r\n\r\n`,
      2,
    ],
    [
      'obs-fold lines of a sensitive field are its value (RFC 9112 §5.2)',
      `GET / HTTP/1.1\r\nAuthorization: Bearer\r\n ${SECRET}\r\n\t${SECRET}\r\nX-Ok: 1\r\n  fine\r\n\r\n`,
      `GET / HTTP/1.1\r\nAuthorization: ${REDACTION_MARKER}\r\nX-Ok: 1\r\n  fine\r\n\r\n`,
      1,
    ],
    [
      'bare LF line ends',
      `GET / HTTP/1.1\nCookie: ${SECRET}\n\n`,
      `GET / HTTP/1.1\nCookie: ${REDACTION_MARKER}\n\n`,
      1,
    ],
    [
      'a line with a bare CR cannot be judged and is dropped',
      `GET / HTTP/1.1\r\nX-A: 1\rAuthorization: ${SECRET}\r\n\r\n`,
      'GET / HTTP/1.1\r\n\r\n',
      0,
    ],
    [
      'a complete line without colon is dropped',
      `GET / HTTP/1.1\r\nAuthorization Bearer ${SECRET}\r\nHost: a\r\n\r\n`,
      'GET / HTTP/1.1\r\nHost: a\r\n\r\n',
      0,
    ],
    [
      'status line is left alone',
      RESPONSE_200_HELLO.slice(0, 17) + '\r\n',
      RESPONSE_200_HELLO.slice(0, 17) + '\r\n',
      0,
    ],
    [
      'a field name with a byte outside tchar is dropped',
      `GET / HTTP/1.1\r\nAuthoriz\x00tion: ${SECRET}\r\nHost: a\r\n\r\n`,
      'GET / HTTP/1.1\r\nHost: a\r\n\r\n',
      0,
    ],
    [
      'a start line with a bare CR is replaced whole',
      `GET /x HTTP/1.1\rAuthorization: ${SECRET}\r\nHost: a\r\n\r\n`,
      `${REDACTION_MARKER}\r\nHost: a\r\n\r\n`,
      1,
    ],
    [
      'a first line whose method is not a token is replaced',
      `GET\x00/x?token=${SECRET} HTTP/1.1\r\n\r\n`,
      `${REDACTION_MARKER}\r\n\r\n`,
      1,
    ],
    [
      'bytes after the head are dropped',
      `GET / HTTP/1.1\r\n\r\nCookie: ${SECRET}`,
      'GET / HTTP/1.1\r\n\r\n',
      0,
    ],
  ];
  for (const [name, wire, expected, redactions] of cases) {
    test(name, () => {
      const r = redact(wire);
      assert.equal(r.out, expected);
      assert.equal(r.redactions, redactions);
      assertNoSecretBytes(r.bytes, name);
    });
  }

  test('a head without secrets is unchanged, byte for byte', () => {
    const r = redact(SIMPLE_GET);
    assert.equal(r.out, SIMPLE_GET);
    assert.equal(r.redactions, 0);
    assert.equal(r.droppedBytes, 0);
  });

  test('configured header names are added, case-insensitively; defaults stay', () => {
    const policy = compileRedactionPolicy({ headers: ['X-Internal-Secret', ' x-session '] });
    const r = redact(
      `GET / HTTP/1.1\r\nx-internal-secret: ${SECRET}\r\nX-SESSION: ${SECRET}\r\nCookie: ${SECRET}\r\nX-Other: ok\r\n\r\n`,
      policy,
    );
    assert.equal(r.redactions, 3);
    assert.ok(r.out.includes('X-Other: ok'));
    assertNoSecretBytes(r.bytes, 'configured');
  });

  test('a configured marker is used', () => {
    const policy = compileRedactionPolicy({ marker: '***' });
    assert.equal(
      redact(`GET / HTTP/1.1\r\nCookie: ${SECRET}\r\n\r\n`, policy).out,
      'GET / HTTP/1.1\r\nCookie: ***\r\n\r\n',
    );
  });

  test('an unusable marker is a configuration error', () => {
    for (const marker of ['', ' x', 'a\r\nb', 'caf\u00e9']) {
      assert.throws(() => compileRedactionPolicy({ marker }), RangeError, JSON.stringify(marker));
    }
  });

  test('the redacted head parses to the same framing', () => {
    const wire = `POST /x?token=${SECRET} HTTP/1.1\r\nAuthorization: ${SECRET}\r\nContent-Length: 5\r\nConnection: close\r\n\r\n`;
    const before = parseHead(bytes(wire));
    const after = parseHead(redactHead(bytes(wire)).bytes);
    assert.equal(before.state, 'complete');
    assert.equal(after.state, 'complete');
    if (before.state !== 'complete' || after.state !== 'complete') return;
    assert.equal(after.head.contentLength, before.head.contentLength);
    assert.equal(after.head.connectionClose, before.head.connectionClose);
    assert.equal(after.head.path, before.head.path);
    assert.equal(after.head.query, `token=${REDACTION_MARKER}`);
  });
});

describe('redactHead: query parameters and userinfo', () => {
  for (const name of DEFAULT_SENSITIVE_QUERY_PARAMS) {
    test(`?${name}= is redacted`, () => {
      const r = redact(`GET /p?a=1&${name}=${SECRET}&b=2 HTTP/1.1\r\n\r\n`);
      assert.equal(r.out, `GET /p?a=1&${name}=${REDACTION_MARKER}&b=2 HTTP/1.1\r\n\r\n`);
      assert.equal(r.redactions, 1);
    });
  }

  const cases: Array<[name: string, target: string, expected: string, redactions: number]> = [
    ['first parameter', `/p?token=${SECRET}`, `/p?token=${REDACTION_MARKER}`, 1],
    ['case-insensitive name', `/p?Access_Token=${SECRET}`, `/p?Access_Token=${REDACTION_MARKER}`, 1],
    ['percent-encoded name', `/p?pass%77ord=${SECRET}`, `/p?pass%77ord=${REDACTION_MARKER}`, 1],
    [
      'several',
      `/p?token=${SECRET}&password=${SECRET}`,
      `/p?token=${REDACTION_MARKER}&password=${REDACTION_MARKER}`,
      2,
    ],
    ['empty value is left alone', '/p?token=&x=1', '/p?token=&x=1', 0],
    ['name without value', '/p?token&x=1', '/p?token&x=1', 0],
    ['similar names are not sensitive', '/p?tokens=1&my_token=2', '/p?tokens=1&my_token=2', 0],
    ['value containing =', `/p?token=${SECRET}=${SECRET}`, `/p?token=${REDACTION_MARKER}`, 1],
    ['fragment kept', `/p?token=${SECRET}#top`, `/p?token=${REDACTION_MARKER}#top`, 1],
    ['no query', '/p/token=x', '/p/token=x', 0],
    ['";" separates parameters too', `/p?a=1;token=${SECRET};b=2`, `/p?a=1;token=${REDACTION_MARKER};b=2`, 1],
    [
      'a query with a byte a target cannot hold is replaced whole',
      `/p?page=2\x00access_token=${SECRET}`,
      `/p?${REDACTION_MARKER}`,
      1,
    ],
    ['userinfo in absolute-form', `http://user:${SECRET}@h.test/p`, `http://${REDACTION_MARKER}@h.test/p`, 1],
    [
      'userinfo and query',
      `http://u:${SECRET}@h.test/p?api_key=${SECRET}`,
      `http://${REDACTION_MARKER}@h.test/p?api_key=${REDACTION_MARKER}`,
      2,
    ],
    ['@ in the path is not userinfo', 'http://h.test/p@q', 'http://h.test/p@q', 0],
  ];
  for (const [name, target, expected, redactions] of cases) {
    test(name, () => {
      const r = redact(`GET ${target} HTTP/1.1\r\nHost: h\r\n\r\n`);
      assert.equal(r.out, `GET ${expected} HTTP/1.1\r\nHost: h\r\n\r\n`);
      assert.equal(r.redactions, redactions);
      assertNoSecretBytes(r.bytes, name);
    });
  }

  test('configured query parameters are added', () => {
    const policy = compileRedactionPolicy({ queryParams: ['sig', 'X-Amz-Signature'] });
    const r = redact(
      `GET /o?x-amz-signature=${SECRET}&sig=${SECRET}&token=${SECRET} HTTP/1.1\r\n\r\n`,
      policy,
    );
    assert.equal(r.redactions, 3);
    assertNoSecretBytes(r.bytes, 'configured params');
  });

  test('query parameters are not touched in a status line', () => {
    const wire = 'HTTP/1.1 302 Found ?token=abc\r\n\r\n';
    assert.equal(redact(wire).out, wire);
  });
});

describe('redactHead: heads cut by the copy cap', () => {
  const cases: Array<[name: string, wire: string, expected: string]> = [
    [
      'inside an Authorization value',
      `GET / HTTP/1.1\r\nAuthorization: Bearer ${SECRET.slice(0, 3)}`,
      `GET / HTTP/1.1\r\nAuthorization: ${REDACTION_MARKER}`,
    ],
    [
      'right after the colon',
      'GET / HTTP/1.1\r\nAuthorization:',
      `GET / HTTP/1.1\r\nAuthorization: ${REDACTION_MARKER}`,
    ],
    [
      'inside the name of a sensitive field',
      'GET / HTTP/1.1\r\nHost: a\r\nAuthori',
      'GET / HTTP/1.1\r\nHost: a\r\n',
    ],
    ['inside the name of any field', 'GET / HTTP/1.1\r\nHost: a\r\nAcc', 'GET / HTTP/1.1\r\nHost: a\r\n'],
    [
      'inside a non-sensitive value: kept',
      'GET / HTTP/1.1\r\nUser-Agent: Mozi',
      'GET / HTTP/1.1\r\nUser-Agent: Mozi',
    ],
    [
      'between CR and LF of a sensitive line',
      `GET / HTTP/1.1\r\nCookie: ${SECRET}\r`,
      `GET / HTTP/1.1\r\nCookie: ${REDACTION_MARKER}\r`,
    ],
    [
      'inside a fold line of a sensitive field',
      `GET / HTTP/1.1\r\nCookie: a\r\n ${SECRET.slice(0, 2)}`,
      `GET / HTTP/1.1\r\nCookie: ${REDACTION_MARKER}\r\n`,
    ],
    ['inside a query value', `GET /p?token=${SECRET.slice(0, 3)}`, `GET /p?token=${REDACTION_MARKER}`],
    ['inside a query name', 'GET /p?x=1&passw', 'GET /p?x=1&passw'],
    [
      'inside an absolute-form authority (a userinfo may follow)',
      `GET http://user:${SECRET.slice(0, 2)}`,
      `GET http://${REDACTION_MARKER}`,
    ],
  ];
  for (const [name, wire, expected] of cases) {
    test(name, () => {
      const r = redact(wire);
      assert.equal(r.out, expected);
      assertNoSecretBytes(r.bytes, name);
    });
  }

  test('cut at every byte of a request full of secrets: no secret byte ever leaves', () => {
    const wire = bytes(REQUEST_WITH_SECRETS);
    for (let cut = 0; cut <= wire.length; cut++) {
      assertNoSecretBytes(redactHead(wire, undefined, 0, cut).bytes, `cut at ${cut}`);
    }
  });

  test('cut at every byte of a response setting cookies', () => {
    const wire = bytes(
      `HTTP/1.1 200 OK\r\nSet-Cookie: id=${SECRET}; HttpOnly\r\nX-Auth-Token: ${SECRET}\r\nContent-Length: 0\r\n\r\n`,
    );
    for (let cut = 0; cut <= wire.length; cut++) {
      assertNoSecretBytes(redactHead(wire, undefined, 0, cut).bytes, `cut at ${cut}`);
    }
  });
});

describe('redactHead: properties', () => {
  const secret = fc.stringMatching(/^[~^]{1,24}$/);
  const plainValue = fc.stringMatching(/^[a-zA-Z0-9 ;=,/.]{0,20}$/);
  const sensitiveName = fc
    .constantFrom(...DEFAULT_SENSITIVE_HEADERS)
    .chain((n) => fc.constantFrom(...caseVariants(n)));
  const plainName = fc.constantFrom('Host', 'Accept', 'User-Agent', 'X-Request-Id', 'Content-Type');
  const lineEnd = fc.constantFrom('\r\n', '\n');
  const field = fc.oneof(
    fc
      .tuple(sensitiveName, secret, lineEnd, fc.option(secret))
      .map(([n, v, le, fold]) => `${n}:${v}${le}` + (fold === null ? '' : ` ${fold}${le}`)),
    fc.tuple(plainName, plainValue, lineEnd).map(([n, v, le]) => `${n}: ${v}${le}`),
  );
  const param = fc.oneof(
    fc.tuple(fc.constantFrom(...DEFAULT_SENSITIVE_QUERY_PARAMS), secret).map(([n, v]) => `${n}=${v}`),
    fc
      .tuple(fc.constantFrom('a', 'page', 'q'), fc.stringMatching(/^[a-z0-9]{0,6}$/))
      .map(([n, v]) => `${n}=${v}`),
  );
  const head = fc
    .tuple(fc.array(param, { maxLength: 4 }), fc.array(field, { maxLength: 8 }))
    .map(([params, fields]) => {
      const target = params.length === 0 ? '/x' : `/x?${params.join('&')}`;
      return `GET ${target} HTTP/1.1\r\n${fields.join('')}\r\n`;
    });

  test('no secret byte survives, whole or cut anywhere', () => {
    fc.assert(
      fc.property(head, fc.nat(), (wire, cutSeed) => {
        const buf = bytes(wire);
        assertNoSecretBytes(redactHead(buf).bytes, 'whole');
        const cut = cutSeed % (buf.length + 1);
        assertNoSecretBytes(redactHead(buf, undefined, 0, cut).bytes, `cut at ${cut}`);
      }),
      { numRuns: 3000 },
    );
  });

  test('random bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (buf) => {
        const r = redactHead(buf);
        assert.ok(r.redactions >= 0 && r.droppedBytes >= 0);
      }),
      { numRuns: 3000 },
    );
  });
});
