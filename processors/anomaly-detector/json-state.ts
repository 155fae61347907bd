/**
 * anomaly-detector's state values as the JSON releases wrote them, read into the current types. The
 * releases before stores (one key space, state.ts `legacyDetectorState`) and the first releases with
 * stores (`jsonStore`) wrote every value as extended JSON (processors/runtime/state-codec.ts); their
 * changelogs must still restore, so each store's Avro codec hands a value that is not in the wire format
 * (JSON never begins with its magic byte 0) to the reader here.
 *
 * Two shapes changed with the Avro types:
 *   - a check that had not fired had no `severity` (JSON drops undefined properties): now null, as an
 *     Avro nullable field always reads;
 *   - an SLO window was a tuple `[total, bad, slow]`: now a record (state.ts `SloWindow`).
 * Meta and WindowAcc kept their shapes.
 */
import { jsonStateCodec, type StateCodec } from '../runtime/state-codec.ts';
import type { Severity } from './config.ts';
import type { CheckState } from './hysteresis.ts';
import type { Check, RouteState, ServiceState } from './state.ts';

interface JsonCheck extends CheckState {
  severity?: Severity;
}

interface JsonRouteState extends Omit<RouteState, 'checks'> {
  checks: Record<string, JsonCheck>;
}

interface JsonServiceState extends Omit<ServiceState, 'checks' | 'ring'> {
  ring: Array<[total: number, bad: number, slow: number]>;
  checks: Record<string, JsonCheck>;
}

/** Reads JSON written in the shape `Old` as a `T`; writes plain JSON of a `T` (which nothing reads back). */
function upgradingJson<Old, T>(upgrade: (old: Old) => T): StateCodec<T> {
  const json = jsonStateCodec<unknown>();
  return {
    encode: (value) => json.encode(value),
    decode: (bytes) => upgrade(json.decode(bytes) as Old),
  };
}

function checksOf(checks: Record<string, JsonCheck>): Record<string, Check> {
  const out: Record<string, Check> = {};
  for (const [name, check] of Object.entries(checks))
    out[name] = { ...check, severity: check.severity ?? null };
  return out;
}

export function jsonRouteState(): StateCodec<RouteState> {
  return upgradingJson<JsonRouteState, RouteState>((old) => ({ ...old, checks: checksOf(old.checks) }));
}

export function jsonServiceState(): StateCodec<ServiceState> {
  return upgradingJson<JsonServiceState, ServiceState>((old) => ({
    ...old,
    ring: old.ring.map(([total, bad, slow]) => ({ total, bad, slow })),
    checks: checksOf(old.checks),
  }));
}
