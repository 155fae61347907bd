import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { negotiateFormat, renderExposition } from '../../../sinks/prometheus/exposition.ts';
import { SeriesStore } from '../../../sinks/prometheus/series-store.ts';

describe('content negotiation', () => {
  const cases: Array<[string | undefined, 'text' | 'openmetrics']> = [
    [undefined, 'text'],
    ['*/*', 'text'],
    ['text/plain', 'text'],
    // What Prometheus 2.x sends when scraping.
    [
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      'openmetrics',
    ],
    ['application/openmetrics-text', 'openmetrics'],
    ['text/plain;version=0.0.4,application/openmetrics-text;q=0.5', 'text'],
    ['application/openmetrics-text;q=0', 'text'],
  ];
  for (const [accept, format] of cases) {
    it(`${accept ?? '(no Accept)'} → ${format}`, () => assert.equal(negotiateFormat(accept), format));
  }
});

describe('exposition of counters and gauges', () => {
  const store = new SeriesStore({ gaugeStaleMs: 30_000, seriesExpiryMs: 600_000 });
  store.apply(
    {
      name: 'traces.service_graph.request',
      description: 'Total count of requests between two nodes.',
      unit: '{request}',
      type: 'COUNTER',
      labels: { client: 'gateway', server: 'orders' },
      seriesId: 'a',
      stream: 'red-metrics/0',
      startTimeUnixNano: 1n,
      timeUnixNano: 2n,
      value: 42,
      histogram: null,
      exemplars: [],
    },
    0,
  );
  store.apply(
    {
      name: 'meshpipe.processor.consumer.lag',
      description: 'Records not yet processed.\nPer partition.',
      unit: '{record}',
      type: 'GAUGE',
      labels: { processor: 'red-metrics', topic: 'meshpipe.spans.v2', partition: '0' },
      seriesId: 'b',
      stream: 'processor/red-metrics/h-1',
      startTimeUnixNano: 1n,
      timeUnixNano: 2n,
      value: 3,
      histogram: null,
      exemplars: [],
    },
    0,
  );

  it('OpenMetrics names the counter family without _total', () => {
    const om = renderExposition(store, 'openmetrics', { nowMs: 0, exemplars: true });
    assert.match(
      om,
      /# TYPE traces_service_graph_request counter\n# HELP traces_service_graph_request [^\n]+\ntraces_service_graph_request_total\{client="gateway",server="orders"} 42\.0\n/,
    );
    assert.match(
      om,
      /# HELP meshpipe_processor_consumer_lag Records not yet processed\.\\nPer partition\.\n/,
    );
  });

  it('the text format passes promtool check metrics', {
    skip: spawnSync('promtool', ['--version']).status !== 0,
  }, () => {
    const text = renderExposition(store, 'text', { nowMs: 0, exemplars: true });
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  });
});
