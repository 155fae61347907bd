/**
 * anomaly-deltas: cumulative samples → deltas, with the OpenTelemetry cumulative-stream rules (resets, first
 * samples, duplicates), heartbeats, and everything on the metrics topic that is not the watched histogram
 * left alone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import anomalyDeltas from '../../../processors/anomaly-deltas/index.ts';
import { testProcessor } from '../../../processors/runtime/test-context.ts';
import { seriesIdOf } from '../../../runtime/metric-definition.ts';
import { TOPICS } from '../../../schemas/topics.ts';
import type { MetricSample, WindowDelta } from '../../../schemas/types.ts';
import { SEMCONV_BOUNDS } from '../anomaly-detector/red-metrics-emulator.ts';

const T0 = 1_700_000_000_000;
const MS = 1_000_000n;
const LABELS = {
  'service.name': 'orders',
  'http.route': '/orders/:id',
  'http.request.method': 'GET',
  'http.response.status_code': '503',
  'error.type': '503',
};

function sample(o: {
  atMs: number;
  startMs?: number;
  buckets: number[];
  stream?: string;
  name?: string;
}): MetricSample {
  const bucketCounts = new Array<bigint>(SEMCONV_BOUNDS.length + 1).fill(0n);
  o.buckets.forEach((c, i) => {
    bucketCounts[i] = BigInt(c);
  });
  const count = bucketCounts.reduce((a, b) => a + b, 0n);
  const name = o.name ?? 'http.server.request.duration';
  return {
    name,
    description: '',
    unit: 's',
    type: 'HISTOGRAM',
    labels: LABELS,
    seriesId: seriesIdOf(name, LABELS),
    stream: o.stream ?? 'red-metrics/1',
    startTimeUnixNano: BigInt(o.startMs ?? T0 - 3_600_000) * MS,
    timeUnixNano: BigInt(o.atMs) * MS,
    value: Number(count) * 0.003,
    histogram: { count, sum: Number(count) * 0.003, bounds: SEMCONV_BOUNDS, bucketCounts },
    exemplars: [
      {
        traceId: 'a'.repeat(32),
        spanId: 'b'.repeat(16),
        value: 0.004,
        timeUnixNano: BigInt(o.atMs - 10) * MS,
      },
    ],
  };
}

function deltasOf(t: ReturnType<typeof testProcessor<typeof anomalyDeltas>>, s: MetricSample): WindowDelta[] {
  return t
    .process(s, { input: 'metrics', key: s.seriesId })
    .filter((e) => e.topic.endsWith(TOPICS.deltas.suffix))
    .map((e) => {
      assert.equal(e.key, 'orders', 'deltas are keyed by service');
      return e.value as WindowDelta;
    });
}

test('a long-running stream: the first sample is only a reference, then differences', () => {
  const t = testProcessor(anomalyDeltas, { config: { windowMs: 1000 } });
  assert.deepEqual(deltasOf(t, sample({ atMs: T0, buckets: [5, 2] })), []);
  assert.equal(t.counters().series_first_seen, 1);
  const [d] = deltasOf(t, sample({ atMs: T0 + 500, buckets: [8, 2, 1] }));
  assert.equal(d!.count, 4n);
  assert.deepEqual(d!.bucketCounts.slice(0, 3), [3n, 0n, 1n]);
  assert.equal(d!.startUnixNano, BigInt(T0) * MS);
  assert.equal(d!.endUnixNano, BigInt(T0 + 500) * MS);
  assert.equal(d!.statusCode, 503);
  assert.equal(d!.errorType, '503');
  assert.deepEqual(
    d!.exemplars.map((e) => ({ ...e })),
    [{ traceId: 'a'.repeat(32), value: 0.004 }],
  );
});

test('a stream that just started counts in full; a restart (new start time) counts from zero', () => {
  const t = testProcessor(anomalyDeltas, { config: { windowMs: 1000 } });
  const [first] = deltasOf(t, sample({ atMs: T0 + 400, startMs: T0, buckets: [3] }));
  assert.equal(first!.count, 3n, 'requests of a new red-metrics instance are new traffic');
  const [restart] = deltasOf(t, sample({ atMs: T0 + 900, startMs: T0 + 800, buckets: [2] }));
  assert.equal(restart!.count, 2n);
  assert.equal(restart!.startUnixNano, BigInt(T0 + 800) * MS);
  assert.equal(t.counters().counter_resets, 1);
});

test('counts that went down without a new start time are a reset too; stale samples change nothing', () => {
  const t = testProcessor(anomalyDeltas, { config: { windowMs: 1000 } });
  deltasOf(t, sample({ atMs: T0, buckets: [10] }));
  assert.equal(deltasOf(t, sample({ atMs: T0 + 100, buckets: [4] }))[0]!.count, 4n);
  assert.equal(t.counters().counter_resets, 1);
  assert.deepEqual(deltasOf(t, sample({ atMs: T0 + 100, buckets: [9] })), [], 'same time: a duplicate');
  assert.deepEqual(deltasOf(t, sample({ atMs: T0 + 50, buckets: [9] })), [], 'older: a replay');
  assert.equal(t.counters().stale_samples, 2);
});

test('streams are independent: the same series from two red-metrics partitions', () => {
  const t = testProcessor(anomalyDeltas, { config: { windowMs: 1000 } });
  deltasOf(t, sample({ atMs: T0, buckets: [10], stream: 'red-metrics/0' }));
  deltasOf(t, sample({ atMs: T0, buckets: [100], stream: 'red-metrics/2' }));
  assert.equal(deltasOf(t, sample({ atMs: T0 + 300, buckets: [12], stream: 'red-metrics/0' }))[0]!.count, 2n);
  assert.equal(
    deltasOf(t, sample({ atMs: T0 + 300, buckets: [107], stream: 'red-metrics/2' }))[0]!.count,
    7n,
  );
});

test('unchanged samples send one heartbeat per window (event time for stage 2), no more', () => {
  const t = testProcessor(anomalyDeltas, { config: { windowMs: 1000 } });
  deltasOf(t, sample({ atMs: T0, buckets: [10] }));
  const beats = [100, 400, 800, 1100, 1500].map(
    (ms) => deltasOf(t, sample({ atMs: T0 + ms, buckets: [10] })).length,
  );
  assert.deepEqual(beats, [1, 0, 0, 1, 0]);
  assert.equal(t.counters().heartbeats, 2);
});

test('other metrics on the topic are ignored: client durations, counters, pipeline health', () => {
  const t = testProcessor(anomalyDeltas, { config: { windowMs: 1000 } });
  for (const name of ['http.client.request.duration', 'meshpipe.processor.records']) {
    deltasOf(t, sample({ atMs: T0, startMs: T0, buckets: [1], name }));
    assert.deepEqual(deltasOf(t, sample({ atMs: T0 + 100, startMs: T0, buckets: [5], name })), []);
  }
  assert.equal(t.stores.cursors.size, 0);
});

test('gRPC: rpc.server.duration in ms becomes deltas in seconds, its route the call, errors by error.type', () => {
  const t = testProcessor(anomalyDeltas, { config: { windowMs: 1000 } });
  const labels = {
    'service.name': 'orders',
    'rpc.system': 'grpc',
    'rpc.service': 'inventory.v1.Inventory',
    'rpc.method': 'Reserve',
    'rpc.grpc.status_code': '14',
    'error.type': 'UNAVAILABLE',
  };
  const bounds = SEMCONV_BOUNDS.map((b) => b * 1000);
  const rpc = (atMs: number, first: number): MetricSample => {
    const bucketCounts = new Array<bigint>(bounds.length + 1).fill(0n);
    bucketCounts[0] = BigInt(first);
    return {
      ...sample({ atMs, buckets: [] }),
      name: 'rpc.server.duration',
      unit: 'ms',
      labels,
      seriesId: seriesIdOf('rpc.server.duration', labels),
      histogram: { count: BigInt(first), sum: first * 3, bounds, bucketCounts },
      exemplars: [
        { traceId: 'c'.repeat(32), spanId: 'd'.repeat(16), value: 4, timeUnixNano: BigInt(atMs - 10) * MS },
      ],
    };
  };
  deltasOf(t, rpc(T0, 2));
  const [d] = deltasOf(t, rpc(T0 + 500, 5));
  assert.equal(d!.route, 'inventory.v1.Inventory/Reserve');
  assert.equal(d!.method, null);
  assert.equal(d!.statusCode, 0, 'a gRPC code is not an HTTP status class');
  assert.equal(d!.errorType, 'UNAVAILABLE');
  assert.equal(d!.count, 3n);
  assert.deepEqual(d!.bounds, SEMCONV_BOUNDS, 'the same bounds as the HTTP histograms, in seconds');
  assert.ok(Math.abs(d!.sum - 0.009) < 1e-12, '9 ms');
  assert.deepEqual(
    d!.exemplars.map((e) => ({ ...e })),
    [{ traceId: 'c'.repeat(32), value: 0.004 }],
  );
});

test('rpcMetric "" watches HTTP only', () => {
  const t = testProcessor(anomalyDeltas, { config: { windowMs: 1000, rpcMetric: '' } });
  const name = 'rpc.server.duration';
  deltasOf(t, sample({ atMs: T0, startMs: T0, buckets: [1], name }));
  assert.deepEqual(deltasOf(t, sample({ atMs: T0 + 100, startMs: T0, buckets: [5], name })), []);
});
