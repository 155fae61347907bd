/**
 * A cardinality attack on a real broker: 100,000 requests to distinct paths that no templating rule
 * collapses (`/attack/k<n>z`). Per service, metric and stream, red-metrics keeps at most
 * `cardinalityLimit` series; the rest is counted in the overflow series, so the request and error
 * totals stay exact while the exposed series stay bounded. A bystander service keeps its series.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ProcessorHost } from '../../../processors/runtime/host.ts';
import { TOPICS } from '../../../schemas/topics.ts';
import type { Span } from '../../../schemas/types.ts';
import type { RunningSink } from '../../../sinks/runtime/host.ts';
import { type TestKafka, testKafka } from '../../../testkit/kafka.ts';
import { freePort, parseExposition, scrape } from '../../helpers/prometheus.ts';
import { waitFor } from '../../helpers/wait.ts';
import { FAST_RED_METRICS, prometheusSinkFor, redMetricsHost } from './harness.ts';
import { makeSpan } from './spans.ts';
import { produceSpans } from './workload.ts';

const ATTACK = 100_000;
const LIMIT = 50;

describe('red-metrics cardinality limit under attack', () => {
  let k: TestKafka;
  let host: ProcessorHost | undefined;
  let sink: RunningSink | undefined;

  before(async () => {
    k = await testKafka('red-metrics-cardinality');
    await k.createTopics();
  });
  after(async () => {
    await host?.stop();
    await sink?.stop();
    await k.cleanup();
  });

  it('1,000 services (a process name each) stay within maxSeries per stream, totals exact', {
    timeout: 300_000,
  }, async () => {
    const MAX = 60;
    const SERVICES = 1_000;
    const kk = await testKafka('red-metrics-max-series');
    await kk.createTopics();
    let h: ProcessorHost | undefined;
    let sk: RunningSink | undefined;
    try {
      const endMs = Date.now();
      const spans = Array.from({ length: SERVICES }, (_, i) =>
        makeSpan({
          service: `proc-${i}`,
          route: '/x',
          status: i % 4 === 0 ? 500 : 200,
          durationMs: 2,
          endMs,
          seq: i,
        }),
      );
      await produceSpans(kk.kafka, kk.topic('spans'), spans);
      h = redMetricsHost(kk, { ...FAST_RED_METRICS, maxSeries: MAX });
      await h.start();
      const address = `127.0.0.1:${await freePort()}`;
      sk = await prometheusSinkFor(kk, address);
      const count = (samples: ReturnType<typeof parseExposition>) =>
        samples.filter((x) => x.name === 'http_server_request_duration_seconds_count');
      const samples = await waitFor(
        'every request counted',
        async () => {
          const res = await scrape(address);
          if (res.status !== 200) return false;
          const parsed = parseExposition(res.body);
          return count(parsed).reduce((sum, x) => sum + x.value, 0) === SERVICES ? parsed : false;
        },
        { timeoutMs: 240_000, intervalMs: 1_000 },
      );
      const partitions = TOPICS.spans.partitions;
      const routes = count(samples);
      const edges = samples.filter((x) => x.name === 'traces_service_graph_request_total');
      assert.ok(
        routes.length + edges.length <= (MAX + 3) * partitions,
        `${routes.length} route and ${edges.length} edge series (max ${MAX} per stream, ${partitions} streams)`,
      );
      const global = routes.filter((x) => x.labels.service_name === '__overflow__');
      assert.ok(global.length > 0, 'the global overflow series');
      assert.equal(
        routes.filter((x) => x.labels.error_type !== undefined).reduce((sum, x) => sum + x.value, 0),
        SERVICES / 4,
        'errors exact',
      );
    } finally {
      await h?.stop();
      await sk?.stop();
      await kk.cleanup();
    }
  });

  it(`${ATTACK} distinct paths stay within ${LIMIT} series per service and stream, totals exact`, {
    timeout: 300_000,
  }, async () => {
    const endMs = Date.now();
    const spans: Span[] = [];
    for (let i = 0; i < ATTACK; i++) {
      spans.push(
        makeSpan({
          service: 'victim',
          route: null,
          path: `/attack/k${i}z`,
          status: i % 20 === 0 ? 500 : 200,
          durationMs: 2,
          endMs,
          seq: i,
        }),
      );
    }
    for (let i = 0; i < 100; i++) {
      spans.push(makeSpan({ service: 'bystander', route: '/health', durationMs: 1, endMs, seq: ATTACK + i }));
    }
    await produceSpans(k.kafka, k.topic('spans'), spans);
    host = redMetricsHost(k, { ...FAST_RED_METRICS, cardinalityLimit: LIMIT });
    await host.start();
    const address = `127.0.0.1:${await freePort()}`;
    sink = await prometheusSinkFor(k, address);

    const server = (samples: ReturnType<typeof parseExposition>, service: string) =>
      samples.filter(
        (s) => s.name === 'http_server_request_duration_seconds_count' && s.labels.service_name === service,
      );
    const samples = await waitFor(
      'every attack request counted',
      async () => {
        const res = await scrape(address);
        if (res.status !== 200) return false;
        const parsed = parseExposition(res.body);
        const total = server(parsed, 'victim').reduce((sum, s) => sum + s.value, 0);
        return total === ATTACK ? parsed : false;
      },
      { timeoutMs: 240_000, intervalMs: 1_000 },
    );
    const victim = server(samples, 'victim');
    const partitions = TOPICS.spans.partitions;
    // Each stream (input partition) admits its own first series: the sink shows at most the limit per
    // stream, summed over the streams that saw the attack.
    assert.ok(
      victim.length <= LIMIT * partitions,
      `${victim.length} series for victim (limit ${LIMIT} x ${partitions} partitions)`,
    );
    const overflow = victim.filter((s) => s.labels.otel_metric_overflow === 'true');
    assert.deepEqual(
      overflow.map((s) => s.labels.http_route),
      ['__overflow__', '__overflow__'],
    );
    const errors = victim
      .filter((s) => s.labels.error_type !== undefined)
      .reduce((sum, s) => sum + s.value, 0);
    assert.equal(errors, ATTACK / 20, 'errors stay exact in the overflow series');
    const bystander = server(samples, 'bystander');
    assert.deepEqual(
      bystander.map((s) => [s.labels.http_route, s.value]),
      [['/health', 100]],
    );
    const all = samples.filter((s) => s.name.startsWith('http_server_request_duration_seconds'));
    assert.ok(
      all.length < (LIMIT * partitions + 2) * 18,
      `${all.length} exposed lines for the histogram family`,
    );
  });
});
