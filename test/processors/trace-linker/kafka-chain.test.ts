/**
 * span-assembler and trace-linker on a real broker, run by the processor host (consumer groups,
 * transactions, changelog state): a recorded-style raw event stream of two 3-service chains, one with
 * traceparent headers and one without, captured on two nodes, is produced to a test-prefixed raw
 * topic; the spans topic must end up holding two complete traces of the right shape.
 *
 * With the collector in place, the end-to-end test is this one with the produced events replaced by
 * real eBPF capture of the demo chain: `runHosts` and `collectSpans` (../kafka-pipeline.ts) are the
 * reusable parts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ProcessorHost } from '../../../processors/runtime/host.ts';
import { codecFor } from '../../../schemas/codec.ts';
import type { L7RawEvent, Span } from '../../../schemas/types.ts';
import { type TestKafka, testKafka } from '../../../testkit/kafka.ts';
import { collectSpans, runHosts } from '../kafka-pipeline.ts';
import { TRACE_ID, threeServiceChain } from '../scenarios.ts';

describe('span-assembler → trace-linker on Kafka', () => {
  let k: TestKafka;
  let hosts: ProcessorHost[] = [];
  before(async () => {
    k = await testKafka('trace-chain');
    await k.createTopics();
  });
  after(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
    await k.cleanup();
  });

  test('two 3-service chains across two nodes become two complete traces', { timeout: 180_000 }, async () => {
    hosts = await runHosts(k.kafka, k.prefix);
    const nodes = { gateway: 'node-a', orders: 'node-b', inventory: 'node-a' };
    const events: L7RawEvent[] = [
      ...threeServiceChain({ nodes }).events,
      ...threeServiceChain({ nodes, traceparent: true, instance: 1, offset: 50_000_000n }).events,
    ].sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : 1));
    const producer = k.kafka.producer();
    await producer.connect();
    const raw = codecFor<L7RawEvent>('l7-raw-event');
    await producer.send({
      topic: k.topic('raw'),
      messages: events.map((ev) => ({ key: ev.connection.key, value: raw.encode(ev) })),
    });
    await producer.disconnect();

    const spans = await collectSpans(k, (s) => s.length >= 10);
    assert.equal(spans.length, 10, 'five spans per chain, each once');
    const traces = new Map<string, Span[]>();
    for (const s of spans) traces.set(s.traceId, [...(traces.get(s.traceId) ?? []), s]);
    assert.equal(traces.size, 2);
    assert.ok(traces.has(TRACE_ID), 'the traceparent chain keeps its trace id');
    for (const trace of traces.values()) {
      const by = (service: string, kind: string) =>
        trace.find((s) => s.local.service === service && s.kind === kind)!;
      assert.equal(trace.length, 5);
      assert.equal(by('gateway', 'CLIENT').parentSpanId, by('gateway', 'SERVER').spanId);
      assert.equal(by('orders', 'SERVER').parentSpanId, by('gateway', 'CLIENT').spanId);
      assert.equal(by('orders', 'CLIENT').parentSpanId, by('orders', 'SERVER').spanId);
      assert.equal(by('inventory', 'SERVER').parentSpanId, by('orders', 'CLIENT').spanId);
      for (const s of trace) assert.equal(s.incomplete, false);
    }
    const plain = [...traces.values()].find((t) => t[0]!.traceId !== TRACE_ID)!;
    assert.equal(
      plain.find((s) => s.local.service === 'orders' && s.kind === 'SERVER')!.link.method,
      'TCP_CONNECTION',
    );
  });
});
