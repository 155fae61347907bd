/**
 * A transaction's values for batched topics leave as batch records, per partition, in emit order, within
 * the topic's size limit; records of other topics pass through unchanged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { partitionOfKey } from '../../../lib/key-partition.ts';
import { fitsAlone, recordBytes } from '../../../processors/runtime/message-size.ts';
import { packOutputs } from '../../../processors/runtime/output-batches.ts';
import type { OutgoingRecord } from '../../../processors/runtime/partition-task.ts';
import { resolveTopicRef } from '../../../processors/runtime/processor-topics.ts';
import { toJsonSafe } from '../../../schemas/codec.ts';
import type { Span } from '../../../schemas/types.ts';
import { DEAD_LETTER, SPAN } from '../../../testkit/fixtures.ts';

const spans = resolveTopicRef({ name: 'test' }, 'spans', 'meshpipe');
const dlq = resolveTopicRef({ name: 'test' }, 'dlq', 'meshpipe');
const PARTITIONS = 6;

function span(i: number): Span {
  return { ...SPAN, traceId: i.toString(16).padStart(32, '0'), spanId: i.toString(16).padStart(16, '0') };
}

function outgoing(s: Span): OutgoingRecord {
  return { topic: spans.name, key: s.traceId, value: spans.codec.encode(s), headers: {} };
}

function pack(records: OutgoingRecord[], limit = 1_000_000) {
  return packOutputs(records, {
    batchedOutput: (name) => (name === spans.name ? spans : undefined),
    partitions: () => PARTITIONS,
    limits: { topic: () => limit, changelog: () => limit, smallest: () => limit, largest: () => limit },
  });
}

describe('output batches', () => {
  it('packs the values of each partition into one record, in emit order', () => {
    const values = Array.from({ length: 100 }, (_, i) => span(i));
    const letter: OutgoingRecord = {
      topic: dlq.name,
      key: 'k',
      value: dlq.codec.encode(DEAD_LETTER),
      headers: { a: 'b' },
    };
    const out = pack([...values.map(outgoing), letter]);
    assert.deepEqual(
      out.filter((r) => r.topic === dlq.name),
      [letter],
      'other topics pass through',
    );
    const batches = out.filter((r) => r.topic === spans.name);
    assert.equal(new Set(batches.map((b) => b.partition)).size, batches.length, 'one record per partition');
    for (const b of batches) {
      assert.equal(b.key, null);
      const expected = values.filter((v) => partitionOfKey(v.traceId, PARTITIONS) === b.partition);
      assert.deepEqual(toJsonSafe(spans.values.decodeRecord(b.value)), toJsonSafe(expected));
    }
  });

  it('splits a partition into records that fit the topic limit', () => {
    const values = Array.from({ length: 300 }, () => span(7));
    const limit = 20_000;
    const out = pack(values.map(outgoing), limit);
    assert.ok(out.length > 1);
    for (const r of out)
      assert.ok(fitsAlone(limit, recordBytes(r.key, r.value, r.headers)), `${r.value.length} bytes`);
    const all = out.flatMap((r) => spans.values.decodeRecord(r.value));
    assert.equal(all.length, 300);
  });

  it('leaves a unit of work without batched outputs as it is', () => {
    const letter: OutgoingRecord = {
      topic: dlq.name,
      key: null,
      value: dlq.codec.encode(DEAD_LETTER),
      headers: {},
    };
    assert.deepEqual(pack([letter]), [letter]);
  });
});
