/**
 * Metric values equal the ground truth, end to end on a real broker: generated spans (known durations
 * and statuses) → red-metrics run by the processor host → the metrics topic → the Prometheus sink run by
 * the sink host → a scrape of /metrics. Request and error counts and every histogram bucket must be
 * exact — also after red-metrics restarts and runs as two instances, and after the sink restarts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ProcessorHost } from '../../../processors/runtime/host.ts';
import type { RunningSink } from '../../../sinks/runtime/host.ts';
import { type TestKafka, testKafka } from '../../../testkit/kafka.ts';
import { freePort, parseExposition, scrape } from '../../helpers/prometheus.ts';
import { waitFor } from '../../helpers/wait.ts';
import { FAST_RED_METRICS, prometheusSinkFor, redMetricsHost } from './harness.ts';
import {
  COUNTED_FAMILIES,
  demoSpans,
  type Expected,
  expectedSamples,
  produceSpans,
  scrapedSamples,
} from './workload.ts';

function diff(expected: Expected, actual: Expected): string[] {
  const problems: string[] = [];
  for (const [k, v] of expected)
    if (actual.get(k) !== v) problems.push(`${k}: expected ${v}, got ${actual.get(k)}`);
  for (const k of actual.keys()) if (!expected.has(k)) problems.push(`${k}: not expected (${actual.get(k)})`);
  return problems;
}

/** Waits until the scrape matches the ground truth exactly; fails with the differences. */
async function expectExact(address: string, expected: Expected, what: string): Promise<void> {
  let last: string[] = [];
  try {
    await waitFor(
      what,
      async () => {
        const res = await scrape(address);
        if (res.status !== 200) return false;
        last = diff(expected, scrapedSamples(parseExposition(res.body), COUNTED_FAMILIES));
        return last.length === 0;
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    );
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\n${last.slice(0, 20).join('\n')}\n(${last.length} differences)`,
    );
  }
}

describe('red-metrics → Prometheus sink: ground truth', () => {
  let k: TestKafka;
  const hosts: ProcessorHost[] = [];
  let sink: RunningSink | undefined;

  before(async () => {
    k = await testKafka('red-metrics-truth');
    await k.createTopics();
  });
  after(async () => {
    await Promise.allSettled(hosts.map((h) => h.stop()));
    await sink?.stop();
    await k.cleanup();
  });

  it('counts, errors and buckets are exact, across restarts and instances of both sides', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const batch1 = demoSpans(400, { endMs: Date.now(), firstSeq: 0, seed: 1 });
    await produceSpans(k.kafka, k.topic('spans'), batch1);
    const first = redMetricsHost(k);
    hosts.push(first);
    await first.start();
    sink = await prometheusSinkFor(k, address);
    const truth1 = expectedSamples(batch1);
    assert.ok(
      [...truth1.keys()].some((key) => key.includes('error_type=502')),
      'the workload has server errors',
    );
    await expectExact(address, truth1, 'the first batch, exactly');

    // red-metrics restarts and comes back as two instances sharing the partitions: the streams keep
    // their cumulative values (state from the changelog), so nothing is lost or counted twice.
    await first.stop();
    const batch2 = demoSpans(300, { endMs: Date.now(), firstSeq: 100_000, seed: 2 });
    await produceSpans(k.kafka, k.topic('spans'), batch2);
    const pair = [redMetricsHost(k, FAST_RED_METRICS, 'b'), redMetricsHost(k, FAST_RED_METRICS, 'c')];
    hosts.push(...pair);
    await Promise.all(pair.map((h) => h.start()));
    const truth2 = expectedSamples([...batch1, ...batch2]);
    await expectExact(address, truth2, 'both batches, exactly, after the restart');

    // The sink restarts (new process state, same consumer group): after its warm-up every stream has
    // re-sent its cumulative values, and the scrape is whole again, never lower than before.
    await sink.stop();
    sink = await prometheusSinkFor(k, address, 2_500);
    const during = await scrape(address);
    assert.equal(during.status, 503, 'no partial sums while warming up');
    await expectExact(address, truth2, 'both batches, exactly, after the sink restarted');

    // OpenMetrics carries exemplars with trace ids of the workload.
    const om = await scrape(address, 'application/openmetrics-text;version=1.0.0');
    assert.match(om.type, /^application\/openmetrics-text; version=1\.0\.0/);
    const traceIds = new Set([...batch1, ...batch2].map((s) => s.traceId));
    const exemplarIds = [...om.body.matchAll(/# \{trace_id="([0-9a-f]{32})",span_id="[0-9a-f]{16}"\}/g)].map(
      (m) => m[1]!,
    );
    assert.ok(exemplarIds.length > 10, `${exemplarIds.length} exemplars`);
    for (const id of exemplarIds) assert.ok(traceIds.has(id), `exemplar trace ${id} is from the workload`);
    assert.ok(om.body.endsWith('# EOF\n'));
  });
});
