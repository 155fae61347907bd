import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERRORS } from '../../../lib/errors.ts';
import { testProcessor } from '../../../processors/runtime/test-context.ts';
import counter from './fixtures/counter.ts';

describe('test context', () => {
  it('calls the handler directly and returns what it emitted, decoded', () => {
    const t = testProcessor(counter, { config: { step: 2 } });
    assert.deepEqual(t.process({ key: 'a', n: 1n }, { key: 'a' }), [
      {
        topic: 'meshpipe.test.counter-output.v1',
        key: 'a',
        value: { key: 'a', count: 2n, n: 1n },
        headers: {},
      },
    ]);
    t.process({ key: 'a', n: 2n });
    assert.equal(t.stores.state.get('a'), 4n);
    assert.equal(t.emitted.length, 2);
    assert.deepEqual(t.counters(), { counted: 2 });
  });

  it('punctuates at the time the test sets', () => {
    const t = testProcessor(counter, { partition: 3 });
    t.advance(3_600_000);
    assert.deepEqual(
      t.punctuate().map((o) => o.value),
      [{ key: 'tick-3', count: 1n, n: 0n }],
    );
  });

  it('lets a handler error through and forgets what the call did', () => {
    const t = testProcessor(counter);
    assert.throws(() => t.process({ key: 'a', n: -1n }), /negative n/);
    assert.equal(t.stores.state.has('a'), false);
    assert.deepEqual(t.emitted, []);
  });

  it('validates the config like the host does, and the input against its schema', () => {
    assert.throws(() => testProcessor(counter, { config: { step: -1 } }), {
      code: ERRORS.CONFIG_INVALID_VALUE.code,
    });
    const t = testProcessor(counter);
    assert.throws(() => t.process({ key: 'a' }), { code: ERRORS.SCHEMA_ENCODE_FAILED.code });
  });
});
