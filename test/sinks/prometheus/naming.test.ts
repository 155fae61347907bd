import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COLLECTOR_METRICS } from '../../../collectors/collector-metrics.ts';
import { RED_METRICS } from '../../../processors/red-metrics/series.ts';
import { PROCESSOR_METRICS } from '../../../processors/runtime/processor-metrics.ts';
import { prometheusLabel, prometheusLabels, prometheusName } from '../../../sinks/prometheus/naming.ts';
import { SINK_METRICS } from '../../../sinks/runtime/sink-metrics.ts';

describe('OpenTelemetry → Prometheus metric names', () => {
  const cases: Array<[string, string, 'COUNTER' | 'GAUGE' | 'HISTOGRAM', string]> = [
    ['http.server.request.duration', 's', 'HISTOGRAM', 'http_server_request_duration_seconds'],
    ['http.client.request.duration', 's', 'HISTOGRAM', 'http_client_request_duration_seconds'],
    ['traces.service_graph.request', '{request}', 'COUNTER', 'traces_service_graph_request_total'],
    [
      'traces.service_graph.request.failed',
      '{request}',
      'COUNTER',
      'traces_service_graph_request_failed_total',
    ],
    ['traces.service_graph.request.server', 's', 'HISTOGRAM', 'traces_service_graph_request_server_seconds'],
    ['traces.service_graph.request.client', 's', 'HISTOGRAM', 'traces_service_graph_request_client_seconds'],
    ['process.cpu.time', 's', 'COUNTER', 'process_cpu_time_seconds_total'],
    ['system.memory.usage', 'By', 'GAUGE', 'system_memory_usage_bytes'],
    ['meshpipe.collector.captured.bytes', 'By', 'COUNTER', 'meshpipe_collector_captured_bytes_total'],
    ['system.cpu.utilization', '1', 'GAUGE', 'system_cpu_utilization_ratio'],
    ['requests.rate', '{request}/s', 'GAUGE', 'requests_rate_per_second'],
    ['network.io', 'By/s', 'GAUGE', 'network_io_bytes_per_second'],
    ['already_total', '1', 'COUNTER', 'already_total'],
    ['2xx.responses', '', 'COUNTER', '_2xx_responses_total'],
  ];
  for (const [name, unit, type, expected] of cases) {
    it(`${name} (${unit || 'no unit'}, ${type}) → ${expected}`, () => {
      assert.equal(prometheusName(name, unit, type), expected);
    });
  }

  it('labels: dots become underscores, leading digits and underscores get `key`', () => {
    assert.equal(prometheusLabel('http.request.method'), 'http_request_method');
    assert.equal(prometheusLabel('otel.metric.overflow'), 'otel_metric_overflow');
    assert.equal(prometheusLabel('2fa'), 'key_2fa');
    assert.equal(prometheusLabel('_x'), 'key_x');
    assert.equal(prometheusLabel('__x'), '__x');
    assert.deepEqual(prometheusLabels({ 'a.b': '1', a_b: '2', empty: '' }), { a_b: '1;2' });
  });
});

describe('names the components declare match what the sink exposes', () => {
  // Each component states the Prometheus name of its own /metrics; the sink derives the name of the
  // same series from the sample's OTel name and unit. A difference would give one metric two names.
  const declared = [
    ...Object.values(PROCESSOR_METRICS).map((d) => ['processor', d] as const),
    ...Object.values(SINK_METRICS).map((d) => ['sink', d] as const),
    ...Object.values(COLLECTOR_METRICS).map((d) => ['collector', d] as const),
  ];
  for (const [component, d] of declared) {
    const derived = prometheusName(d.otel, d.unit, d.type);
    // A component's own /metrics and the sink must name a metric alike: the OTel rules decide.
    it(`${component}: ${d.otel} → ${d.prometheus}`, () => {
      assert.equal(derived, d.prometheus);
    });
  }

  it('red-metrics: the OTel HTTP and Tempo service-graph names', () => {
    const names = Object.values(RED_METRICS).map((m) => prometheusName(m.name, m.unit, m.type));
    assert.deepEqual(names, [
      'http_server_request_duration_seconds',
      'http_client_request_duration_seconds',
      'traces_service_graph_request_total',
      'traces_service_graph_request_failed_total',
      'traces_service_graph_request_server_seconds',
      'traces_service_graph_request_client_seconds',
    ]);
  });
});
