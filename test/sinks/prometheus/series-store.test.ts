import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MetricSample } from '../../../schemas/types.ts';
import { renderExposition } from '../../../sinks/prometheus/exposition.ts';
import { mergeHistograms, SeriesStore } from '../../../sinks/prometheus/series-store.ts';

const S = 1_000_000_000n;

function counter(
  stream: string,
  value: number,
  start: bigint,
  time: bigint,
  labels = { 'service.name': 'a' },
): MetricSample {
  return {
    name: 'traces.service_graph.request',
    description: 'requests',
    unit: '{request}',
    type: 'COUNTER',
    labels,
    seriesId: 'x',
    stream,
    startTimeUnixNano: start,
    timeUnixNano: time,
    value,
    histogram: null,
    exemplars: [],
  };
}

function exposed(store: SeriesStore, now = 0): number | undefined {
  const family = store.families()[0]!;
  return store.value(family, [...family.series.values()][0]!, now);
}

const options = { gaugeStaleMs: 30_000, seriesExpiryMs: 600_000 };

describe('the sink view: cumulative per stream, summed over streams', () => {
  it('sums streams and ignores redelivered or out-of-order samples', () => {
    const store = new SeriesStore(options);
    store.apply(counter('red-metrics/0', 10, 1n * S, 10n * S), 0);
    store.apply(counter('red-metrics/1', 5, 1n * S, 10n * S), 0);
    assert.equal(exposed(store), 15);
    store.apply(counter('red-metrics/0', 12, 1n * S, 20n * S), 0);
    assert.equal(
      store.apply(counter('red-metrics/0', 10, 1n * S, 10n * S), 0),
      'stale',
      'a redelivered older sample',
    );
    assert.equal(exposed(store), 17);
    // The same sample again (a duplicate after a retry) changes nothing either.
    store.apply(counter('red-metrics/0', 12, 1n * S, 20n * S), 0);
    assert.equal(exposed(store), 17);
  });

  it('a stream that restarts from zero (new start time) never sends the sum backwards', () => {
    const store = new SeriesStore(options);
    store.apply(counter('collector/node-a', 100, 1n * S, 10n * S), 0);
    store.apply(counter('collector/node-a', 3, 50n * S, 60n * S), 0);
    assert.equal(exposed(store), 103);
    store.apply(counter('collector/node-a', 7, 50n * S, 70n * S), 0);
    assert.equal(exposed(store), 107);
    // A late sample of the previous incarnation is ignored.
    assert.equal(store.apply(counter('collector/node-a', 150, 1n * S, 65n * S), 0), 'stale');
    store.apply(counter('collector/node-a', 1, 90n * S, 95n * S), 0);
    assert.equal(exposed(store), 108);
  });

  it('a red-metrics partition moving between instances continues its stream: no double count', () => {
    const store = new SeriesStore(options);
    // Instance A owned partition 2, then B took over with the state restored from the changelog.
    store.apply(counter('red-metrics/2', 40, 1n * S, 10n * S), 0);
    store.apply(counter('red-metrics/2', 41, 1n * S, 20n * S), 0);
    assert.equal(exposed(store), 41);
  });

  it('an instance that stops keeps its count until the series expires; gauges of it go stale', () => {
    const store = new SeriesStore(options);
    store.apply(counter('processor/x/host-1', 30, 1n * S, 10n * S), 0);
    store.apply(counter('processor/x/host-2', 5, 40n * S, 50n * S), 60_000);
    assert.equal(exposed(store, 60_000), 35);
    const gauge = {
      ...counter('processor/x/host-1', 7, 1n * S, 10n * S),
      type: 'GAUGE' as const,
      name: 'lag',
    };
    store.apply(gauge, 0);
    store.apply({ ...gauge, stream: 'processor/x/host-2', value: 2 }, 20_000);
    const lag = store.families().find((f) => f.name === 'lag')!;
    const series = [...lag.series.values()][0]!;
    assert.equal(store.value(lag, series, 25_000), 9);
    assert.equal(store.value(lag, series, 40_000), 2, 'host-1 stopped reporting');
    assert.equal(store.expire(700_000), 2);
    assert.equal(store.families().length, 0);
  });

  it('refuses a name another producer uses with another type', () => {
    const store = new SeriesStore(options);
    store.apply(counter('a', 1, 1n, 1n), 0);
    const clash = {
      ...counter('b', 1, 1n, 1n),
      type: 'GAUGE' as const,
      name: 'traces.service_graph.request.total',
    };
    assert.equal(store.apply(clash, 0), 'conflict');
  });
});

describe('histograms across streams', () => {
  it('adds bucket counts of equal bounds and merges different bounds on their union', () => {
    const merged = mergeHistograms([
      { bounds: [1, 2], counts: [1, 1, 1], count: 3, sum: 4 },
      { bounds: [1, 5], counts: [2, 0, 1], count: 3, sum: 9 },
    ]);
    // Cumulative at 1: 1+2, at 2: 2+2 (the second has no 2: its count at 1), at 5: 2+2, +Inf: 6.
    assert.deepEqual(merged, { bounds: [1, 2, 5], counts: [3, 1, 0, 2], count: 6, sum: 13 });
  });

  it('renders summed buckets, with exemplars only in OpenMetrics', () => {
    const store = new SeriesStore(options);
    const h = (stream: string, counts: bigint[], traceId: string): MetricSample => ({
      name: 'http.server.request.duration',
      description: 'Duration of HTTP server requests.',
      unit: 's',
      type: 'HISTOGRAM',
      labels: { 'service.name': 'orders', 'http.route': '/a"b' },
      seriesId: 'y',
      stream,
      startTimeUnixNano: 1n,
      timeUnixNano: 10n * S,
      value: 0,
      histogram: {
        count: counts.reduce((a, b) => a + b, 0n),
        sum: 0.5,
        bounds: [0.1, 1],
        bucketCounts: counts,
      },
      exemplars: [{ traceId, spanId: '00f067aa0ba902b7', value: 0.05, timeUnixNano: 9n * S }],
    });
    store.apply(h('red-metrics/0', [1n, 2n, 0n], '4bf92f3577b34da6a3ce929d0e0e4736'), 0);
    store.apply(h('red-metrics/1', [0n, 1n, 1n], '5bf92f3577b34da6a3ce929d0e0e4737'), 0);
    const text = renderExposition(store, 'text', { nowMs: 0, exemplars: true });
    assert.equal(
      text,
      [
        '# HELP http_server_request_duration_seconds Duration of HTTP server requests.',
        '# TYPE http_server_request_duration_seconds histogram',
        'http_server_request_duration_seconds_bucket{http_route="/a\\"b",service_name="orders",le="0.1"} 1',
        'http_server_request_duration_seconds_bucket{http_route="/a\\"b",service_name="orders",le="1"} 4',
        'http_server_request_duration_seconds_bucket{http_route="/a\\"b",service_name="orders",le="+Inf"} 5',
        'http_server_request_duration_seconds_sum{http_route="/a\\"b",service_name="orders"} 1',
        'http_server_request_duration_seconds_count{http_route="/a\\"b",service_name="orders"} 5',
        '',
      ].join('\n'),
    );
    const om = renderExposition(store, 'openmetrics', { nowMs: 0, exemplars: true });
    assert.match(
      om,
      /^# TYPE http_server_request_duration_seconds histogram\n# UNIT http_server_request_duration_seconds seconds\n/,
    );
    assert.match(
      om,
      /le="0\.1"} 1 # \{trace_id="5bf92f3577b34da6a3ce929d0e0e4737",span_id="00f067aa0ba902b7"} 0\.05 9\.000\n/,
    );
    assert.match(om, /le="1\.0"} 4\n/);
    assert.match(om, /_sum\{[^}]*} 1\.0\n/);
    assert.ok(om.endsWith('# EOF\n'));
  });

  it('holds at most maxSeries series and maxStreamsPerSeries streams; the rest is overflow until series expire', () => {
    const store = new SeriesStore({ ...options, maxSeries: 3, maxStreamsPerSeries: 2 });
    const labels = (i: number) => ({ 'service.name': `s${i}` });
    for (let i = 0; i < 3; i++)
      assert.equal(store.apply(counter('a/0', 1, 1n * S, 10n * S, labels(i)), 0), 'applied');
    assert.equal(store.apply(counter('a/0', 1, 1n * S, 10n * S, labels(3)), 0), 'overflow');
    assert.equal(
      store.apply(counter('a/0', 2, 1n * S, 20n * S, labels(0)), 0),
      'applied',
      'held series update',
    );
    assert.equal(store.apply(counter('a/1', 2, 1n * S, 20n * S, labels(0)), 0), 'applied');
    assert.equal(store.apply(counter('a/2', 2, 1n * S, 20n * S, labels(0)), 0), 'overflow', 'a third stream');
    assert.equal(store.stats().series, 3);
    // s1 and s2 expire (s0 was refreshed at 500): room for a new one.
    store.apply(counter('a/0', 3, 1n * S, 30n * S, labels(0)), 500_000);
    assert.equal(store.expire(650_000), 2);
    assert.equal(store.apply(counter('a/0', 1, 1n * S, 40n * S, labels(3)), 650_000), 'applied');
  });
});
