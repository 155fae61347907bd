/**
 * A batch record is many handler calls: each value is processed as a record of its own (keyed by its
 * own key), a value whose call throws is dead-lettered alone — with the batch's offset, its index, its
 * key and its own bytes — and the rest of the batch goes on, in copy and in live state mode alike. A
 * record that does not decode as a whole is dead-lettered whole. Emits to a batched topic must carry the
 * value's own key and no headers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { s } from '../../../lib/config/spec.ts';
import { ERRORS } from '../../../lib/errors.ts';
import { createLogger } from '../../../lib/logger.ts';
import { defineProcessor } from '../../../processors/runtime/definition.ts';
import { PartitionTask } from '../../../processors/runtime/partition-task.ts';
import { ProcessorTopics } from '../../../processors/runtime/processor-topics.ts';
import { jsonStore } from '../../../processors/runtime/store-types.ts';
import { DEAD_LETTER_HEADERS } from '../../../runtime/dead-letter.ts';
import { codecFor } from '../../../schemas/codec.ts';
import { topicCodec } from '../../../schemas/topic-codec.ts';
import { TOPICS } from '../../../schemas/topics.ts';
import type { DeadLetter, Span } from '../../../schemas/types.ts';
import { SPAN } from '../../../testkit/fixtures.ts';

const spans = topicCodec<Span>(TOPICS.spans);
const dlq = codecFor<DeadLetter>('dead-letter');

function counter(access: 'copy' | 'live') {
  return defineProcessor({
    stores: { state: jsonStore() },
    name: `batch-counter-${access}`,
    description: 'Test processor: counts spans per service, throws on a span named "throws".',
    inputs: ['spans'],
    outputs: ['spans'],
    config: s.object({}, { doc: 'None.' }),
    stateAccess: access,
    process(record, ctx) {
      const span = record.value;
      const counts = (ctx.stores.state.get('counts') as Record<string, number> | undefined) ?? {};
      counts[span.local.service] = (counts[span.local.service] ?? 0) + 1;
      ctx.stores.state.set('counts', counts);
      assert.equal(record.key, span.traceId, 'a value of a batch is keyed by its own key');
      if (span.name === 'throws') throw new Error('handler bug');
      if (span.name === 'wrong-key') ctx.emit('spans', 'not-the-trace-id', span);
      else if (span.name === 'headers') ctx.emit('spans', span.traceId, span, { a: 'b' });
      else ctx.emit('spans', span.traceId, span);
    },
  });
}

function task(access: 'copy' | 'live'): PartitionTask {
  const definition = counter(access);
  return new PartitionTask({
    definition,
    config: {},
    partition: 1,
    topics: new ProcessorTopics(definition, 'meshpipe'),
    now: () => 1_700_000_000_000,
    logger: createLogger({ component: 'test', level: 'silent' }),
  });
}

const span = (i: number, name = 'GET /x'): Span => ({
  ...SPAN,
  name,
  traceId: i.toString(16).padStart(32, '0'),
  local: { ...SPAN.local, service: i % 2 === 0 ? 'even' : 'odd' },
});

function batchRecord(values: Span[], offset = 7) {
  return {
    topic: 'meshpipe.spans.v2',
    partition: 1,
    offset: String(offset),
    key: null,
    value: spans.encodeBatches(values)[0]!,
    timestampMs: 1,
    headers: {},
  };
}

describe('partition task: batch records', () => {
  for (const access of ['copy', 'live'] as const) {
    it(`dead-letters the value whose call threw alone, with its index; the rest goes on (${access})`, () => {
      const t = task(access);
      const values = [span(0), span(1), span(2, 'throws'), span(3), span(4)];
      assert.equal(t.process(batchRecord(values)), ERRORS.PROCESSOR_HANDLER_FAILED.code);
      const work = t.work();
      assert.deepEqual(work.consumed, new Map([['meshpipe.spans.v2', 5]]), 'values are counted');
      const letters = work.records.filter((r) => r.topic === 'meshpipe.dlq.v1');
      assert.equal(letters.length, 1);
      const letter = dlq.decode(letters[0]!.value);
      assert.equal(letter.sourceIndex, 2);
      assert.equal(letter.sourceOffset, 7n);
      assert.equal(letter.errorCode, ERRORS.PROCESSOR_HANDLER_FAILED.code);
      assert.equal(letters[0]!.key?.toString(), values[2]!.traceId);
      assert.equal(letters[0]!.headers[DEAD_LETTER_HEADERS.sourceIndex], '2');
      assert.equal(spans.item.decode(letter.sourceValue!).traceId, values[2]!.traceId, 'its own bytes');
      const outputs = work.records.filter((r) => r.topic === 'meshpipe.spans.v2');
      assert.deepEqual(
        outputs.map((r) => r.key),
        [0, 1, 3, 4].map((i) => values[i]!.traceId),
      );
      assert.deepEqual(
        t.context.stores.state!.get('counts'),
        { even: 2, odd: 2 },
        "the failed call's change is undone",
      );
    });
  }

  it('dead-letters a batch record that does not decode as a whole, without an index', () => {
    const t = task('copy');
    const bytes = Buffer.from(spans.encodeBatches([span(0), span(1)])[0]!.subarray(0, 40));
    t.process({ ...batchRecord([]), value: bytes });
    const [letter] = t.work().records.map((r) => dlq.decode(r.value));
    assert.equal(letter!.sourceIndex, null);
    assert.equal(letter!.errorCode, ERRORS.SCHEMA_DECODE_FAILED.code);
    assert.deepEqual(letter!.sourceValue, bytes);
  });

  it("fails a call that emits to a batched topic with another key than the value's, or with headers", () => {
    const t = task('copy');
    t.process(batchRecord([span(0, 'wrong-key'), span(1, 'headers'), span(2)]));
    const letters = t
      .work()
      .records.filter((r) => r.topic === 'meshpipe.dlq.v1')
      .map((r) => dlq.decode(r.value));
    assert.deepEqual(
      letters.map((l) => [l.sourceIndex, l.errorCode]),
      [
        [0, ERRORS.PROCESSOR_BATCHED_EMIT.code],
        [1, ERRORS.PROCESSOR_BATCHED_EMIT.code],
      ],
    );
  });
});
