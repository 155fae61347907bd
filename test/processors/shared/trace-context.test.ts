import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deterministicSpanId, traceIdForRoot } from '../../../processors/shared/span-ids.ts';
import { formatTraceparent, parseTraceparent } from '../../../processors/shared/trace-context.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

describe('W3C traceparent', () => {
  test('a valid version-00 header', () => {
    assert.deepEqual(parseTraceparent(`00-${TRACE}-${PARENT}-01`), {
      version: '00',
      traceId: TRACE,
      parentId: PARENT,
      flags: '01',
    });
    assert.equal(parseTraceparent(` ${formatTraceparent(TRACE, PARENT, '00')} `)?.flags, '00');
  });

  const invalid: [string, string | null | undefined][] = [
    ['absent', undefined],
    ['null', null],
    ['too short', `00-${TRACE}-${PARENT}-0`],
    ['version 00 with extra fields', `00-${TRACE}-${PARENT}-01-extra`],
    ['version ff', `ff-${TRACE}-${PARENT}-01`],
    ['uppercase', `00-${TRACE.toUpperCase()}-${PARENT}-01`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${PARENT}-01`],
    ['all-zero parent id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['wrong separators', `00_${TRACE}_${PARENT}_01`],
    ['non-hex flags', `00-${TRACE}-${PARENT}-zz`],
  ];
  for (const [name, value] of invalid)
    test(`ignored: ${name}`, () => assert.equal(parseTraceparent(value), null));

  test('a future version may carry more fields', () => {
    assert.equal(parseTraceparent(`01-${TRACE}-${PARENT}-01-abcd`)?.traceId, TRACE);
    assert.equal(parseTraceparent(`01-${TRACE}-${PARENT}-01abcd`), null);
  });
});

describe('deterministic ids', () => {
  test('stable, well-formed, and separated by their parts', () => {
    const a = deterministicSpanId(['k', 'side', 'SERVER', 'request', 0]);
    assert.match(a, /^[0-9a-f]{16}$/);
    assert.equal(deterministicSpanId(['k', 'side', 'SERVER', 'request', 0]), a);
    assert.notEqual(deterministicSpanId(['k', 'side', 'SERVER', 'request', 1]), a);
    assert.notEqual(
      deterministicSpanId(['k|side', 'SERVER', 'request', 0]),
      deterministicSpanId(['k', 'side|SERVER', 'request', 0]),
    );
    assert.match(traceIdForRoot(a), /^[0-9a-f]{32}$/);
    assert.equal(traceIdForRoot(a), traceIdForRoot(a));
  });
});
