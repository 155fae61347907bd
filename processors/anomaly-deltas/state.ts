/**
 * What anomaly-deltas keeps in partition state (written to its changelog in the transaction of the
 * deltas it emits, so a restart continues each series from the sample it last counted):
 *
 *   store    key                      value
 *   cursors  <series id>|<stream>     SeriesCursor  the last cumulative sample of a series from one stream
 *   clock    pruned                   number        when idle series were last forgotten (wall clock, ms)
 */
import { jsonStore } from '../runtime/store-types.ts';

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

/** The state stores (processors/runtime/store-types.ts). */
export const deltasStores = {
  cursors: jsonStore<SeriesCursor>(),
  clock: jsonStore<number>(),
};
