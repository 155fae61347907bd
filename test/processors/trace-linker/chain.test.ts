/**
 * Linking over whole call chains: raw events through span-assembler and trace-linker (in memory,
 * partitioned as on Kafka), spans read from the spans topic.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TOPICS } from '../../../schemas/topics.ts';
import type { Span, TraceLinkingEvent } from '../../../schemas/types.ts';
import { partitionOf, runChain } from '../pipeline.ts';
import {
  GATEWAY_CALL_SPAN,
  ORDERS_CALL_SPAN,
  OUTSIDE_SPAN,
  TRACE_ID,
  threeServiceChain,
} from '../scenarios.ts';

function find(spans: Span[], service: string, kind: 'SERVER' | 'CLIENT'): Span {
  const found = spans.filter((s) => s.local.service === service && s.kind === kind);
  assert.equal(found.length, 1, `one ${kind} span of ${service}, got ${found.length}`);
  return found[0]!;
}

/** The five spans of the chain, checked to form one trace with the expected shape. */
function chainShape(spans: Span[]) {
  assert.equal(
    spans.length,
    5,
    `five spans, got ${spans.map((s) => `${s.local.service}/${s.kind}`).join(', ')}`,
  );
  const s = {
    gatewayServer: find(spans, 'gateway', 'SERVER'),
    gatewayClient: find(spans, 'gateway', 'CLIENT'),
    ordersServer: find(spans, 'orders', 'SERVER'),
    ordersClient: find(spans, 'orders', 'CLIENT'),
    inventoryServer: find(spans, 'inventory', 'SERVER'),
  };
  assert.equal(new Set(spans.map((x) => x.traceId)).size, 1, 'one trace');
  assert.equal(new Set(spans.map((x) => x.spanId)).size, 5, 'distinct span ids');
  assert.equal(s.gatewayClient.parentSpanId, s.gatewayServer.spanId);
  assert.equal(s.ordersServer.parentSpanId, s.gatewayClient.spanId);
  assert.equal(s.ordersClient.parentSpanId, s.ordersServer.spanId);
  assert.equal(s.inventoryServer.parentSpanId, s.ordersClient.spanId);
  for (const x of spans) assert.match(x.traceId, /^[0-9a-f]{32}$/);
  return s;
}

/** Two node names whose linker partitions differ (so the cross-node path really crosses). */
function nodesOnDifferentPartitions(): [string, string] {
  const count = TOPICS.linking.partitions;
  const a = 'node-a';
  for (let i = 0; i < 100; i++) {
    const b = `node-b${i === 0 ? '' : i}`;
    if (partitionOf(b, count) !== partitionOf(a, count)) return [a, b];
  }
  throw new Error('no two node names on different partitions');
}

describe('trace linking: a 3-service chain', () => {
  test('without traceparent: one trace through TCP_CONNECTION and PROCESS_CAUSALITY links', () => {
    const { spans, outputs } = runChain(threeServiceChain().events);
    const s = chainShape(spans);
    assert.equal(
      s.gatewayServer.parentSpanId,
      null,
      'the outside caller is not captured: gateway is the root',
    );
    assert.equal(s.gatewayServer.link.method, 'NONE');
    assert.equal(s.gatewayClient.link.method, 'PROCESS_CAUSALITY');
    assert.equal(s.ordersServer.link.method, 'TCP_CONNECTION');
    assert.equal(s.ordersClient.link.method, 'PROCESS_CAUSALITY');
    assert.equal(s.inventoryServer.link.method, 'TCP_CONNECTION');
    for (const x of [s.gatewayClient, s.ordersServer, s.ordersClient, s.inventoryServer]) {
      assert.ok(x.link.confidence >= 0.9, `${x.local.service}/${x.kind} confidence ${x.link.confidence}`);
    }
    assert.deepEqual(
      [s.ordersServer.peer.service, s.gatewayClient.peer.service, s.inventoryServer.peer.service],
      ['gateway', 'orders', 'orders'],
    );
    // Keyed by trace id on the public topic.
    for (const o of outputs.filter((x) => x.topic.endsWith('.spans.v2'))) {
      assert.equal(o.key, (o.value as Span).traceId);
    }
    assert.equal(outputs.filter((o) => o.deadLetter).length, 0);
  });

  test('with traceparent: one trace T, TRACEPARENT links with the exact parent ids', () => {
    const { spans } = runChain(threeServiceChain({ traceparent: true }).events);
    const s = chainShape(spans);
    assert.equal(s.gatewayServer.traceId, TRACE_ID);
    assert.equal(s.gatewayServer.parentSpanId, OUTSIDE_SPAN);
    assert.equal(s.gatewayServer.link.method, 'TRACEPARENT');
    assert.equal(s.gatewayServer.link.confidence, 1);
    assert.equal(
      s.gatewayClient.spanId,
      GATEWAY_CALL_SPAN,
      "a CLIENT span's id is its traceparent's parent-id",
    );
    assert.equal(s.ordersServer.parentSpanId, GATEWAY_CALL_SPAN);
    assert.equal(s.ordersServer.link.method, 'TRACEPARENT');
    assert.equal(s.ordersClient.spanId, ORDERS_CALL_SPAN);
    assert.equal(s.inventoryServer.parentSpanId, ORDERS_CALL_SPAN);
    assert.equal(s.inventoryServer.link.method, 'TRACEPARENT');
    assert.equal(s.gatewayClient.link.method, 'PROCESS_CAUSALITY');
  });

  test('across nodes: the trace id flows between linker partitions through the linking topic', () => {
    const [a, b] = nodesOnDifferentPartitions();
    const { spans, outputs } = runChain(
      threeServiceChain({ nodes: { gateway: a, orders: a, inventory: b } }).events,
    );
    const s = chainShape(spans);
    assert.equal(s.inventoryServer.local.node, b);
    assert.equal(s.inventoryServer.link.method, 'TCP_CONNECTION');
    const linking = outputs
      .filter((o) => o.topic.endsWith(`.${TOPICS.linking.suffix}`))
      .map((o) => ({ key: o.key, value: o.value as TraceLinkingEvent, partition: o.partition }));
    const asks = linking.filter((l) => l.value.kind === 'RESOLVE_REQUEST');
    const answers = linking.filter((l) => l.value.kind === 'RESOLVED');
    assert.equal(asks.length, 1, 'inventory asks node a for the trace of orders’ call');
    assert.deepEqual(
      [asks[0]!.key, asks[0]!.value.spanId, asks[0]!.value.replyTo],
      [a, s.ordersClient.spanId, b],
    );
    assert.equal(answers.length, 1);
    assert.deepEqual([answers[0]!.key, answers[0]!.value.traceId], [b, s.gatewayServer.traceId]);
    assert.notEqual(asks[0]!.partition, answers[0]!.partition);
  });

  test('across nodes at every hop, with traceparent and without', () => {
    const [a, b] = nodesOnDifferentPartitions();
    for (const traceparent of [false, true]) {
      const { spans } = runChain(
        threeServiceChain({ traceparent, nodes: { gateway: a, orders: b, inventory: a } }).events,
      );
      chainShape(spans);
    }
  });

  test('ten chains at once on one process set: ten traces, none mixed', () => {
    const events = [];
    for (let i = 0; i < 10; i++)
      events.push(...threeServiceChain({ offset: BigInt(i) * 20_000_000n, instance: i }).events);
    const { spans } = runChain(events);
    assert.equal(spans.length, 50);
    const traces = new Map<string, Span[]>();
    for (const s of spans) traces.set(s.traceId, [...(traces.get(s.traceId) ?? []), s]);
    assert.equal(traces.size, 10);
    for (const t of traces.values()) chainShape(t);
  });
});
