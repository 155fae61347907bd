/**
 * red-metrics on gRPC spans: the RPC conventions' rpc.server.duration / rpc.client.duration, in
 * milliseconds (bounds, sums and exemplars scaled from the seconds kept in state), labelled by rpc
 * service, method and status code, with errors by the gRPC rules the spans carry; and the same
 * service-graph edges as HTTP calls.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DURATION_BOUNDS } from '../../../processors/red-metrics/histogram.ts';
import redMetrics from '../../../processors/red-metrics/index.ts';
import { testProcessor } from '../../../processors/runtime/test-context.ts';
import type { MetricSample } from '../../../schemas/types.ts';
import { prometheusName } from '../../../sinks/prometheus/naming.ts';
import { makeSpan } from './spans.ts';

const T0 = 1_700_000_000_000;
const CONFIG = { windowMs: 10_000, allowedLatenessMs: 2_000, idleSeriesTimeoutMs: 60_000 };
const RESERVE = { service: 'inventory.v1.Inventory', method: 'Reserve' };

function closeWindow(spans: Parameters<typeof makeSpan>[0][]): MetricSample[] {
  const t = testProcessor(redMetrics, { config: CONFIG, now: T0 + 1_000 });
  for (const s of spans) t.process(makeSpan(s));
  t.setTime(T0 + 12_000);
  return t.punctuate().map((o) => o.value as MetricSample);
}

const find = (list: MetricSample[], name: string, labels: Record<string, string | undefined>) =>
  list.filter(
    (s) =>
      s.name === name &&
      Object.entries(labels).every(([k, v]) => (v === undefined ? !(k in s.labels) : s.labels[k] === v)),
  );

describe('red-metrics on gRPC spans', () => {
  it('rpc.server.duration in ms, labelled by service, method and status; errors by the gRPC server rule', () => {
    const out = closeWindow([
      { service: 'inventory', grpc: { ...RESERVE, code: 0 }, durationMs: 3, endMs: T0 + 100, seq: 1 },
      { service: 'inventory', grpc: { ...RESERVE, code: 0 }, durationMs: 40, endMs: T0 + 200, seq: 2 },
      // NOT_FOUND is the caller's problem: counted, not an error for the server.
      { service: 'inventory', grpc: { ...RESERVE, code: 5 }, durationMs: 2, endMs: T0 + 300, seq: 3 },
      { service: 'inventory', grpc: { ...RESERVE, code: 14 }, durationMs: 1, endMs: T0 + 400, seq: 4 },
    ]);
    const ok = find(out, 'rpc.server.duration', { 'rpc.grpc.status_code': '0' });
    assert.equal(ok.length, 1);
    const [h] = ok;
    assert.equal(h!.unit, 'ms');
    assert.deepEqual(h!.labels, {
      'service.name': 'inventory',
      'rpc.system': 'grpc',
      'rpc.service': 'inventory.v1.Inventory',
      'rpc.method': 'Reserve',
      'rpc.grpc.status_code': '0',
    });
    assert.equal(h!.histogram!.count, 2n);
    assert.deepEqual(
      h!.histogram!.bounds,
      DURATION_BOUNDS.map((b) => b * 1000),
    );
    assert.ok(Math.abs(h!.histogram!.sum - 43) < 1e-9, 'the sum is in milliseconds');
    assert.equal(h!.histogram!.bucketCounts[0], 1n, '3 ms is in the first bucket (≤ 5 ms)');
    for (const e of h!.exemplars) assert.ok(e.value === 3 || e.value === 40, 'exemplar values in ms');
    assert.equal(
      find(out, 'rpc.server.duration', { 'rpc.grpc.status_code': '5', 'error.type': undefined }).length,
      1,
    );
    assert.equal(
      find(out, 'rpc.server.duration', { 'rpc.grpc.status_code': '14', 'error.type': 'UNAVAILABLE' }).length,
      1,
    );
    assert.equal(find(out, 'http.server.request.duration', {}).length, 0, 'no HTTP series for gRPC spans');
  });

  it('rpc.client.duration: any code but OK is an error, a reset stream by its code; edges count failures', () => {
    const out = closeWindow([
      {
        service: 'orders',
        kind: 'CLIENT',
        peer: 'inventory',
        grpc: { ...RESERVE, code: 0 },
        durationMs: 2,
        endMs: T0 + 100,
        seq: 1,
      },
      {
        service: 'orders',
        kind: 'CLIENT',
        peer: 'inventory',
        grpc: { ...RESERVE, code: 5 },
        durationMs: 2,
        endMs: T0 + 200,
        seq: 2,
      },
      {
        service: 'orders',
        kind: 'CLIENT',
        peer: 'inventory',
        grpc: { ...RESERVE, code: null },
        errorType: 'CANCEL',
        durationMs: 100,
        endMs: T0 + 300,
        seq: 3,
      },
    ]);
    assert.equal(
      find(out, 'rpc.client.duration', { 'rpc.grpc.status_code': '0', 'error.type': undefined }).length,
      1,
    );
    const notFound = find(out, 'rpc.client.duration', {
      'rpc.grpc.status_code': '5',
      'error.type': 'NOT_FOUND',
    });
    assert.equal(notFound.length, 1);
    assert.equal(notFound[0]!.labels['peer.service'], 'inventory');
    assert.equal(notFound[0]!.labels['server.address'], 'inventory');
    const reset = find(out, 'rpc.client.duration', { 'error.type': 'CANCEL' });
    assert.equal(reset.length, 1);
    assert.equal(reset[0]!.labels['rpc.grpc.status_code'], undefined, 'a reset stream has no status code');
    const [requests] = find(out, 'traces.service_graph.request', { client: 'orders', server: 'inventory' });
    const [failed] = find(out, 'traces.service_graph.request.failed', {
      client: 'orders',
      server: 'inventory',
    });
    assert.equal(requests!.value, 3);
    assert.equal(failed!.value, 2);
  });

  it('Prometheus names by the OTel rules: rpc_server_duration_milliseconds', () => {
    assert.equal(
      prometheusName('rpc.server.duration', 'ms', 'HISTOGRAM'),
      'rpc_server_duration_milliseconds',
    );
    assert.equal(
      prometheusName('rpc.client.duration', 'ms', 'HISTOGRAM'),
      'rpc_client_duration_milliseconds',
    );
  });
});
