import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonStateCodec } from '../../../processors/runtime/state-codec.ts';

// A nanosecond timestamp above 2^53: a double would round it.
const EXACT_NS = 1_796_000_000_123_456_789n;

const ROUND_TRIPS: Array<[string, unknown]> = [
  ['a bigint above 2^53', EXACT_NS],
  ['a negative bigint', -42n],
  ['bytes', Buffer.from([0, 1, 2, 255])],
  ['nested plain data', { a: [1, 'two', null, true], b: { c: EXACT_NS, d: Buffer.from('x') } }],
  [
    'a Map with non-string keys',
    new Map<unknown, unknown>([
      [1n, 'one'],
      ['k', { v: 2 }],
    ]),
  ],
  ['a Set', new Set([1, 'a', 3n])],
  ['an object with a "$t" key of its own', { $t: 'bigint', v: 'not a bigint' }],
  ['a string', 'plain'],
  ['null', null],
];

describe('the default state codec', () => {
  const codec = jsonStateCodec<unknown>();
  for (const [name, value] of ROUND_TRIPS) {
    it(`round-trips ${name}`, () => {
      assert.deepStrictEqual(codec.decode(codec.encode(value)), value);
    });
  }

  it('writes JSON any tool can read', () => {
    assert.equal(codec.encode({ at: 5n }).toString(), '{"at":{"$t":"bigint","v":"5"}}');
  });

  it('drops undefined properties, as JSON does, and refuses an undefined value', () => {
    assert.deepStrictEqual(codec.decode(codec.encode({ a: 1, b: undefined })), { a: 1 });
    assert.throws(() => codec.encode(undefined), /state\.delete/);
  });

  it('decodes Uint8Array as Buffer', () => {
    const back = codec.decode(codec.encode(new Uint8Array([7, 8])));
    assert.ok(Buffer.isBuffer(back));
    assert.deepEqual([...(back as Buffer)], [7, 8]);
  });
});
