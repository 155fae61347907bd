/**
 * Every reader sees one value at a time, whether a record holds a batch or a single value: batches of
 * each batched topic round-trip, single values of the item schema are read too, a batch assembled from
 * item records is the same bytes as one encoded from the values, and bad batches are errors, not values.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERRORS } from '../../lib/errors.ts';
import { partitionOfKey } from '../../lib/key-partition.ts';
import { codecFor, toJsonSafe } from '../../schemas/codec.ts';
import { batchRecordsOf, decodeAnyRecord, topicCodec } from '../../schemas/topic-codec.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { L7RawBatch, L7RawEvent, Span } from '../../schemas/types.ts';
import { RAW_EVENT, SPAN, TRACE_LINKING_EVENT } from '../../testkit/fixtures.ts';

const spans = topicCodec<Span>(TOPICS.spans);
const raw = topicCodec<L7RawEvent>(TOPICS.raw);

const later = (e: L7RawEvent, ns: bigint, tid = e.process.tid): L7RawEvent => ({
  ...e,
  monotonicNs: e.monotonicNs + ns,
  timeUnixNano: e.timeUnixNano + ns,
  seq: e.seq + 1n,
  process: { ...e.process, tid },
});

describe('topic codec', () => {
  it('round-trips batches of every batched topic, and reads single values of the item schema', () => {
    const cases: Array<[keyof typeof TOPICS, unknown[]]> = [
      ['spans', [SPAN, { ...SPAN, spanId: 'b'.repeat(16) }]],
      ['linking', [TRACE_LINKING_EVENT, { ...TRACE_LINKING_EVENT, node: 'node-b' }]],
      ['raw', [RAW_EVENT, later(RAW_EVENT, 1000n, 7), later(RAW_EVENT, -5n)]],
    ];
    for (const [id, values] of cases) {
      const codec = topicCodec(TOPICS[id]);
      const batches = codec.encodeBatches(values);
      assert.equal(batches.length, 1, id);
      assert.deepEqual(toJsonSafe(codec.decodeRecord(batches[0]!)), toJsonSafe(values), id);
      assert.deepEqual(toJsonSafe(codec.decodeRecord(codec.item.encode(values[0]))), toJsonSafe([values[0]]));
    }
  });

  it('writes a connection once per raw batch, whatever its events', () => {
    const events = Array.from({ length: 100 }, (_, i) => later(RAW_EVENT, BigInt(i), 100 + (i % 3)));
    const [batch] = raw.encodeBatches(events);
    const decoded = codecFor<L7RawBatch>('l7-raw-batch').decode(batch!);
    assert.equal(decoded.connections.length, 1);
    assert.equal(decoded.events.length, 100);
    assert.ok(batch!.length < raw.item.encode(RAW_EVENT).length * 100, 'smaller than 100 records');
  });

  it('assembles an array batch from item records with the bytes of one encoded from the values', () => {
    const values = [SPAN, { ...SPAN, traceId: 'c'.repeat(32) }, { ...SPAN, name: 'GET /é' }];
    assert.deepEqual(
      spans.batchFromEncoded(values.map((v) => spans.item.encode(v))),
      spans.encodeBatches(values)[0],
    );
    assert.deepEqual(spans.decodeRecord(spans.batchFromEncoded([])), []);
  });

  it('gives each value its key, and groups values by the partition their keys hash to', () => {
    const values = Array.from({ length: 40 }, (_, i) => ({
      ...SPAN,
      traceId: i.toString(16).padStart(32, '0'),
    }));
    for (const { partition, value } of batchRecordsOf(spans, values, 6)) {
      for (const span of spans.decodeRecord(value))
        assert.equal(partitionOfKey(spans.keyOf(span)!, 6), partition);
    }
    assert.equal(raw.keyOf(RAW_EVENT), RAW_EVENT.connection.key);
  });

  it('reads any record of a batched topic as its values, with the item schema', () => {
    const { schema, values, batched } = decodeAnyRecord(spans.encodeBatches([SPAN, SPAN])[0]!);
    assert.equal(schema.fullName, 'dev.meshpipe.v1.Span');
    assert.equal(values.length, 2);
    assert.ok(batched);
    assert.equal(decodeAnyRecord(spans.item.encode(SPAN)).batched, false);
  });

  it('refuses a raw batch whose event names a connection it does not have', () => {
    const batch = codecFor<L7RawBatch>('l7-raw-batch').decode(raw.encodeBatches([RAW_EVENT])[0]!);
    batch.events[0]!.connection = 3;
    const bytes = codecFor<L7RawBatch>('l7-raw-batch').encode(batch);
    assert.throws(
      () => raw.decodeRecord(bytes),
      (err: { code?: string }) => err.code === ERRORS.SCHEMA_DECODE_FAILED.code,
    );
  });

  it('refuses to splice an item written with another schema into a batch', () => {
    assert.throws(() => spans.batchFromEncoded([raw.item.encode(RAW_EVENT)]), /schema id/);
  });
});
