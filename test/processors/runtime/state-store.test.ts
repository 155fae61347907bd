import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonStateCodec } from '../../../processors/runtime/state-codec.ts';
import { StateStore } from '../../../processors/runtime/state-store.ts';

function store(committed: Record<string, unknown> = {}): StateStore<unknown> {
  const s = new StateStore<unknown>(jsonStateCodec());
  const codec = jsonStateCodec<unknown>();
  for (const [k, v] of Object.entries(committed)) s.restore(k, codec.encode(v));
  return s;
}

describe('partition state store', () => {
  it("keeps a call's changes when it returns and forgets them when it throws", () => {
    const s = store({ a: 1 });
    s.set('a', 2);
    s.set('b', 3);
    s.endCall(true);
    s.set('a', 99);
    s.delete('b');
    assert.equal(s.get('a'), 99, 'a call sees its own changes');
    s.endCall(false);
    assert.equal(s.get('a'), 2);
    assert.equal(s.get('b'), 3);
  });

  it('commits or aborts the changes of a transaction as a whole', () => {
    const s = store({ a: 1, gone: true });
    s.set('a', 2);
    s.delete('gone');
    s.endCall(true);
    assert.deepEqual([...s.pendingChanges().keys()], ['a', 'gone']);
    assert.equal(s.pendingChanges().get('gone'), null, 'a delete is a tombstone');
    s.abort();
    assert.equal(s.get('a'), 1);
    assert.equal(s.get('gone'), true);
    s.set('a', 3);
    s.endCall(true);
    s.commit();
    assert.equal(s.pendingChanges().size, 0);
    assert.equal(s.get('a'), 3);
  });

  it('returns copies: changing a value read does nothing until it is set', () => {
    const s = store({ a: { n: 1 } });
    const value = s.get('a') as { n: number };
    value.n = 2;
    assert.deepEqual(s.get('a'), { n: 1 });
    s.set('a', value);
    value.n = 3;
    assert.deepEqual(s.get('a'), { n: 2 }, 'set encodes the value as it was');
  });

  it('counts keys and iterates a snapshot across all layers', () => {
    const s = store({ a: 1, b: 2 });
    s.delete('a');
    s.endCall(true);
    s.set('c', 3);
    assert.equal(s.size, 2);
    assert.equal(s.has('a'), false);
    const seen: string[] = [];
    for (const key of s.keys()) {
      seen.push(key);
      s.delete(key); // safe while iterating
    }
    assert.deepEqual(seen.sort(), ['b', 'c']);
    assert.equal(s.size, 0);
  });

  it('measures the committed state in keys and bytes', () => {
    const s = store();
    s.set('key', 'value');
    s.endCall(true);
    s.commit();
    assert.deepEqual(s.stats(), { keys: 1, bytes: 3 + Buffer.byteLength('"value"') });
    s.restore('key', null);
    assert.deepEqual(s.stats(), { keys: 0, bytes: 0 });
  });
});

describe('partition state store, live', () => {
  /** A JSON codec that counts its calls. */
  function counting() {
    const json = jsonStateCodec<unknown>();
    const calls = { encode: 0, decode: 0 };
    return {
      calls,
      codec: {
        encode: (v: unknown) => {
          calls.encode++;
          return json.encode(v);
        },
        decode: (b: Buffer) => {
          calls.decode++;
          return json.decode(b);
        },
      },
    };
  }

  function live(committed: Record<string, unknown> = {}) {
    const { codec, calls } = counting();
    const s = new StateStore<unknown>(codec, 'live');
    for (const [k, v] of Object.entries(committed)) s.restore(k, jsonStateCodec<unknown>().encode(v));
    calls.encode = 0;
    return { s, calls };
  }

  it('hands out the stored object, decoded once; a key set by many calls is encoded once, at commit', () => {
    const { s, calls } = live({ a: { n: 1 } });
    for (let i = 0; i < 100; i++) {
      const value = s.get('a') as { n: number };
      value.n++;
      s.set('a', value);
      s.endCall(true);
    }
    assert.equal(s.get('a'), s.get('a'), 'the same object');
    assert.deepEqual(calls, { encode: 0, decode: 1 });
    assert.deepEqual([...s.pendingChanges().keys()], ['a']);
    assert.equal(s.hasChanges(), true);
    s.commit();
    assert.deepEqual(calls, { encode: 1, decode: 1 });
    assert.deepEqual(s.stats(), { keys: 1, bytes: 1 + Buffer.byteLength('{"n":101}') });
    assert.equal(s.hasChanges(), false);
  });

  it('deletes are tombstones; keys and size see every change', () => {
    const { s } = live({ a: 1, b: 2 });
    s.delete('a');
    s.set('c', 3);
    assert.equal(s.has('a'), false);
    assert.equal(s.get('a'), undefined);
    assert.equal(s.size, 2);
    assert.deepEqual([...s.keys()].sort(), ['b', 'c']);
    assert.equal(s.pendingChanges().get('a'), null);
    assert.throws(() => s.set('d', undefined), TypeError);
  });

  it('abort forgets changes, in place ones included; restore replaces what was read', () => {
    const { s } = live({ a: { n: 1 } });
    (s.get('a') as { n: number }).n = 5; // changed in place, not even set
    s.set('b', 2);
    s.abort();
    assert.deepEqual(s.get('a'), { n: 1 });
    assert.equal(s.has('b'), false);
    s.restore('a', jsonStateCodec<unknown>().encode({ n: 7 }));
    assert.deepEqual(s.get('a'), { n: 7 });
  });

  it('strict calls: a failed call is undone key by key, values and changed marks; set encodes at once', () => {
    const { s } = live({ a: { n: 1 }, b: 2 });
    s.set('x', 'changed before');
    s.setStrict(true);
    (s.get('a') as { n: number }).n = 9;
    s.set('a', s.get('a'));
    s.delete('b');
    s.set('x', 'changed again');
    s.set('new', true);
    s.endCall(false);
    assert.deepEqual(s.get('a'), { n: 1 });
    assert.equal(s.get('b'), 2);
    assert.equal(s.get('x'), 'changed before');
    assert.equal(s.has('new'), false);
    assert.deepEqual([...s.pendingChanges().keys()], ['x'], 'only what changed before the call');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => s.set('c', cyclic), Error, 'the codec runs at set');
    s.setStrict(false);
  });
});
