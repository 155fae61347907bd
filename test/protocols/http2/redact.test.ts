import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileRedactionPolicy } from '../../../protocols/http1/redact.ts';
import type { HpackField } from '../../../protocols/http2/hpack-decoder.ts';
import { redactFields } from '../../../protocols/http2/redact.ts';

const f = (name: string | null, value: string | null, neverIndexed = false): HpackField => ({
  name,
  value,
  neverIndexed,
});

describe('redactFields: the HTTP/1.x policy on decoded HTTP/2 fields', () => {
  const table: Array<[string, HpackField, string | null]> = [
    ['a sensitive name', f('authorization', 'Bearer abc'), '[REDACTED]'],
    ['cookie', f('cookie', 'sid=1'), '[REDACTED]'],
    ['a harmless name', f('user-agent', 'grpc-node-js/1.14'), 'grpc-node-js/1.14'],
    ['a value the sender marked never indexed', f('x-session', 'abc', true), '[REDACTED]'],
    ['gRPC binary metadata', f('trace-bin', 'AAEC'), '[REDACTED]'],
    [':path query parameters', f(':path', '/a?token=t&x=1'), '/a?token=[REDACTED]&x=1'],
    [':path with a space (cannot be split like a target)', f(':path', '/a?x=1 token=t'), '[REDACTED]'],
    [
      'a path secret (a JWT segment)',
      f(':path', '/v/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl/x'),
      '/v/[REDACTED]/x',
    ],
    [
      'a gRPC method path is kept',
      f(':path', '/inventory.v1.Inventory/Reserve'),
      '/inventory.v1.Inventory/Reserve',
    ],
    ['a header pattern (*token*)', f('x-refresh-token', 'abc'), '[REDACTED]'],
    [
      'referer, redacted like a target',
      f('referer', 'https://a.example/cb?code=x&y=1'),
      'https://a.example/cb?code=[REDACTED]&y=1',
    ],
    [':authority with userinfo', f(':authority', 'user:pw@host:443'), '[REDACTED]@host:443'],
    ['a value whose name is unresolved', f(null, 'secret?'), '[REDACTED]'],
    ['an unresolved value stays unresolved', f('x-a', null), null],
  ];
  for (const [name, field, want] of table) {
    test(name, () => {
      const r = redactFields([field]);
      assert.equal(r.fields[0]!.value, want);
      assert.equal(r.redactions, want === field.value ? 0 : want === null ? 0 : 1);
    });
  }

  test('configured names and marker apply, and -bin can be kept', () => {
    const policy = compileRedactionPolicy({ headers: ['x-tenant-key'], marker: '***' });
    const r = redactFields([f('x-tenant-key', 'k'), f('trace-bin', 'AAEC')], {
      policy,
      redactBinaryMetadata: false,
    });
    assert.deepEqual(
      r.fields.map((x) => x.value),
      ['***', 'AAEC'],
    );
  });
});
