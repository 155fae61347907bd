/**
 * A sink's endpoint (sinks.<name>.listen) over real HTTP: a sink whose exporter serves nothing itself
 * exposes its own delivery health in the Prometheus sink's names; the Prometheus sink's exporter serves
 * its view, and /readyz and /metrics wait for its warm-up.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ComponentStatus } from '../../../lib/component-status.ts';
import { MetricsEndpoint } from '../../../sinks/prometheus/metrics-endpoint.ts';
import { type Exporter, SUCCESS } from '../../../sinks/runtime/exporter.ts';
import { serveSinkEndpoint } from '../../../sinks/runtime/http-endpoint.ts';
import { SinkMetrics } from '../../../sinks/runtime/sink-metrics.ts';
import { testLogger } from '../../../testkit/kafka.ts';

const plainExporter: Exporter<unknown> = { export: async () => SUCCESS, shutdown: async () => {} };

describe("a sink's HTTP endpoint", () => {
  it('is off without sinks.<name>.listen', async () => {
    const server = await serveSinkEndpoint({
      sink: 'otlp',
      listen: '',
      exporter: plainExporter,
      samples: () => [],
      status: () => ({ state: 'ok', summary: '' }),
      logger: testLogger,
    });
    assert.equal(server, undefined);
  });

  it("serves the sink's own delivery health and its status", async () => {
    const metrics = new SinkMetrics('otlp', 'p.spans.v1', 'sink/otlp/test-1', 1n);
    metrics.consumed(12);
    metrics.exported(10);
    metrics.deadLettered(2, 'MESHPIPE_ERR_OTLP_REJECTED');
    let status: ComponentStatus = { state: 'starting', summary: 'joining the consumer group' };
    const server = await serveSinkEndpoint({
      sink: 'otlp',
      listen: '127.0.0.1:0',
      exporter: plainExporter,
      samples: () => metrics.series.samples(),
      status: () => status,
      logger: testLogger,
    });
    const base = `http://${server!.address}`;
    try {
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      assert.equal((await fetch(`${base}/readyz`)).status, 503);
      status = { state: 'ok', summary: '10 spans/s' };
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
      const text = await (await fetch(`${base}/metrics`)).text();
      assert.match(text, /^meshpipe_sink_records_consumed_total\{sink="otlp",topic="p\.spans\.v1"\} 12$/m);
      assert.match(text, /^meshpipe_sink_records_exported_total\{sink="otlp",topic="p\.spans\.v1"\} 10$/m);
      assert.match(
        text,
        /^meshpipe_sink_dead_letters_total\{[^}]*code="MESHPIPE_ERR_OTLP_REJECTED"[^}]*\} 2$/m,
      );
    } finally {
      await server!.close();
    }
  });

  it('the Prometheus sink serves its view, not ready until the warm-up is over', async () => {
    let now = 1_000_000;
    const endpoint = new MetricsEndpoint({
      warmupMs: 15_000,
      maxSeries: 20_000,
      gaugeStaleMs: 30_000,
      seriesExpiryMs: 900_000,
      exemplars: true,
      logger: testLogger,
      now: () => now,
    });
    const server = await serveSinkEndpoint({
      sink: 'prometheus',
      listen: '127.0.0.1:0',
      exporter: endpoint as Exporter<unknown>,
      samples: () => [],
      status: () => ({ state: 'ok', summary: '' }),
      logger: testLogger,
    });
    const base = `http://${server!.address}`;
    try {
      const cold = await fetch(`${base}/readyz`);
      assert.equal(cold.status, 503);
      assert.equal(cold.headers.get('retry-after'), '15');
      assert.equal((await fetch(`${base}/metrics`)).status, 503, 'no partial sums');
      assert.equal((await fetch(`${base}/healthz`)).status, 200, 'warming up is alive');
      now += 15_000;
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
      const open = await fetch(`${base}/metrics`, { headers: { accept: 'application/openmetrics-text' } });
      assert.equal(open.status, 200);
      assert.match(open.headers.get('content-type') ?? '', /openmetrics/);
      assert.match(await open.text(), /^meshpipe_prometheus_sink_series 0\.0$/m);
    } finally {
      await server!.close();
      await endpoint.shutdown();
    }
  });
});
