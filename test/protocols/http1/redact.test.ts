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
import { looksSecret } from '../../../protocols/http1/secret-shapes.ts';
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
    [
      'names containing a sensitive word are sensitive (*token*)',
      '/p?tokens=1&my_token=2&page=3',
      `/p?tokens=${REDACTION_MARKER}&my_token=${REDACTION_MARKER}&page=3`,
      2,
    ],
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

const R = REDACTION_MARKER;
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
const SLACK_KEY = 'aZ3kP9qLm2Xv8RtY6wN1bC4d';
const HEX64 = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
const UUID = '7c1e6a2b-3d4f-4a5b-8c9d-0e1f2a3b4c5d';

describe('redactHead: field name patterns and the well-known fields', () => {
  const redacted = [
    'X-My-Token',
    'X-Service-Secret',
    'Db-Password',
    'X-Custom-Api-Key',
    'X-ApiKey',
    'X-Hub-Signature-256',
    'Sec-WebSocket-Protocol',
    'X-Amz-Security-Token',
    'X-Goog-Api-Key',
    'Api-Key',
    'X-CSRF-Token',
    'Private-Token',
    'X-Vault-Token',
  ];
  for (const name of redacted) {
    test(`${name} is redacted by default`, () => {
      const r = redact(`GET / HTTP/1.1\r\nHost: a\r\n${name}: ${SECRET}\r\n\r\n`);
      assert.equal(r.out, `GET / HTTP/1.1\r\nHost: a\r\n${name}: ${R}\r\n\r\n`);
      assertNoSecretBytes(r.bytes, name);
    });
  }

  test('ordinary fields stay', () => {
    const wire = `GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nX-Request-Id: ${UUID}\r\nContent-Type: text/plain\r\nUser-Agent: curl/8\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n`;
    assert.equal(redact(wire).out, wire);
  });

  test('a configured pattern is a pattern (x-*-session), never a literal name', () => {
    const policy = compileRedactionPolicy({ headers: ['x-*-session', 'X-Tenant-?d'] });
    const r = redact(
      `GET / HTTP/1.1\r\nX-Shop-Session: ${SECRET}\r\nX-Tenant-Id: ${SECRET}\r\nX-Session: ok\r\nX-*-Session: ok2\r\n\r\n`,
      policy,
    );
    assert.equal(
      r.out,
      `GET / HTTP/1.1\r\nX-Shop-Session: ${R}\r\nX-Tenant-Id: ${R}\r\nX-Session: ok\r\nX-*-Session: ${R}\r\n\r\n`,
    );
  });
});

describe('redactHead: URLs (request-target and URL-valued fields)', () => {
  const targets: Array<[name: string, target: string, expected: string]> = [
    ['an e-mail address in the path', '/users/alice@example.com/orders', `/users/${R}/orders`],
    ['a percent-encoded e-mail address', '/users/alice%40example.co.uk', `/users/${R}`],
    ['a JWT in the path', `/auth/${JWT}/confirm`, `/auth/${R}/confirm`],
    [
      'a random token (a Slack webhook)',
      `/services/T0123ABCD/B0456EFGH/${SLACK_KEY}`,
      `/services/T0123ABCD/B0456EFGH/${R}`,
    ],
    ['a long hex run', `/blobs/${HEX64}`, `/blobs/${R}`],
    [
      'matrix parameters: every value',
      '/app;jsessionid=0F1E2D3C4B5A;v=2/page',
      `/app;jsessionid=${R};v=${R}/page`,
    ],
    ['a configured segment pattern', '/charges/sk_live_4eC39HqL', `/charges/${R}`],
    [
      'new default parameters',
      '/cb?code=abc123&state=xyz&id_token=t1&refresh_token=t2&client_secret=s&key=k&X-Amz-Signature=f00&sig=s2',
      `/cb?code=${R}&state=xyz&id_token=${R}&refresh_token=${R}&client_secret=${R}&key=${R}&X-Amz-Signature=${R}&sig=${R}`,
    ],
    [
      'a parameter value that looks secret, whatever its name',
      `/r?next=alice@example.com&t=${JWT}&page=2`,
      `/r?next=${R}&t=${R}&page=2`,
    ],
    ['a lone value that looks secret', `/r?${JWT}`, `/r?${R}`],
    [
      'fragment parameters (OAuth implicit flow)',
      '/cb#access_token=abc123&state=xyz&expires_in=3600',
      `/cb#access_token=${R}&state=xyz&expires_in=3600`,
    ],
    [
      'an absolute URL: userinfo, path and query',
      `http://bob:pw@h.test/u/bob@h.test?api_key=1`,
      `http://${R}@h.test/u/${R}?api_key=${R}`,
    ],
  ];
  for (const [name, target, expected] of targets) {
    test(`target: ${name}`, () => {
      const policy = compileRedactionPolicy({ pathSegments: ['sk_live_*'] });
      assert.equal(
        redact(`GET ${target} HTTP/1.1\r\nHost: h\r\n\r\n`, policy).out,
        `GET ${expected} HTTP/1.1\r\nHost: h\r\n\r\n`,
      );
    });
  }

  const kept = [
    '/orders/12345678901234567890',
    `/orders/${UUID}`,
    '/docs/internationalization-and-localization',
    '/blog/2024-03-15-release-notes-v2',
    '/api/getUserProfileSettingsForAccount',
    '/files/report-2026-final.pdf',
    '/search?q=running+shoes+size+42&sort=price_asc&page=3',
    '/static/app.3f2a1b.js',
    '/v2/deadbeefcafe',
  ];
  for (const target of kept) {
    test(`target kept: ${target}`, () => {
      const wire = `GET ${target} HTTP/1.1\r\nHost: h\r\n\r\n`;
      assert.equal(redact(wire).out, wire);
    });
  }

  test('Referer, Location, Origin and Content-Location go through the same redaction', () => {
    const r = redact(
      `HTTP/1.1 302 Found\r\nLocation: https://app.test/cb#access_token=${SECRET}&state=1\r\nContent-Location: /u/${SECRET}@mail.test\r\n\r\n`,
    );
    assert.equal(
      r.out,
      `HTTP/1.1 302 Found\r\nLocation: https://app.test/cb#access_token=${R}&state=1\r\nContent-Location: /u/${R}\r\n\r\n`,
    );
    const q = redact(
      `GET / HTTP/1.1\r\nReferer:  https://u:${SECRET}@shop.test/reset/${SLACK_KEY}?password=${SECRET}&page=2 \r\nOrigin: https://shop.test\r\n\r\n`,
    );
    assert.equal(
      q.out,
      `GET / HTTP/1.1\r\nReferer:  https://${R}@shop.test/reset/${R}?password=${R}&page=2 \r\nOrigin: https://shop.test\r\n\r\n`,
    );
    assertNoSecretBytes(q.bytes, 'referer');
  });

  test('fold lines of a URL-valued field are dropped (they would continue an unjudged URL)', () => {
    const r = redact(`GET / HTTP/1.1\r\nReferer: https://a.test/x?\r\n token=${SECRET}\r\n\r\n`);
    assert.equal(r.out, 'GET / HTTP/1.1\r\nReferer: https://a.test/x?\r\n\r\n');
  });

  test('a cut URL loses its last, partial segment or value', () => {
    assert.equal(redact('GET /users/ali').out, `GET /users/${R}`);
    assert.equal(redact('GET /r?next=ali').out, `GET /r?next=${R}`);
    assert.equal(
      redact('GET / HTTP/1.1\r\nReferer: https://a.test/u/ali').out,
      `GET / HTTP/1.1\r\nReferer: https://a.test/u/${R}`,
    );
  });

  test('shapes: what looks secret and what does not', () => {
    const yes = [
      'alice@example.com',
      'a.b+c@sub.example.org',
      JWT,
      HEX64,
      SLACK_KEY,
      'AbCdEfGhIjKlMnOpQrStUv',
      'dGhpcyBpcyBhIHNlY3JldCBrZXk9PQ',
    ];
    const no = [
      UUID,
      '12345678901234567890',
      'internationalization',
      'getUserProfileSettings',
      '2024-03-15-release-notes-v2',
      'user@localhost',
      '@alice',
      'deadbeefcafebabe',
    ];
    for (const v of yes) assert.ok(looksSecret(bytes(v), 0, v.length), v);
    for (const v of no) assert.ok(!looksSecret(bytes(v), 0, v.length), v);
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
  // Secrets in a URL by shape, not by name: an e-mail address whose local part is the secret.
  const email = secret.map((v) => `${v}@mail.test`);
  const segment = fc.oneof(fc.constantFrom('x', 'orders', '42'), email);
  const urlField = fc
    .tuple(fc.constantFrom('Referer', 'Location'), fc.array(segment, { maxLength: 3 }), lineEnd)
    .map(([n, segs, le]) => `${n}: https://h.test/${segs.join('/')}${le}`);
  const head = fc
    .tuple(
      fc.array(segment, { maxLength: 3 }),
      fc.array(param, { maxLength: 4 }),
      fc.array(fc.oneof(field, urlField), { maxLength: 8 }),
    )
    .map(([segments, params, fields]) => {
      const path = `/${segments.join('/')}`;
      const target = params.length === 0 ? path : `${path}?${params.join('&')}`;
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
