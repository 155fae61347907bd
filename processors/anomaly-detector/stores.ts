/**
 * anomaly-detector's state stores (processors/runtime/store-types.ts), each of its declared Avro type:
 * the values state.ts describes, as compact binary records on the changelog, read by schema resolution
 * when a type changes (keep the older schema in `history` then). Avro rather than JSON: every closed
 * window rewrites every route and service, and a declared type says what the state is and is checked
 * like any schema.
 *
 * The values the JSON releases wrote still restore, through `legacy` (JSON never begins with the wire
 * format's magic byte 0; json-state.ts where a shape changed), and are written as Avro the next time a
 * transaction changes their key.
 */
import type { LegacyEntry } from '../runtime/definition.ts';
import { jsonStateCodec } from '../runtime/state-codec.ts';
import { avroStore } from '../runtime/store-types.ts';
import { jsonRouteState, jsonServiceState } from './json-state.ts';
import { META_KEY, type Meta, type RouteState, type ServiceState, type WindowAcc } from './state.ts';

export const detectorStores = {
  meta: avroStore<Meta>(new URL('./meta.avsc', import.meta.url), { legacy: jsonStateCodec<Meta>() }),
  windows: avroStore<WindowAcc>(new URL('./window-acc.avsc', import.meta.url), {
    legacy: jsonStateCodec<WindowAcc>(),
  }),
  routes: avroStore<RouteState>(new URL('./route-state.avsc', import.meta.url), {
    legacy: jsonRouteState(),
  }),
  services: avroStore<ServiceState>(new URL('./service-state.avsc', import.meta.url), {
    legacy: jsonServiceState(),
  }),
};

/**
 * A changelog record of the releases before stores (one key space, kinds told apart by key prefix:
 * `w|`, `r|`, `s|`, `meta`; JSON values, read as the stores read JSON). Those releases ran both stages
 * in this processor: the series cursors (`c|`, `pruned`) are anomaly-deltas' now, which starts them
 * afresh from the next sample of each series, so they are dropped here.
 */
export function legacyDetectorState(
  key: string,
  bytes: Buffer,
): LegacyEntry<typeof detectorStores> | undefined {
  if (key.startsWith('c|') || key === 'pruned') return undefined;
  const stores = detectorStores;
  if (key === META_KEY) return { store: 'meta', key, value: stores.meta.codec().decode(bytes) };
  const rest = key.slice(2);
  if (key.startsWith('w|'))
    return { store: 'windows', key: rest, value: stores.windows.codec().decode(bytes) };
  if (key.startsWith('r|')) return { store: 'routes', key: rest, value: stores.routes.codec().decode(bytes) };
  if (key.startsWith('s|'))
    return { store: 'services', key: rest, value: stores.services.codec().decode(bytes) };
  throw new Error(`not a key of anomaly-detector's state: ${key}`);
}
