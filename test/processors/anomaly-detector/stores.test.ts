/**
 * anomaly-detector's stores are Avro of their declared types: every value a run with a fault leaves in
 * each store (open windows, routes with firing and pending checks, services with their SLO ring)
 * round-trips through its store's codec, as the wire format. And the values the JSON releases wrote
 * still read, as the current types (json-state.ts): a check that had not fired without `severity`, an
 * SLO window as a tuple; a changelog record of the releases before stores lands in its store.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newCheck, type RouteState, type ServiceState } from '../../../processors/anomaly-detector/state.ts';
import { detectorStores, legacyDetectorState } from '../../../processors/anomaly-detector/stores.ts';
import type { StateCodec } from '../../../processors/runtime/state-codec.ts';
import { jsonStateCodec } from '../../../processors/runtime/state-codec.ts';
import { MAGIC_BYTE, toJsonSafe } from '../../../schemas/codec.ts';
import { simulate } from './harness.ts';

/** What the tests read of a store. */
interface Readable<T> {
  keys(): Iterable<string>;
  get(key: string): T | undefined;
}

const json = jsonStateCodec<unknown>();

/** A value as a plain tree (decoded Avro records are instances of avsc's record classes). */
const plain = (value: unknown): unknown => toJsonSafe(value);

/** The detector's stores after warm-up and a few windows of errors in inventory. */
function stateAfterErrors() {
  const sim = simulate();
  sim.run(30);
  sim.traffic.setFault('inventory', { errorRate: 0.3 });
  sim.run(6);
  assert.ok(
    sim.take().some((a) => a.status === 'FIRING'),
    'the fault fired something',
  );
  sim.run(0.5); // a window left open
  return sim.harness.t.stores;
}

/** A route as the JSON releases held it: checks that had not fired had no `severity`. */
function asJsonRelease(route: RouteState): unknown {
  const checks = Object.fromEntries(
    Object.entries(route.checks).map(([name, { severity, ...check }]) => [
      name,
      severity === null ? check : { ...check, severity },
    ]),
  );
  return { ...(plain(route) as object), checks };
}

describe('anomaly-detector stores', () => {
  const stores = stateAfterErrors();

  function roundTrip<T>(name: string, codec: StateCodec<T>, store: Readable<T>, atLeast: number): T[] {
    const values: T[] = [];
    for (const key of store.keys()) {
      const value = store.get(key)!;
      const bytes = codec.encode(value);
      assert.equal(bytes[0], MAGIC_BYTE, `${name}/${key} is written in the Avro wire format`);
      assert.deepEqual(plain(codec.decode(bytes)), plain(value), `${name}/${key}`);
      values.push(value);
    }
    assert.ok(values.length >= atLeast, `${values.length} values in ${name}`);
    return values;
  }

  it('round-trips meta through meta.avsc', () => {
    roundTrip('meta', detectorStores.meta.codec(), stores.meta, 1);
  });

  it('round-trips every open window through window-acc.avsc', () => {
    const windows = roundTrip('windows', detectorStores.windows.codec(), stores.windows, 1);
    assert.ok(windows.some((w) => w.buckets.length > 0 && Object.keys(w.byClass).length > 0));
  });

  it('round-trips every route through route-state.avsc, a fired check with its severity, one not fired without', () => {
    const routes = roundTrip('routes', detectorStores.routes.codec(), stores.routes, 3);
    const checks = routes.flatMap((r) => Object.values(r.checks));
    assert.ok(checks.some((c) => c.phase === 'firing' && c.severity !== null && c.firedAtMs !== null));
    // And one not fired yet, whose severity is null.
    const codec = detectorStores.routes.codec();
    const pending: RouteState = {
      ...routes[0]!,
      checks: { LATENCY_P99: { ...newCheck(), phase: 'pending', breaches: 1 } },
    };
    assert.deepEqual(plain(codec.decode(codec.encode(pending))), plain(pending));
    for (const check of checks)
      assert.notEqual(check.severity, undefined, 'a severity reads as null, never absent');
  });

  it('round-trips every service through service-state.avsc, its SLO ring as records', () => {
    const services = roundTrip('services', detectorStores.services.codec(), stores.services, 1);
    const ring = services.flatMap((s) => s.ring);
    assert.ok(ring.length > 0 && ring.some((w) => w.bad > 0));
    assert.ok(
      services.some((s) => Object.keys(s.checks).length > 0),
      'an SLO check is kept',
    );
  });

  it('reads the values the JSON releases wrote as the current types', () => {
    for (const key of stores.meta.keys()) {
      const meta = stores.meta.get(key)!;
      assert.deepEqual(plain(detectorStores.meta.codec().decode(json.encode(plain(meta)))), plain(meta));
    }
    for (const key of stores.windows.keys()) {
      const acc = stores.windows.get(key)!;
      assert.deepEqual(plain(detectorStores.windows.codec().decode(json.encode(plain(acc)))), plain(acc));
    }
    for (const key of stores.routes.keys()) {
      const route = stores.routes.get(key)!;
      const read = detectorStores.routes.codec().decode(json.encode(asJsonRelease(route)));
      assert.deepEqual(plain(read), plain(route), key);
    }
    const service: ServiceState = {
      service: 'inventory',
      ring: [
        { total: 40, bad: 0, slow: 1 },
        { total: 38, bad: 12, slow: 0 },
      ],
      windows: 36,
      checks: {
        'SLO:availability:fast': {
          phase: 'firing',
          breaches: 0,
          clears: 0,
          firingWindows: 2,
          firedAtMs: 1_700_000_035_000,
          severity: 'CRITICAL',
        },
        'SLO:availability:slow': {
          phase: 'pending',
          breaches: 1,
          clears: 0,
          firingWindows: 0,
          firedAtMs: null,
          severity: null,
        },
      },
    };
    const jsonRelease = {
      ...service,
      ring: [
        [40, 0, 1],
        [38, 12, 0],
      ],
      checks: {
        'SLO:availability:fast': service.checks['SLO:availability:fast'],
        'SLO:availability:slow': {
          phase: 'pending',
          breaches: 1,
          clears: 0,
          firingWindows: 0,
          firedAtMs: null,
        },
      },
    };
    assert.deepEqual(plain(detectorStores.services.codec().decode(json.encode(jsonRelease))), service);
  });

  it('puts a changelog record of the releases before stores in its store, the JSON read as today', () => {
    const route = stores.routes.get([...stores.routes.keys()][0]!)!;
    const entry = legacyDetectorState('r|a-route', json.encode(asJsonRelease(route)));
    assert.equal(entry?.store, 'routes');
    assert.equal(entry.key, 'a-route');
    assert.deepEqual(plain(entry.value), plain(route));
    const ring = legacyDetectorState(
      's|inventory',
      json.encode({ service: 'inventory', ring: [[3, 1, 0]], windows: 1, checks: {} }),
    );
    assert.deepEqual(plain(ring?.value), {
      service: 'inventory',
      ring: [{ total: 3, bad: 1, slow: 0 }],
      windows: 1,
      checks: {},
    });
    assert.equal(
      legacyDetectorState('c|series|stream', json.encode({})),
      undefined,
      "series cursors are anomaly-deltas' now",
    );
  });
});
