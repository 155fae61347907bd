/**
 * The Prometheus sink on a real broker, scraped over HTTP: its view of the metrics topic is bounded
 * (sinks.prometheus.maxSeries) whatever a producer writes, and what it leaves out is counted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { codecFor } from '../../../schemas/codec.ts';
import type { MetricSample } from '../../../schemas/types.ts';
import { prometheusSinkSpec } from '../../../sinks/prometheus/config.ts';
import { prometheusSink } from '../../../sinks/prometheus/sink.ts';
import { type RunningSink, startSink } from '../../../sinks/runtime/host.ts';
import { type TestKafka, testKafka, testLogger } from '../../../testkit/kafka.ts';
import { freePort, parseExposition, scrape } from '../../helpers/prometheus.ts';
import { waitFor } from '../../helpers/wait.ts';

const codec = codecFor<MetricSample>('metric-sample');

function gauge(i: number): MetricSample {
  return {
    name: 'test.flood',
    description: 'one series per label value',
    unit: '1',
    type: 'GAUGE',
    labels: { n: String(i) },
    seriesId: `flood-${i}`,
    stream: 'flooder/0',
    startTimeUnixNano: 1n,
    timeUnixNano: BigInt(Date.now()) * 1_000_000n,
    value: i,
    histogram: null,
    exemplars: [],
  };
}

describe('Prometheus sink', () => {
  let k: TestKafka;
  let sink: RunningSink | undefined;
  before(async () => {
    k = await testKafka('prometheus-sink');
    await k.createTopics();
  });
  after(async () => {
    await sink?.stop();
    await k.cleanup();
  });

  it('holds at most maxSeries series; samples of new series beyond are counted as overflow', async () => {
    const MAX = 100;
    const SENT = 250;
    const producer = k.kafka.producer();
    await producer.connect();
    await producer.send({
      topic: k.topic('metrics'),
      messages: Array.from({ length: SENT }, (_, i) => ({
        key: `flood-${i}`,
        value: codec.encode(gauge(i)),
      })),
    });
    await producer.disconnect();
    const address = `127.0.0.1:${await freePort()}`;
    const config = prometheusSinkSpec.parseWithEnv(
      {
        listen: address,
        warmupMs: 0,
        startFrom: 'earliest',
        maxSeries: MAX,
        lingerMs: 50,
        runtime: { maxWaitMs: 100 },
      },
      'sinks.prometheus',
      {},
    );
    sink = await startSink(prometheusSink, config, {
      kafka: k.kafka,
      topicPrefix: k.prefix,
      logger: testLogger,
      onStatus: () => {},
    });
    await sink.ready;
    const samples = await waitFor(
      'every sample taken in or counted',
      async () => {
        const res = await scrape(address);
        if (res.status !== 200) return false;
        const parsed = parseExposition(res.body);
        const results = parsed.filter((s) => s.name === 'meshpipe_prometheus_sink_samples_total');
        const total = results.reduce((sum, s) => sum + s.value, 0);
        return total >= SENT ? parsed : false;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const flood = samples.filter((s) => s.name === 'test_flood_ratio' || s.name === 'test_flood');
    assert.equal(flood.length, MAX, 'the first MAX series, no more');
    const result = (r: string) =>
      samples.find((s) => s.name === 'meshpipe_prometheus_sink_samples_total' && s.labels.result === r)
        ?.value;
    assert.equal(result('overflow'), SENT - MAX);
    assert.equal(result('applied'), MAX);
    assert.equal(samples.find((s) => s.name === 'meshpipe_prometheus_sink_series')?.value, MAX);
  });
});
