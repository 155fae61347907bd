/** record-splice: a spliced record is byte for byte what decoding, changing and encoding it writes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codecFor } from '../../schemas/codec.ts';
import { RecordSplicer } from '../../schemas/record-splice.ts';
import type { Span } from '../../schemas/types.ts';
import { SPAN } from '../../testkit/fixtures.ts';

const codec = codecFor<Span>('span');
const CAPTURES = [
  'spanId',
  'kind',
  'startTimeUnixNano',
  'local.node',
  'local.tid',
  'link.confidence',
  'attributes',
];
const splicer = new RecordSplicer(codec.schema, {
  captures: CAPTURES,
  changed: ['traceId', 'parentSpanId', 'link', 'attributes'],
  decoded: ['attributes'],
});
const same = (id: number) => id === codec.schema.id;

/** Spans in the forms avsc writes: ASCII and not, empty and full maps, gRPC, longs of every size. */
const SPANS: Span[] = [
  SPAN,
  { ...SPAN, name: 'GET /caf\u00e9/\u{1f600}', attributes: { 'http.request.header.x': 'y', a: '\u00e9' } },
  {
    ...SPAN,
    parentSpanId: 'abcdef0123456789',
    traceState: 'k=v',
    incomplete: true,
    incompleteReason: 'timeout',
  },
  {
    ...SPAN,
    startTimeUnixNano: 0n,
    endTimeUnixNano: -(2n ** 63n),
    local: { ...SPAN.local, tid: -5, pid: 2 ** 31 - 1 },
  },
  {
    ...SPAN,
    rpc: {
      system: 'grpc',
      service: 'inventory.v1.Inventory',
      method: 'Reserve',
      grpcStatusCode: 14,
      requestMessages: 3,
      responseMessages: 0,
      messagesExact: true,
    },
  },
];

describe('record-splice', () => {
  it('captures the fields asked for, as the codec decodes them', () => {
    for (const span of SPANS) {
      const scanned = splicer.scan(codec.encode(span), same);
      assert.ok(scanned !== null);
      assert.deepEqual(scanned.values, [
        span.spanId,
        span.kind,
        span.startTimeUnixNano,
        span.local.node,
        span.local.tid,
        span.link.confidence,
        span.attributes,
      ]);
    }
  });

  it('writes what encoding the decoded span with the same changes writes', () => {
    for (const span of SPANS) {
      const bytes = codec.encode(span);
      const scanned = splicer.scan(bytes, same)!;
      const attributes = {
        ...(scanned.values[6] as Record<string, string>),
        'meshpipe.link.candidates': '2',
      };
      const link = { method: 'PROCESS_CAUSALITY' as const, confidence: 0.45 };
      const changes = ['4bf92f3577b34da6a3ce929d0e0e4736', null, link, attributes];
      const expected = codec.encode({
        ...codec.decode(bytes),
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        parentSpanId: null,
        link,
        attributes,
      });
      assert.deepEqual(splicer.splice(scanned, changes), expected);
    }
  });

  it('declines what it cannot copy exactly: other schemas, longer varints, bad booleans, trailing bytes', () => {
    const bytes = codec.encode(SPAN);
    assert.equal(
      splicer.scan(bytes, () => false),
      null,
      'another schema id',
    );
    assert.equal(splicer.scan(Buffer.concat([bytes, Buffer.from([0])]), same), null, 'trailing byte');
    assert.equal(splicer.scan(bytes.subarray(0, bytes.length - 1), same), null, 'truncated');
    // The first field is the trace id: its length as a two-byte varint (a longer form of the same number).
    const n = bytes[5]!;
    const longer = Buffer.concat([bytes.subarray(0, 5), Buffer.from([n | 0x80, 0]), bytes.subarray(6)]);
    assert.deepEqual(codec.decode(longer), codec.decode(bytes), 'avsc reads it');
    assert.equal(splicer.scan(longer, same), null);
    // `incomplete` as 2: avsc reads true, and would write 1.
    const flagged = codec.encode({ ...SPAN, incomplete: true });
    const at = flagged.indexOf(1, flagged.indexOf(Buffer.from('curl/7.88.1')) + 11);
    const two = Buffer.from(flagged);
    two[at] = 2;
    assert.equal(codec.decode(two).incomplete, true);
    assert.equal(splicer.scan(two, same), null);
  });
});
