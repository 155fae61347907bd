/**
 * anomaly-deltas' stores are Avro of their declared types: every cursor and clock value a run of emulated
 * red-metrics traffic leaves round-trips through its store's codec, as the wire format; and values the
 * JSON releases wrote (a cursor, the clock as a bare number) still read, as the current types.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deltasStores, PRUNED_KEY, type SeriesCursor } from '../../../processors/anomaly-deltas/state.ts';
import { jsonStateCodec } from '../../../processors/runtime/state-codec.ts';
import { MAGIC_BYTE } from '../../../schemas/codec.ts';
import { simulate } from '../anomaly-detector/harness.ts';

describe('anomaly-deltas stores', () => {
  const sim = simulate();
  sim.run(5);
  const stores = sim.harness.deltas.stores;

  it('round-trips every series cursor through series-cursor.avsc', () => {
    const codec = deltasStores.cursors.codec();
    const keys = [...stores.cursors.keys()];
    assert.ok(keys.length > 10, `${keys.length} cursors`);
    for (const key of keys) {
      const cursor = stores.cursors.get(key)!;
      assert.equal(typeof cursor.count, 'bigint');
      const bytes = codec.encode(cursor);
      assert.equal(bytes[0], MAGIC_BYTE, 'written in the Avro wire format');
      assert.deepEqual({ ...codec.decode(bytes) }, { ...cursor }, key);
    }
  });

  it('round-trips the prune clock through last-prune.avsc', () => {
    const codec = deltasStores.clock.codec();
    const clock = stores.clock.get(PRUNED_KEY);
    assert.ok(clock !== undefined && clock.atMs > 0);
    const bytes = codec.encode(clock);
    assert.equal(bytes[0], MAGIC_BYTE);
    assert.equal(codec.decode(bytes).atMs, clock.atMs);
  });

  it('reads the values the JSON releases wrote', () => {
    const cursor: SeriesCursor = {
      startNs: 1_700_000_000_000_000_000n,
      timeNs: 1_700_000_010_000_000_123n,
      count: 42n,
      sum: 3.25,
      bounds: [0.005, 0.01, 0.5],
      buckets: [1n, 20n, 40n, 42n],
      heartbeatWindowMs: 1_700_000_009_000,
    };
    const json = jsonStateCodec<unknown>();
    assert.deepEqual({ ...deltasStores.cursors.codec().decode(json.encode(cursor)) }, cursor);
    assert.deepEqual(deltasStores.clock.codec().decode(json.encode(1_700_000_060_000)), {
      atMs: 1_700_000_060_000,
    });
  });
});
