import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { s } from '../../../lib/config/spec.ts';
import { ERRORS } from '../../../lib/errors.ts';
import { createLogger } from '../../../lib/logger.ts';
import { DEAD_LETTER_HEADERS, type SourceRecord } from '../../../processors/runtime/dead-letter.ts';
import { defineProcessor } from '../../../processors/runtime/definition.ts';
import { PartitionTask } from '../../../processors/runtime/partition-task.ts';
import { ProcessorTopics } from '../../../processors/runtime/processor-topics.ts';
import { codecFor } from '../../../schemas/codec.ts';
import type { DeadLetter } from '../../../schemas/types.ts';
import { COUNTER_INPUT, COUNTER_OUTPUT } from './fixtures/counter.ts';
import { encodeCounterInput } from './helpers.ts';

const INPUT = 'meshpipe.test.counter-input.v1';
const OUTPUT = 'meshpipe.test.counter-output.v1';

/** Emits the input to wherever the key says, so one handler exercises every outcome. */
const router = defineProcessor({
  name: 'router',
  description: 'Test processor: behaves as the record key says.',
  inputs: [COUNTER_INPUT],
  outputs: [COUNTER_OUTPUT],
  schemas: [
    new URL('./fixtures/counter-input.avsc', import.meta.url),
    new URL('./fixtures/counter-output.avsc', import.meta.url),
  ],
  config: s.object({}, { doc: 'None.' }),
  process(record, ctx) {
    const { key, n } = record.value as { key: string; n: bigint };
    ctx.state.set(key, n);
    ctx.count('seen');
    if (key === 'undeclared') ctx.emit('spans', key, {});
    else if (key === 'invalid') ctx.emit(COUNTER_OUTPUT, key, { key, count: 'not a long', n });
    else ctx.emit(COUNTER_OUTPUT, key, { key, count: 1n, n });
    if (key === 'throws') throw new Error('handler bug');
  },
  punctuate: {
    intervalMs: 1000,
    run(ctx) {
      ctx.state.set('ticked', true);
      if (ctx.state.has('explode')) throw new Error('punctuate bug');
    },
  },
});

function task(): PartitionTask {
  return new PartitionTask({
    definition: router,
    config: {},
    partition: 2,
    topics: new ProcessorTopics(router, 'meshpipe'),
    now: () => 1_700_000_000_000,
    logger: createLogger({ component: 'test', level: 'silent' }),
  });
}

let offset = 0;
function source(key: string, value: Buffer | null): SourceRecord {
  return {
    topic: INPUT,
    partition: 2,
    offset: String(offset++),
    key: Buffer.from(key),
    value,
    timestampMs: 1,
    headers: {},
  };
}

const dlq = codecFor<DeadLetter>('dead-letter');

describe('partition task', () => {
  it('keeps what a handler call emitted and changed', () => {
    const t = task();
    assert.equal(t.process(source('ok', encodeCounterInput({ key: 'ok', n: 7n }))), undefined);
    const work = t.work();
    assert.deepEqual(
      work.records.map((r) => [r.topic, r.key]),
      [[OUTPUT, 'ok']],
    );
    assert.deepEqual([...work.changes.keys()], ['ok']);
    assert.deepEqual(Object.fromEntries(work.consumed), { [INPUT]: 1 });
    assert.deepEqual(Object.fromEntries(work.produced), { [OUTPUT]: 1 });
    assert.deepEqual(Object.fromEntries(work.counts), { seen: 1 });
    t.commit();
    assert.equal(t.state.get('ok'), 7n);
    assert.equal(t.hasWrites(), false);
  });

  const failures: Array<[string, string, Buffer | null]> = [
    ['an undecodable record', ERRORS.SCHEMA_NOT_WIRE_FORMAT.code, Buffer.from('junk')],
    ['a tombstone', ERRORS.SCHEMA_NOT_WIRE_FORMAT.code, null],
    [
      'a throwing handler',
      ERRORS.PROCESSOR_HANDLER_FAILED.code,
      encodeCounterInput({ key: 'throws', n: 1n }),
    ],
    [
      'an emit to an undeclared topic',
      ERRORS.PROCESSOR_UNDECLARED_OUTPUT.code,
      encodeCounterInput({ key: 'undeclared', n: 1n }),
    ],
    [
      'an emit its schema cannot encode',
      ERRORS.SCHEMA_ENCODE_FAILED.code,
      encodeCounterInput({ key: 'invalid', n: 1n }),
    ],
  ];
  for (const [what, code, bytes] of failures) {
    it(`dead-letters ${what} and forgets the call's changes`, () => {
      const t = task();
      const key = what.replaceAll(' ', '-');
      assert.equal(t.process(source(key, bytes)), code);
      const work = t.work();
      assert.equal(work.records.length, 1, 'only the dead letter');
      const [letter] = work.records;
      assert.equal(letter!.topic, 'meshpipe.dlq.v1');
      assert.equal(letter!.headers[DEAD_LETTER_HEADERS.errorCode], code);
      const value = dlq.decode(letter!.value);
      assert.equal(value.errorCode, code);
      assert.equal(value.sourcePartition, 2);
      assert.deepEqual(value.sourceValue, bytes);
      assert.equal(work.changes.size, 0);
      assert.equal(work.counts.size, 0);
      assert.deepEqual(work.deadLetters, [{ topic: INPUT, code }]);
      assert.equal(work.consumed.get(INPUT), 1, 'a dead-lettered record is consumed');
    });
  }

  it('rolls state back to the last commit on abort', () => {
    const t = task();
    t.process(source('a', encodeCounterInput({ key: 'a', n: 1n })));
    t.commit();
    t.process(source('a', encodeCounterInput({ key: 'a', n: 2n })));
    t.abort();
    assert.equal(t.state.get('a'), 1n);
    assert.equal(t.work().records.length, 0);
  });

  it('discards a punctuation that throws, counts it, and returns the error', () => {
    const t = task();
    assert.equal(t.punctuate(), undefined);
    assert.equal(t.work().changes.get('ticked') !== undefined, true);
    t.commit();
    t.state.set('explode', true);
    t.state.endCall(true);
    t.state.delete('ticked');
    t.state.endCall(true);
    const error = t.punctuate();
    assert.equal(error?.code, ERRORS.PROCESSOR_PUNCTUATE_FAILED.code);
    assert.equal(t.state.has('ticked'), false, 'its change was dropped');
    assert.equal(t.work().punctuateFailures, 1);
  });
});
