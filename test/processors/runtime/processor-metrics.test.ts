import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UnitOfWork } from '../../../processors/runtime/partition-task.ts';
import { ProcessorMetrics } from '../../../processors/runtime/processor-metrics.ts';
import { seriesIdOf } from '../../../runtime/metric-definition.ts';

function work(consumed: number, produced: number): UnitOfWork {
  return {
    records: [],
    changes: new Map(),
    consumed: new Map([['in', consumed]]),
    produced: new Map([['out', produced]]),
    deadLetters: [{ topic: 'in', code: 'MESHPIPE_ERR_X' }],
    counts: new Map([['windows', 2]]),
    punctuateFailures: 0,
  };
}

describe('processor metrics', () => {
  it("publishes cumulative counters as samples of this instance's stream", async () => {
    const m = new ProcessorMetrics('p');
    m.committed(work(10, 4), true);
    m.committed(work(5, 1), true);
    m.aborted();
    const samples = await m.samples('processor/p/host-1', 123n, 1_000);
    const find = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    assert.equal(find('meshpipe.processor.records.consumed')?.value, 15);
    assert.equal(find('meshpipe.processor.records.produced')?.value, 5);
    assert.equal(find('meshpipe.processor.dead_letters', { code: 'MESHPIPE_ERR_X' })?.value, 2);
    assert.equal(find('meshpipe.processor.events', { name: 'windows' })?.value, 4);
    assert.equal(find('meshpipe.processor.transactions', { outcome: 'committed' })?.value, 2);
    assert.equal(find('meshpipe.processor.transactions', { outcome: 'aborted' })?.value, 1);
    const consumed = find('meshpipe.processor.records.consumed')!;
    assert.equal(consumed.stream, 'processor/p/host-1');
    assert.equal(consumed.startTimeUnixNano, 123n);
    assert.equal(consumed.timeUnixNano, 1_000_000_000n);
    assert.equal(consumed.seriesId, seriesIdOf(consumed.name, consumed.labels));
    assert.deepEqual(m.totals(), { consumed: 15, produced: 5, deadLetters: 2, lost: 0 });
  });

  it('turns Prometheus cumulative buckets into explicit-bucket histograms', async () => {
    const m = new ProcessorMetrics('p');
    for (const seconds of [0.000_003, 0.000_003, 0.002, 5]) m.handlerCall('process', seconds);
    const [h] = (await m.samples('s', 0n, 0)).filter((s) => s.name === 'meshpipe.processor.handler.duration');
    assert.ok(h?.histogram);
    assert.equal(h.histogram.count, 4n);
    assert.equal(h.histogram.bounds.length + 1, h.histogram.bucketCounts.length);
    assert.equal(h.histogram.bucketCounts[0], 2n, 'both 3 µs calls in the first bucket');
    assert.equal(h.histogram.bucketCounts.at(-1), 1n, '5 s beyond the last bound');
    assert.equal(
      h.histogram.bucketCounts.reduce((a, b) => a + b, 0n),
      4n,
    );
    assert.ok(Math.abs(h.histogram.sum - 5.002_006) < 1e-9);
  });

  it('exposes the same series to Prometheus, and forgets a partition that left', async () => {
    const m = new ProcessorMetrics('p');
    m.state(3, { keys: 7, bytes: 700 });
    m.lag('in', 3, 12);
    assert.match(await m.exposition(), /meshpipe_processor_state_keys\{processor="p",partition="3"\} 7/);
    m.forgetPartition(3, ['in']);
    const text = await m.exposition();
    assert.doesNotMatch(text, /partition="3"/);
  });

  it('derives the series id from name and labels, whatever their order', () => {
    assert.equal(seriesIdOf('n', { a: '1', b: '2' }), seriesIdOf('n', { b: '2', a: '1' }));
    assert.notEqual(seriesIdOf('n', { a: '1' }), seriesIdOf('n', { a: '2' }));
  });
});
