/**
 * red-metrics' stores (processors/red-metrics/state.ts): every value round-trips through its store's
 * Avro codec exactly (counts past 2^31, ns times past 2^53, null slots), and a value the JSON releases
 * wrote — tuples for exemplars and pending windows, a `t` tag, a bare number for a budget, an exemplar
 * time as a decimal string — reads as the current shape, both as a changelog record from before stores
 * (legacyRedMetricsState) and as a JSON value of a store (its `legacy` codec).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DURATION_BOUNDS, emptyHist, observe } from '../../../processors/red-metrics/histogram.ts';
import {
  type EdgeSeries,
  type Hist,
  legacyRedMetricsState,
  type RouteSeries,
  redMetricsStores,
} from '../../../processors/red-metrics/state.ts';
import { jsonStateCodec } from '../../../processors/runtime/state-codec.ts';
import { MAGIC_BYTE } from '../../../schemas/codec.ts';
import { makeSpan } from './spans.ts';

/** Past 2^53: a double would round it. */
const END_NS = 1_700_000_000_123_456_789n;

/** Decoded Avro records are instances of avsc's record classes: compared as plain data. */
function plain<T>(value: T): T {
  return structuredClone(value);
}

function histWithExemplars(): Hist {
  const h = emptyHist();
  const span = makeSpan({
    service: 'orders',
    kind: 'SERVER',
    durationMs: 12,
    endMs: 1_700_000_000_123,
    seq: 1,
  });
  span.endTimeUnixNano = END_NS;
  observe(h, 0.012, span);
  observe(h, 3, null);
  // Counts an int could not hold.
  h.b[0] = 2 ** 40;
  h.n = 2 ** 40 + 2;
  return h;
}

function routeSeries(): RouteSeries {
  return {
    kind: 'rpcServer',
    labels: { 'service.name': 'orders', 'rpc.method': 'Get' },
    budget: 'rpc.server.duration:orders',
    start: '1700000000000000000',
    seen: 1_700_000_000_123,
    cum: histWithExemplars(),
    pend: [{ start: 1_700_000_010_000, delta: histWithExemplars() }],
  };
}

function edgeSeries(): EdgeSeries {
  return {
    labels: { client: 'gateway', server: 'orders' },
    budget: null,
    start: '1700000000000000000',
    seen: 1_700_000_000_123,
    cum: { n: 3, f: 1, c: null, s: histWithExemplars() },
    pend: [{ start: 1_700_000_010_000, delta: { n: 1, f: 0, c: histWithExemplars(), s: null } }],
  };
}

describe('red-metrics state: Avro values', () => {
  it('round-trips every store value exactly', () => {
    const cases = [
      [redMetricsStores.routes, routeSeries()],
      [redMetricsStores.edges, edgeSeries()],
      [redMetricsStores.windows, { closed: 1_700_000_010_000 }],
      [redMetricsStores.budgets, { used: 1_000 }],
    ] as const;
    for (const [store, value] of cases) {
      const codec = store.codec() as { encode(v: unknown): Buffer; decode(b: Buffer): unknown };
      const bytes = codec.encode(value);
      assert.equal(bytes[0], MAGIC_BYTE, 'the Avro wire format');
      assert.deepStrictEqual(plain(codec.decode(bytes)), value);
    }
    const decoded = redMetricsStores.routes
      .codec()
      .decode(redMetricsStores.routes.codec().encode(routeSeries()));
    const slot = decoded.cum.x.find((x) => x !== null)!;
    assert.equal(slot.timeUnixNano, END_NS);
    assert.equal(decoded.cum.x.filter((x) => x === null).length, DURATION_BOUNDS.length);
  });

  it('defines the histogram alike for route series and edges', () => {
    const histOf = (file: string): unknown => {
      const find = (node: unknown): unknown => {
        if (node === null || typeof node !== 'object') return undefined;
        if ((node as { name?: unknown }).name === 'Hist' && 'fields' in node) return node;
        for (const child of Object.values(node)) {
          const found = find(child);
          if (found !== undefined) return found;
        }
        return undefined;
      };
      const url = new URL(`../../../processors/red-metrics/${file}`, import.meta.url);
      return find(JSON.parse(readFileSync(url, 'utf8')));
    };
    assert.ok(histOf('route-series.avsc') !== undefined);
    assert.deepStrictEqual(histOf('edge-series.avsc'), histOf('route-series.avsc'));
  });
});

describe('red-metrics state: values of the JSON releases', () => {
  const json = jsonStateCodec<unknown>();
  const legacyHist = (time: bigint | string) => {
    const h = histWithExemplars();
    return {
      ...h,
      x: h.x.map((x) => (x === null ? null : [x.traceId, x.spanId, x.value, time])),
    };
  };
  const legacyRoute = (time: bigint | string) => {
    const { pend, cum, budget, ...rest } = routeSeries();
    return {
      t: 'route',
      ...rest,
      budget: `b:${budget}`,
      cum: legacyHist(time),
      pend: pend.map((p) => [p.start, legacyHist(time)]),
    };
  };
  const legacyEdge = () => {
    const { pend, ...rest } = edgeSeries();
    return {
      t: 'edge',
      ...rest,
      cum: { n: 3, f: 1, c: null, s: legacyHist(END_NS) },
      pend: pend.map((p) => [p.start, { n: 1, f: 0, c: legacyHist(END_NS), s: null }]),
    };
  };

  it('places each record of the layout before stores in its store, in the current shape', () => {
    const route = legacyRedMetricsState('r:abc', json.encode(legacyRoute(END_NS)));
    assert.deepStrictEqual(route, { store: 'routes', key: 'abc', value: routeSeries() });
    // The oldest state wrote an exemplar's time as a decimal string.
    const older = legacyRedMetricsState('r:abc', json.encode(legacyRoute(END_NS.toString())));
    assert.deepStrictEqual(older.value, routeSeries());
    assert.deepStrictEqual(legacyRedMetricsState('e:def', json.encode(legacyEdge())), {
      store: 'edges',
      key: 'def',
      value: edgeSeries(),
    });
    assert.deepStrictEqual(legacyRedMetricsState('meta', json.encode({ t: 'meta', closed: 5_000 })), {
      store: 'windows',
      key: 'meta',
      value: { closed: 5_000 },
    });
    assert.deepStrictEqual(legacyRedMetricsState('b:total', json.encode(7)), {
      store: 'budgets',
      key: 'total',
      value: { used: 7 },
    });
    assert.deepStrictEqual(legacyRedMetricsState('b:http.server.request.duration:orders', json.encode(3)), {
      store: 'budgets',
      key: 'http.server.request.duration:orders',
      value: { used: 3 },
    });
    assert.throws(() => legacyRedMetricsState('x:1', json.encode(1)), /not a key of red-metrics' state/);
  });

  it('reads a JSON value of a store in the current shape, and writes it back as Avro', () => {
    const routes = redMetricsStores.routes.codec();
    const value = routes.decode(json.encode(legacyRoute(END_NS)));
    assert.deepStrictEqual(value, routeSeries());
    assert.deepStrictEqual(plain(routes.decode(routes.encode(value))), routeSeries());
    assert.deepStrictEqual(redMetricsStores.edges.codec().decode(json.encode(legacyEdge())), edgeSeries());
    assert.deepStrictEqual(redMetricsStores.budgets.codec().decode(json.encode(12)), { used: 12 });
    assert.deepStrictEqual(redMetricsStores.windows.codec().decode(json.encode({ t: 'meta', closed: 1 })), {
      closed: 1,
    });
  });
});
