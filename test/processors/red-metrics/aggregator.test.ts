import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bucketOf, DURATION_BOUNDS } from '../../../processors/red-metrics/histogram.ts';
import redMetrics from '../../../processors/red-metrics/index.ts';
import { testProcessor } from '../../../processors/runtime/test-context.ts';
import type { MetricSample } from '../../../schemas/types.ts';
import { makeSpan } from './spans.ts';

const T0 = 1_700_000_000_000; // a window boundary for 10 s windows
const CONFIG = { windowMs: 10_000, allowedLatenessMs: 2_000, idleSeriesTimeoutMs: 60_000 };

function samples(out: { value: unknown }[]): MetricSample[] {
  return out.map((o) => o.value as MetricSample);
}

function find(list: MetricSample[], name: string, labels: Record<string, string>): MetricSample[] {
  return list.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

describe('red-metrics windows', () => {
  it('closes a window only after its end plus the lateness, then emits every series with exact buckets', () => {
    const t = testProcessor(redMetrics, { config: CONFIG, now: T0 + 1_000 });
    const durations = [3, 7, 7, 40, 120, 900, 12_000];
    for (const [i, ms] of durations.entries()) {
      t.process(
        makeSpan({ service: 'orders', route: '/orders/{id}', durationMs: ms, endMs: T0 + 500 + i, seq: i }),
      );
    }
    // The previous window closes with the new series at zero (a counter Prometheus sees start at 0);
    // the spans' window waits for late spans.
    t.setTime(T0 + 11_999);
    const early = samples(t.punctuate());
    assert.ok(early.length > 0);
    for (const s of early) assert.equal(s.histogram?.count ?? BigInt(s.value), 0n);
    assert.deepEqual(t.punctuate(), [], 'nothing more until the next window can close');
    t.setTime(T0 + 12_000);
    const out = samples(t.punctuate());
    const [h] = find(out, 'http.server.request.duration', { 'service.name': 'orders' });
    assert.ok(h?.histogram);
    assert.equal(h.timeUnixNano, BigInt(T0 + 10_000) * 1_000_000n, 'sample time is the window end');
    assert.equal(h.stream, 'red-metrics/0');
    assert.equal(h.histogram.count, BigInt(durations.length));
    const expected = new Array<bigint>(DURATION_BOUNDS.length + 1).fill(0n);
    for (const ms of durations) expected[bucketOf(ms / 1000)]!++;
    assert.deepEqual(h.histogram.bucketCounts, expected);
    assert.ok(Math.abs(h.histogram.sum - durations.reduce((a, b) => a + b, 0) / 1000) < 1e-9);
    assert.deepEqual(h.labels, {
      'service.name': 'orders',
      'http.request.method': 'GET',
      'http.route': '/orders/{id}',
      'http.response.status_code': '200',
    });
    // A window with no span still emits every live series, unchanged.
    t.setTime(T0 + 22_000);
    const again = find(samples(t.punctuate()), 'http.server.request.duration', { 'service.name': 'orders' });
    assert.equal(again.length, 1);
    assert.deepEqual(again[0]!.histogram, h.histogram);
    assert.equal(again[0]!.startTimeUnixNano, h.startTimeUnixNano, 'same stream, same start: cumulative');
  });

  it('assigns spans by end time: a span of the next window is not in this one', () => {
    const t = testProcessor(redMetrics, { config: CONFIG, now: T0 + 10_500 });
    t.process(makeSpan({ service: 's', route: '/a', durationMs: 1, endMs: T0 + 9_000, seq: 1 }));
    t.process(makeSpan({ service: 's', route: '/a', durationMs: 1, endMs: T0 + 10_100, seq: 2 }));
    t.setTime(T0 + 12_000);
    const [first] = samples(t.punctuate());
    assert.equal(first?.histogram?.count, 1n);
    t.setTime(T0 + 22_000);
    const [second] = samples(t.punctuate());
    assert.equal(second?.histogram?.count, 2n);
  });

  it('counts a span later than the allowance in the next window instead of dropping it', () => {
    const t = testProcessor(redMetrics, { config: CONFIG, now: T0 + 5_000 });
    t.process(makeSpan({ service: 's', route: '/a', durationMs: 1, endMs: T0 + 1_000, seq: 1 }));
    t.setTime(T0 + 12_000);
    t.punctuate();
    t.process(makeSpan({ service: 's', route: '/a', durationMs: 1, endMs: T0 + 2_000, seq: 2 }));
    assert.equal(t.counters().late_spans, 1);
    t.setTime(T0 + 22_000);
    const [s] = samples(t.punctuate());
    assert.equal(s?.histogram?.count, 2n);
  });
});

describe('red-metrics errors (HTTP semantic conventions)', () => {
  it('SERVER: 5xx and no response are errors, 4xx is not; CLIENT: 4xx too', () => {
    const t = testProcessor(redMetrics, { config: CONFIG, now: T0 + 1_000 });
    const cases: Array<['SERVER' | 'CLIENT', number | null, string | undefined]> = [
      ['SERVER', 200, undefined],
      ['SERVER', 404, undefined],
      ['SERVER', 503, '503'],
      ['SERVER', null, 'connection_closed'],
      ['CLIENT', 404, '404'],
      ['CLIENT', 502, '502'],
      ['CLIENT', null, 'ECONNREFUSED'],
    ];
    for (const [i, [kind, status]] of cases.entries()) {
      t.process(
        makeSpan({
          service: 'gw',
          kind,
          route: '/x',
          status,
          ...(status === null && kind === 'CLIENT' ? { errorType: 'ECONNREFUSED' } : {}),
          peer: 'orders',
          durationMs: 1,
          endMs: T0 + 100,
          seq: i,
        }),
      );
    }
    t.setTime(T0 + 12_000);
    const out = samples(t.punctuate());
    for (const [kind, status, errorType] of cases) {
      const name = kind === 'SERVER' ? 'http.server.request.duration' : 'http.client.request.duration';
      const match = out.filter(
        (s) =>
          s.name === name &&
          s.labels['http.response.status_code'] === (status === null ? undefined : String(status)),
      );
      assert.equal(match.length, 1, `${kind} ${status}`);
      assert.equal(match[0]!.labels['error.type'], errorType, `${kind} ${status}`);
    }
    const client = find(out, 'http.client.request.duration', { 'http.response.status_code': '404' })[0]!;
    assert.equal(client.labels['server.address'], 'orders');
    assert.equal(client.labels['peer.service'], 'orders');
  });
});

describe('red-metrics service graph', () => {
  it('counts a request once per call: the client side counts, the server side adds its duration', () => {
    const t = testProcessor(redMetrics, { config: CONFIG, now: T0 + 1_000 });
    // gateway → orders, both captured: 3 calls, one failed.
    [200, 200, 503].forEach((status, i) => {
      t.process(
        makeSpan({
          service: 'gateway',
          kind: 'CLIENT',
          peer: 'orders',
          route: '/o',
          status,
          durationMs: 20,
          endMs: T0 + 100,
          seq: i,
        }),
      );
      t.process(
        makeSpan({
          service: 'orders',
          kind: 'SERVER',
          peer: 'gateway',
          route: '/o',
          status,
          durationMs: 15,
          endMs: T0 + 100,
          seq: i,
        }),
      );
    });
    // An uncaptured caller of gateway: the server span counts, from the `user` virtual node.
    t.process(
      makeSpan({
        service: 'gateway',
        kind: 'SERVER',
        peer: null,
        route: '/api',
        status: 500,
        durationMs: 30,
        endMs: T0 + 100,
        seq: 9,
      }),
    );
    // A client call to something meshpipe does not know: a virtual node named by the address called.
    t.process(
      makeSpan({
        service: 'orders',
        kind: 'CLIENT',
        peer: null,
        host: 'payments.example:443',
        route: '/pay',
        durationMs: 5,
        endMs: T0 + 100,
        seq: 10,
      }),
    );
    t.setTime(T0 + 12_000);
    const out = samples(t.punctuate());
    const edge = (client: string, server: string) => ({ client, server });
    assert.equal(find(out, 'traces.service_graph.request', edge('gateway', 'orders'))[0]?.value, 3);
    assert.equal(find(out, 'traces.service_graph.request.failed', edge('gateway', 'orders'))[0]?.value, 1);
    assert.equal(
      find(out, 'traces.service_graph.request.client', edge('gateway', 'orders'))[0]?.histogram?.count,
      3n,
    );
    assert.equal(
      find(out, 'traces.service_graph.request.server', edge('gateway', 'orders'))[0]?.histogram?.count,
      3n,
    );
    const user = find(out, 'traces.service_graph.request', edge('user', 'gateway'))[0]!;
    assert.equal(user.value, 1);
    assert.equal(user.labels.connection_type, 'virtual_node');
    assert.equal(find(out, 'traces.service_graph.request.failed', edge('user', 'gateway'))[0]?.value, 1);
    const external = find(out, 'traces.service_graph.request', edge('orders', 'payments.example'))[0]!;
    assert.equal(external.value, 1);
    assert.equal(external.labels.connection_type, 'virtual_node');
    assert.equal(
      find(out, 'traces.service_graph.request.server', edge('orders', 'payments.example')).length,
      0,
    );
  });
});

describe('red-metrics cardinality, expiry, exemplars, routes', () => {
  it('keeps at most cardinalityLimit series per service and metric; the rest goes to the overflow series', () => {
    const limit = 10;
    const t = testProcessor(redMetrics, { config: { ...CONFIG, cardinalityLimit: limit }, now: T0 + 1_000 });
    const n = 200;
    for (let i = 0; i < n; i++) {
      t.process(
        makeSpan({
          service: 'victim',
          route: null,
          path: `/attack/k${i}x`,
          status: i % 10 === 0 ? 500 : 200,
          durationMs: 1,
          endMs: T0 + 100,
          seq: i,
        }),
      );
    }
    t.process(makeSpan({ service: 'bystander', route: '/ok', durationMs: 1, endMs: T0 + 100, seq: 1_000 }));
    t.setTime(T0 + 12_000);
    const out = samples(t.punctuate());
    const victim = find(out, 'http.server.request.duration', { 'service.name': 'victim' });
    assert.ok(victim.length <= limit, `${victim.length} series`);
    const overflow = victim.filter((s) => s.labels['otel.metric.overflow'] === 'true');
    assert.equal(overflow.length, 2, 'one overflow series for successes, one for errors');
    for (const s of overflow) assert.equal(s.labels['http.route'], '__overflow__');
    const total = victim.reduce((sum, s) => sum + Number(s.histogram!.count), 0);
    assert.equal(total, n, 'nothing is lost: the overflow series counts the rest');
    const errors = victim.filter((s) => s.labels['error.type'] !== undefined);
    assert.equal(
      errors.reduce((sum, s) => sum + Number(s.histogram!.count), 0),
      n / 10,
      'error counts stay exact',
    );
    assert.equal(find(out, 'http.server.request.duration', { 'service.name': 'bystander' }).length, 1);
    const edges = find(out, 'traces.service_graph.request', { server: 'victim' });
    assert.equal(edges.length, 1);
  });

  it('keeps at most maxSeries series per partition across services (process names); the rest in one global overflow', () => {
    const maxSeries = 40;
    const t = testProcessor(redMetrics, {
      config: { ...CONFIG, cardinalityLimit: 10, maxSeries },
      now: T0 + 1_000,
    });
    // 500 services (each process name is its own service): a route series and an edge each.
    const n = 500;
    for (let i = 0; i < n; i++) {
      t.process(
        makeSpan({
          service: `proc-${i}`,
          route: '/x',
          status: i % 5 === 0 ? 503 : 200,
          durationMs: 1,
          endMs: T0 + 100,
          seq: i,
        }),
      );
    }
    t.setTime(T0 + 12_000);
    const out = samples(t.punctuate());
    const routes = find(out, 'http.server.request.duration', {});
    const edges = find(out, 'traces.service_graph.request', {});
    const global = (list: MetricSample[]) =>
      list.filter((x) => x.labels['service.name'] === '__overflow__' || x.labels.client === '__overflow__');
    assert.ok(routes.length + edges.length <= maxSeries + 3, `${routes.length + edges.length} series`);
    assert.deepEqual(
      global(routes)
        .map((x) => [x.labels['http.route'], x.labels['error.type'] ?? null])
        .sort(),
      [
        ['__overflow__', null],
        ['__overflow__', '_OTHER'],
      ],
    );
    // The edges all have the client `user` (no peer): its own budget overflows first.
    assert.equal(global(edges).length, 0);
    assert.equal(
      routes.reduce((sum, x) => sum + Number(x.histogram!.count), 0),
      n,
      'every request counted',
    );
    assert.equal(
      routes
        .filter((x) => x.labels['error.type'] !== undefined)
        .reduce((sum, x) => sum + Number(x.histogram!.count), 0),
      n / 5,
      'errors exact',
    );
    assert.ok((t.counters().global_overflow_spans ?? 0) > 0);
    // Idle series expire and give their room back: new services get series of their own again.
    t.setTime(T0 + 82_000);
    t.punctuate();
    t.process(
      makeSpan({ service: 'late-comer', route: '/y', durationMs: 1, endMs: T0 + 82_500, seq: n + 1 }),
    );
    t.setTime(T0 + 92_000);
    assert.equal(
      find(samples(t.punctuate()), 'http.server.request.duration', { 'service.name': 'late-comer' }).length,
      1,
    );
  });

  it('forgets a series idle for idleSeriesTimeoutMs; if it comes back it restarts with a new start time', () => {
    const t = testProcessor(redMetrics, { config: CONFIG, now: T0 + 1_000 });
    t.process(makeSpan({ service: 's', route: '/a', durationMs: 1, endMs: T0 + 100, seq: 1 }));
    t.setTime(T0 + 12_000);
    const [before] = samples(t.punctuate());
    t.setTime(T0 + 82_000);
    assert.equal(find(samples(t.punctuate()), 'http.server.request.duration', {}).length, 0);
    assert.equal(t.counters().series_expired, 2, 'the route series and its edge');
    t.process(makeSpan({ service: 's', route: '/a', durationMs: 1, endMs: T0 + 82_500, seq: 2 }));
    t.setTime(T0 + 92_000);
    const [after] = find(samples(t.punctuate()), 'http.server.request.duration', {});
    assert.equal(after?.histogram?.count, 1n);
    assert.ok(after!.startTimeUnixNano > before!.startTimeUnixNano);
  });

  it('attaches the latest exemplar of each bucket, with trace and span ids', () => {
    const t = testProcessor(redMetrics, { config: CONFIG, now: T0 + 1_000 });
    const a = makeSpan({ service: 's', route: '/a', durationMs: 3, endMs: T0 + 100, seq: 1 });
    const b = makeSpan({ service: 's', route: '/a', durationMs: 4, endMs: T0 + 200, seq: 2 });
    const c = makeSpan({ service: 's', route: '/a', durationMs: 300, endMs: T0 + 300, seq: 3 });
    for (const span of [a, b, c]) t.process(span);
    t.setTime(T0 + 12_000);
    const [h] = find(samples(t.punctuate()), 'http.server.request.duration', {});
    assert.deepEqual(
      h!.exemplars.map((x) => [x.traceId, x.spanId, x.value]),
      [
        [b.traceId, b.spanId, 0.004],
        [c.traceId, c.spanId, 0.3],
      ],
    );
  });

  it('templates the path of a span that has no route', () => {
    const t = testProcessor(redMetrics, {
      config: { ...CONFIG, routeRules: { '^v\\d+$': '{version}' } },
      now: T0 + 1_000,
    });
    t.process(
      makeSpan({ service: 's', route: null, path: '/v2/users/42?x=1', durationMs: 1, endMs: T0, seq: 1 }),
    );
    t.process(
      makeSpan({ service: 's', route: null, path: '/v3/users/43', durationMs: 1, endMs: T0, seq: 2 }),
    );
    t.setTime(T0 + 12_000);
    const routes = find(samples(t.punctuate()), 'http.server.request.duration', {}).map((s) => [
      s.labels['http.route'],
      s.histogram?.count,
    ]);
    assert.deepEqual(routes, [['/{version}/users/{id}', 2n]]);
  });
});
