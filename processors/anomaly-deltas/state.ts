/**
 * What anomaly-deltas keeps in partition state (written to its changelog in the transaction of the
 * deltas it emits, so a restart continues each series from the sample it last counted):
 *
 *   store    key                   value (Avro type)
 *   cursors  <series id>|<stream>  SeriesCursor  the last cumulative sample of a series from one stream
 *                                  (series-cursor.avsc)
 *   clock    pruned                LastPrune     when idle series were last forgotten (wall clock)
 *                                  (last-prune.avsc)
 *
 * Values are Avro of the declared types (processors/runtime/avro-state-codec.ts): a cursor is rewritten
 * with every sample, and Avro writes its BigInts as varints where JSON spells each one out as a tagged
 * string; a declared type also says what the state is, and is checked like any schema. The releases
 * before wrote the same stores as JSON (jsonStore); those values still restore, through `legacy`
 * (JSON never begins with the wire format's magic byte 0), and are written as Avro the next time a
 * transaction changes their key.
 */
import { jsonStateCodec, type StateCodec } from '../runtime/state-codec.ts';
import { avroStore } from '../runtime/store-types.ts';

export const PRUNED_KEY = 'pruned';

export function seriesKey(seriesId: string, stream: string): string {
  return `${seriesId}|${stream}`;
}

export interface SeriesCursor {
  startNs: bigint;
  timeNs: bigint;
  count: bigint;
  sum: number;
  bounds: number[];
  buckets: bigint[];
  /** Window of the last delta or heartbeat sent for this cursor (one heartbeat per window at most). */
  heartbeatWindowMs: number;
}

export interface LastPrune {
  /** Wall clock, ms. */
  atMs: number;
}

/**
 * The clock as the JSON releases wrote it, the wall clock itself (a bare number), read as a LastPrune;
 * what it writes, JSON of a LastPrune, reads back too.
 */
function jsonLastPrune(): StateCodec<LastPrune> {
  const json = jsonStateCodec<number | LastPrune>();
  return {
    encode: (value) => json.encode(value),
    decode(bytes) {
      const value = json.decode(bytes);
      return typeof value === 'number' ? { atMs: value } : value;
    },
  };
}

/** The state stores (processors/runtime/store-types.ts). */
export const deltasStores = {
  cursors: avroStore<SeriesCursor>(new URL('./series-cursor.avsc', import.meta.url), {
    legacy: jsonStateCodec<SeriesCursor>(),
  }),
  clock: avroStore<LastPrune>(new URL('./last-prune.avsc', import.meta.url), { legacy: jsonLastPrune() }),
};
