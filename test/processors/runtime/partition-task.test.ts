import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { s } from '../../../lib/config/spec.ts';
import { ERRORS } from '../../../lib/errors.ts';
import { createLogger } from '../../../lib/logger.ts';
import { defineProcessor } from '../../../processors/runtime/definition.ts';
import { PartitionTask } from '../../../processors/runtime/partition-task.ts';
import { ProcessorTopics } from '../../../processors/runtime/processor-topics.ts';
import { jsonStateCodec } from '../../../processors/runtime/state-codec.ts';
import { jsonStore } from '../../../processors/runtime/store-types.ts';
import { DEAD_LETTER_HEADERS } from '../../../runtime/dead-letter.ts';
import type { SourceRecord } from '../../../runtime/input-record.ts';
import { codecFor } from '../../../schemas/codec.ts';
import type { DeadLetter } from '../../../schemas/types.ts';
import { COUNTER_INPUT, COUNTER_OUTPUT } from './fixtures/counter.ts';
import sizer from './fixtures/sizer.ts';
import { encodeCounterInput } from './helpers.ts';

const INPUT = 'meshpipe.test.counter-input.v1';
const OUTPUT = 'meshpipe.test.counter-output.v1';

/** Emits the input to wherever the key says, so one handler exercises every outcome. */
const router = defineProcessor({
  stores: { state: jsonStore() },
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
    ctx.stores.state.set(key, n);
    ctx.count('seen');
    if (key === 'undeclared') ctx.emit('spans', key, {});
    else if (key === 'invalid') ctx.emit(COUNTER_OUTPUT, key, { key, count: 'not a long', n });
    else ctx.emit(COUNTER_OUTPUT, key, { key, count: 1n, n });
    if (key === 'throws') throw new Error('handler bug');
  },
  punctuate: {
    intervalMs: 1000,
    run(ctx) {
      ctx.stores.state.set('ticked', true);
      if (ctx.stores.state.has('explode')) throw new Error('punctuate bug');
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
    assert.deepEqual([...work.changes.keys()], ['state/ok']);
    assert.deepEqual(Object.fromEntries(work.consumed), { [INPUT]: 1 });
    assert.deepEqual(Object.fromEntries(work.produced), { [OUTPUT]: 1 });
    assert.deepEqual(Object.fromEntries(work.counts), { seen: 1 });
    t.commit();
    assert.equal(t.context.stores.state!.get('ok'), 7n);
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
    assert.equal(t.context.stores.state!.get('a'), 1n);
    assert.equal(t.work().records.length, 0);
  });

  it('discards a punctuation that throws, counts it, and returns the error', () => {
    const t = task();
    assert.equal(t.punctuate(), undefined);
    assert.equal(t.work().changes.get('state/ticked') !== undefined, true);
    t.commit();
    t.context.stores.state!.set('explode', true);
    t.state.endCall(true);
    t.context.stores.state!.delete('ticked');
    t.state.endCall(true);
    const error = t.punctuate();
    assert.equal(error?.code, ERRORS.PROCESSOR_PUNCTUATE_FAILED.code);
    assert.equal(t.context.stores.state!.has('ticked'), false, 'its change was dropped');
    assert.equal(t.work().punctuateFailures, 1);
  });
});

/** The sizer test processor (fixtures/sizer.ts) under small limits: 2 kB everywhere, unless said. */
function sizerTask(stateAccess: 'copy' | 'live', dlqLimit = 2_000): PartitionTask {
  const definition = { ...sizer, stateAccess };
  const topics = new ProcessorTopics(definition, 'meshpipe');
  return new PartitionTask({
    definition,
    config: {},
    partition: 2,
    topics,
    now: () => 1_700_000_000_000,
    logger: createLogger({ component: 'test', level: 'silent' }),
    limits: {
      topic: (name) => (name === topics.dlq.name ? dlqLimit : 2_000),
      changelog: () => 2_000,
      smallest: () => Math.min(dlqLimit, 2_000),
      largest: () => Math.max(dlqLimit, 2_000),
    },
  });
}

describe('partition task: records too large for their topic', () => {
  for (const access of ['copy', 'live'] as const) {
    it(`an output or a state value that can never be written fails the call that made it (${access})`, () => {
      const t = sizerTask(access);
      for (const n of [100n, 5_000n, -5_000n, 200n])
        t.process(source('k', encodeCounterInput({ key: 'k', n })));
      const work = t.work();
      assert.deepEqual(
        work.deadLetters.map((d) => d.code),
        [ERRORS.PROCESSOR_RECORD_TOO_LARGE.code, ERRORS.PROCESSOR_RECORD_TOO_LARGE.code],
      );
      assert.deepEqual([...work.produced.values()], [2], 'the two outputs that fit');
      const codec = jsonStateCodec<unknown>();
      assert.deepEqual(
        [...work.changes].map(([key, { value: v }]) => [key, v === null ? null : codec.decode(v)]),
        [['state/k', 2]],
        'the calls that failed left no change (no blob, not counted)',
      );
      const letter = dlq.decode(work.records.find((r) => r.topic === 'meshpipe.dlq.v1')!.value);
      assert.match(
        letter.errorMessage,
        /of \d+ bytes for meshpipe\.test\.sizer-output\.v1 .*at most 2000 bytes/,
      );
    });
  }

  it('a dead letter too large for the dead-letter topic keeps the facts, not the source bytes', () => {
    const t = sizerTask('copy', 600);
    t.process(source('k', Buffer.alloc(1_000, 7))); // not wire format: dead-lettered
    const [record] = t.work().records;
    const letter = dlq.decode(record!.value);
    assert.equal(letter.errorCode, ERRORS.SCHEMA_NOT_WIRE_FORMAT.code);
    assert.equal(letter.sourceValue, null);
    assert.match(letter.errorMessage, /the source value, 1000 bytes, is left out/);
    assert.deepEqual(letter.sourceKey, Buffer.from('k'));
  });

  it('a record whose outputs the broker refused is dead-lettered without calling the handler', () => {
    const t = sizerTask('copy');
    const code = t.reject(source('k', encodeCounterInput({ key: 'k', n: 1n })), new Error('INVALID_RECORD'));
    assert.equal(code, ERRORS.PROCESSOR_OUTPUT_REJECTED.code);
    const work = t.work();
    assert.deepEqual([...work.consumed.values()], [1]);
    assert.equal(work.changes.size, 0);
    assert.deepEqual(work.deadLetters, [{ topic: INPUT, code: ERRORS.PROCESSOR_OUTPUT_REJECTED.code }]);
  });

  it('a punctuation that makes a value too large is discarded and counted', () => {
    const t = new PartitionTask({
      definition: router,
      config: {},
      partition: 2,
      topics: new ProcessorTopics(router, 'meshpipe'),
      now: () => 0,
      logger: createLogger({ component: 'test', level: 'silent' }),
      limits: { topic: () => 2_000, changelog: () => 100, smallest: () => 100, largest: () => 2_000 }, // 'ticked' = true takes 107
    });
    const error = t.punctuate();
    assert.equal(error?.code, ERRORS.PROCESSOR_PUNCTUATE_FAILED.code);
    assert.match(error!.message, /at most 100 bytes/);
    assert.equal(t.hasWrites(), false);
  });
});

/**
 * The same processor with live state: it changes the objects it reads in place (a list per key and a
 * running total), sets them, and may throw or leave a value the codec cannot encode afterwards.
 */
function ledger(stateAccess: 'copy' | 'live') {
  return defineProcessor({
    stores: { state: jsonStore() },
    name: 'ledger',
    description: 'Test processor: a list per key and a total, changed in place.',
    inputs: [COUNTER_INPUT],
    outputs: [COUNTER_OUTPUT],
    schemas: router.schemas,
    config: s.object({}, { doc: 'None.' }),
    stateAccess,
    process(record, ctx) {
      const { key, n } = record.value as { key: string; n: bigint };
      const entry = (ctx.stores.state.get(key) ?? { seen: [] }) as { seen: bigint[]; self?: unknown };
      const total = (ctx.stores.state.get('total') ?? { sum: 0n }) as { sum: bigint };
      entry.seen.push(n);
      total.sum += n;
      ctx.stores.state.set(key, entry);
      ctx.stores.state.set('total', total);
      ctx.emit(COUNTER_OUTPUT, key, { key, count: total.sum, n });
      if (key === 'throws') throw new Error('handler bug after changing state in place');
      if (key === 'cyclic') {
        entry.self = entry; // JSON cannot encode it
        ctx.stores.state.set(key, entry);
      }
    },
    punctuate: {
      intervalMs: 1000,
      run(ctx) {
        const total = (ctx.stores.state.get('total') ?? { sum: 0n }) as { sum: bigint };
        total.sum *= 10n;
        ctx.stores.state.set('total', total);
        if (ctx.stores.state.has('explode')) throw new Error('punctuate bug');
      },
    },
  });
}

function ledgerTask(stateAccess: 'copy' | 'live'): PartitionTask {
  const definition = ledger(stateAccess);
  return new PartitionTask({
    definition,
    config: {},
    partition: 2,
    topics: new ProcessorTopics(definition, 'meshpipe'),
    now: () => 1_700_000_000_000,
    logger: createLogger({ component: 'test', level: 'silent' }),
  });
}

/** What a unit of work would write, comparable across the two modes. */
function written(t: PartitionTask) {
  const work = t.work();
  const codec = jsonStateCodec<unknown>();
  return {
    records: work.records.map((r) => [r.topic, String(r.key), r.value.toString('hex')]),
    changes: [...work.changes].map(([k, { value: v }]) => [k, v === null ? null : codec.decode(v)]),
    consumed: [...work.consumed],
    produced: [...work.produced],
    deadLetters: work.deadLetters,
    punctuateFailures: work.punctuateFailures,
  };
}

type Step = [key: string, n: bigint] | 'punctuate' | 'commit' | 'abort';

/** Runs `steps` through both modes; at every commit, and at the end, both would write the same. */
function sameInBothModes(steps: Step[]): void {
  const copy = ledgerTask('copy');
  const live = ledgerTask('live');
  for (const step of [...steps, 'commit' as const]) {
    const record = Array.isArray(step)
      ? source(step[0], encodeCounterInput({ key: step[0], n: step[1] }))
      : null;
    for (const t of [copy, live]) {
      if (step === 'punctuate') t.punctuate();
      else if (step === 'abort') t.abort();
      else if (record !== null) t.process(record);
    }
    if (step === 'commit') {
      assert.deepEqual(written(live), written(copy));
      copy.commit();
      live.commit();
      assert.deepEqual(
        [...live.context.stores.state!.keys()].sort().map((k) => [k, live.context.stores.state!.get(k)]),
        [...copy.context.stores.state!.keys()].sort().map((k) => [k, copy.context.stores.state!.get(k)]),
      );
    }
  }
}

describe('partition task, live state', () => {
  it('works on the stored objects, and encodes a key changed by many calls once per transaction', () => {
    const t = ledgerTask('live');
    for (let i = 1; i <= 5; i++) t.process(source('a', encodeCounterInput({ key: 'a', n: BigInt(i) })));
    assert.equal(
      t.context.stores.state!.get('a'),
      t.context.stores.state!.get('a'),
      'the same object each time',
    );
    assert.deepEqual([...t.work().changes.keys()], ['state/a', 'state/total']);
    t.commit();
    assert.deepEqual(t.context.stores.state!.get('total'), { sum: 15n });
    assert.equal(t.hasWrites(), false);
  });

  it('a call that throws after changing objects in place is undone alone, as in copy mode', () => {
    sameInBothModes([['a', 1n], ['b', 2n], ['throws', 3n], ['a', 4n], 'commit', ['b', 5n], ['throws', 6n]]);
  });

  it('a value the codec cannot encode dead-letters the call that left it, when the unit is written', () => {
    sameInBothModes([
      ['a', 1n],
      ['cyclic', 2n],
      ['a', 3n],
    ]);
    const t = ledgerTask('live');
    t.process(source('a', encodeCounterInput({ key: 'a', n: 1n })));
    t.process(source('cyclic', encodeCounterInput({ key: 'cyclic', n: 2n })));
    assert.deepEqual(t.work().deadLetters, [{ topic: INPUT, code: ERRORS.PROCESSOR_HANDLER_FAILED.code }]);
  });

  it('a punctuation that throws is undone and counted; aborts forget in-place changes', () => {
    sameInBothModes([['a', 1n], 'punctuate', ['explode', 1n], 'punctuate', ['b', 2n], 'abort', ['c', 3n]]);
    const t = ledgerTask('live');
    t.process(source('a', encodeCounterInput({ key: 'a', n: 1n })));
    t.commit();
    (t.context.stores.state!.get('a') as { seen: bigint[] }).seen.push(99n); // changed in place, never set
    t.abort();
    assert.deepEqual(
      t.context.stores.state!.get('a'),
      { seen: [1n] },
      'an abort reads the committed value again',
    );
  });

  it('rejects a stateAccess it does not know', () => {
    const definition = { ...ledger('live'), stateAccess: 'shared' as never };
    assert.throws(
      () =>
        new PartitionTask({
          definition,
          config: {},
          partition: 0,
          topics: new ProcessorTopics(definition, 'meshpipe'),
          now: () => 0,
          logger: createLogger({ component: 'test', level: 'silent' }),
        }),
      { code: ERRORS.PROCESSOR_INVALID_DEFINITION.code },
    );
  });
});
