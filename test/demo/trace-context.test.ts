import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { outgoingTraceparent, parseTraceparent, serverSpan } from '../../demo/trace-context.ts';

// The example of https://www.w3.org/TR/trace-context/#examples-of-http-traceparent-headers
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const VALID = `00-${TRACE_ID}-${PARENT_ID}-01`;

describe('W3C traceparent', () => {
  it('parses a valid header', () => {
    assert.deepEqual(parseTraceparent(VALID), { traceId: TRACE_ID, parentId: PARENT_ID, flags: '01' });
  });

  const invalid: Array<[string, string | undefined]> = [
    ['absent', undefined],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${PARENT_ID}-01`],
    ['all-zero parent id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`],
    ['version ff', `ff-${TRACE_ID}-${PARENT_ID}-01`],
    ['extra field on version 00', `${VALID}-extra`],
    ['upper case', VALID.toUpperCase()],
    ['short trace id', `00-${TRACE_ID.slice(1)}-${PARENT_ID}-01`],
  ];
  for (const [name, header] of invalid) {
    it(`rejects ${name}`, () => assert.equal(parseTraceparent(header), undefined));
  }

  it('accepts extra fields from a later version', () => {
    assert.equal(parseTraceparent(`01-${TRACE_ID}-${PARENT_ID}-01-future`)?.traceId, TRACE_ID);
  });

  it('continues an incoming trace with a new span, and a new span id per outgoing call', () => {
    const span = serverSpan(VALID);
    assert.equal(span.traceId, TRACE_ID);
    assert.notEqual(span.spanId, PARENT_ID);
    const calls = [outgoingTraceparent(span), outgoingTraceparent(span)].map((h) => parseTraceparent(h)!);
    for (const call of calls) assert.equal(call.traceId, TRACE_ID);
    assert.notEqual(calls[0]!.parentId, calls[1]!.parentId);
    assert.notEqual(calls[0]!.parentId, PARENT_ID);
  });

  it('starts a sampled trace when nothing valid arrives', () => {
    const a = serverSpan(undefined);
    const b = serverSpan('garbage');
    assert.match(a.traceId, /^[0-9a-f]{32}$/);
    assert.notEqual(a.traceId, b.traceId);
    assert.equal(parseTraceparent(outgoingTraceparent(a))?.flags, '01');
  });
});
