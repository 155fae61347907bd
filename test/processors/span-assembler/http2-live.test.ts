/**
 * HTTP/2 and gRPC through the whole pipeline: real traffic between network namespaces, captured by the
 * collector (real eBPF), produced to a real Kafka, assembled and linked (span-assembler, trace-linker)
 * and measured (red-metrics), all run by the processor host. Three clients:
 * - @grpc/grpc-js against a grpc-js server: every kind of call (unary, server/client streaming, bidi,
 *   an error status, a deadline, a cancel, 40 KB of metadata, 40 concurrent calls on one connection);
 * - Node's http2 module (h2c) with plain requests;
 * - Python grpcio (C-core's HTTP/2 and HPACK: a client no one here wrote) against the demo's gRPC server
 *   (orders → inventory's inventory.v1.Inventory).
 * What each client saw is the ground truth: one CLIENT and one SERVER span per call with its name,
 * status and message counts, each SERVER span the child of its own stream's CLIENT span, rpc.*.duration
 * counts equal to the calls, and no secret the clients sent anywhere in the raw topic.
 * Needs root (eBPF, namespaces) and a Kafka (scripts/test starts one).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Collector } from '../../../collectors/collector.ts';
import { type Demo, startDemo } from '../../../demo/topology.ts';
import type { ProcessorHost } from '../../../processors/runtime/host.ts';
import { topicCodec } from '../../../schemas/topic-codec.ts';
import { TOPICS } from '../../../schemas/topics.ts';
import type { MetricSample, Span } from '../../../schemas/types.ts';
import type { ScenarioSummary } from '../../../testkit/grpc-service.ts';
import { type Following, follow, type TestKafka, testKafka, testLogger } from '../../../testkit/kafka.ts';
import {
  createPodPair,
  type PodPair,
  podExec,
  requireRoot,
  startFixture,
  stopProcess,
} from '../../bpf/helpers/pods.ts';
import {
  collectorConfig,
  RawTopicReader,
  startCollector,
  testPort,
} from '../../collectors/helpers/harness.ts';
import { waitFor } from '../../helpers/wait.ts';
import { collectSpans, runHosts } from '../kafka-pipeline.ts';
import { redMetricsHost } from '../red-metrics/harness.ts';

requireRoot();

const FIXTURE = new URL('../../../testkit/grpc-service.ts', import.meta.url).pathname;
const PY_CLIENT = new URL('../../bpf/fixtures/grpc_client.py', import.meta.url).pathname;
const PYTHON = new URL('../../../.local/python/bin/python', import.meta.url).pathname;
const PY_CALLS = 20;
const H2C_REQUESTS = 8;
/** New orders through the demo: gateway → orders → inventory over HTTP, then over gRPC. */
const ORDERS = 5;
const SECRETS = ['secret-token-123', 'py-secret', 's3cr3t', 't0k3n'];

const lastJson = <T>(stdout: string): T => JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
const byStream = (a: Span, b: Span) =>
  Number(a.attributes['meshpipe.h2.stream_id']) - Number(b.attributes['meshpipe.h2.stream_id']);

/** Keeps the latest sample of every (series, stream) of the metrics topic. */
class MetricsReader {
  readonly latest = new Map<string, MetricSample>();
  #consumer: Following | undefined;

  async start(k: TestKafka): Promise<void> {
    const codec = topicCodec<MetricSample>(TOPICS.metrics);
    this.#consumer = await follow(k.kafka, {
      groupId: `${k.prefix}-metrics-reader`,
      topics: [k.topic('metrics')],
      eachMessage: async ({ message }) => {
        for (const s of codec.decodeRecord(message.value!)) this.latest.set(`${s.seriesId}/${s.stream}`, s);
      },
    });
  }

  /** Count (histograms) or value (counters) over every stream of the series matching `labels`. */
  total(name: string, labels: Record<string, string>): number {
    let n = 0;
    for (const s of this.latest.values()) {
      if (s.name !== name || !Object.entries(labels).every(([k, v]) => s.labels[k] === v)) continue;
      n += s.histogram === null ? s.value : Number(s.histogram.count);
    }
    return n;
  }

  async stop(): Promise<void> {
    await this.#consumer?.stop();
  }
}

describe('HTTP/2 and gRPC through the live pipeline', { timeout: 400_000 }, () => {
  let k: TestKafka;
  let pods: PodPair;
  let demo: Demo | undefined;
  let collector: Collector | undefined;
  let raw: RawTopicReader | undefined;
  const metrics = new MetricsReader();
  const hosts: ProcessorHost[] = [];
  const servers: ChildProcess[] = [];
  const grpcPort = testPort();
  const h2cPort = grpcPort + 1;
  let grpcJs: ScenarioSummary;
  let pyCodes: number[];
  let spans: Span[];

  const grpcJsSpans = (kind: 'CLIENT' | 'SERVER') =>
    spans
      .filter((s) => s.kind === kind && s.rpc !== null && s.connectionKey.includes(`:${grpcPort}`))
      .sort(byStream);
  /** gRPC spans of the demo: the Python client's calls, or orders' (`fromOrders`). */
  const demoGrpc = (kind: 'CLIENT' | 'SERVER', fromOrders: boolean) =>
    spans
      .filter(
        (s) =>
          s.kind === kind &&
          s.rpc !== null &&
          demo !== undefined &&
          s.local.pod?.startsWith(demo.prefix) &&
          (kind === 'CLIENT' ? s.local.service : s.peer.service)?.endsWith('orders') === fromOrders,
      )
      .sort(byStream);
  const pySpans = (kind: 'CLIENT' | 'SERVER') => demoGrpc(kind, false);

  before(async () => {
    k = await testKafka('h2-live');
    await k.createTopics();
    pods = createPodPair('h2live');
    const config = collectorConfig({
      brokers: k.brokers,
      prefix: k.prefix,
      collector: { ports: [grpcPort, h2cPort, 8080, 9090] },
    });
    const started = await startCollector(config);
    collector = started.collector;
    raw = await RawTopicReader.start(started.kafka, k.topic('raw'));
    hosts.push(...(await runHosts(k.kafka, k.prefix)));
    const red = redMetricsHost(k);
    hosts.push(red);
    await red.start();
    await metrics.start(k);
    servers.push(await startFixture(pods.b, FIXTURE, ['server', `0.0.0.0:${grpcPort}`]));
    servers.push(await startFixture(pods.b, FIXTURE, ['h2c-server', `0.0.0.0:${h2cPort}`]));

    grpcJs = lastJson<ScenarioSummary>(
      await podExec(
        pods.a,
        process.execPath,
        [FIXTURE, 'client', `${pods.b.addr}:${grpcPort}`, 'all'],
        60_000,
      ),
    );
    const { statuses } = lastJson<{ statuses: number[] }>(
      await podExec(pods.a, process.execPath, [
        FIXTURE,
        'h2c-client',
        `${pods.b.addr}:${h2cPort}`,
        String(H2C_REQUESTS),
      ]),
    );
    assert.deepEqual(statuses, Array(H2C_REQUESTS).fill(200));
    // No traceparent anywhere in the demo: its traces are linked by meshpipe alone.
    demo = await startDemo({
      rate: 0,
      unique: true,
      propagate: false,
      handleSignals: false,
      logger: testLogger,
    });
    for (let i = 0; i < ORDERS; i++) {
      const res = await fetch(`${demo.gatewayUrl}/api/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sku: `sku-${i + 1}`, quantity: 1 }),
      });
      assert.equal(res.status, 201);
    }
    const inventory = demo.pods.find((p) => p.name === 'inventory')!;
    const client = demo.pods.find((p) => p.name === 'client')!;
    pyCodes = lastJson<{ codes: number[] }>(
      await podExec(
        { ns: client.ns, addr: client.address, inode: 0 },
        PYTHON,
        [PY_CLIENT, `${inventory.address}:${inventory.grpcPort}`, String(PY_CALLS), 'sku-'],
        60_000,
      ),
    ).codes;
    assert.equal(pyCodes.length, PY_CALLS);

    const calls = grpcJs.calls.length;
    spans = await collectSpans(
      k,
      (got) => {
        spans = got;
        return (
          grpcJsSpans('CLIENT').length >= calls &&
          grpcJsSpans('SERVER').length >= calls &&
          got.filter((s) => s.connectionKey.includes(`:${h2cPort}`)).length >= 2 * H2C_REQUESTS &&
          pySpans('CLIENT').length >= PY_CALLS &&
          pySpans('SERVER').length >= PY_CALLS &&
          demoGrpc('SERVER', true).filter((s) => s.traceId !== '').length >= ORDERS
        );
      },
      120_000,
    );
  });

  after(async () => {
    // Each step bounded: a host that failed to start (a broker too loaded to create its topics in
    // time) must not keep the file from ending.
    const bounded = (p: Promise<unknown> | undefined) =>
      Promise.race([Promise.resolve(p).catch(() => {}), new Promise((r) => setTimeout(r, 30_000).unref())]);
    for (const s of servers) await stopProcess(s);
    await bounded(demo?.stop());
    await bounded(collector?.stop());
    await bounded(raw?.stop());
    await bounded(metrics.stop());
    await bounded(Promise.allSettled(hosts.map((h) => h.stop())));
    pods?.remove();
    await bounded(k?.cleanup());
  });

  it('grpc-js: every call has a CLIENT and a SERVER span, named, with its status and message counts', () => {
    const calls = grpcJs.calls;
    const clients = grpcJsSpans('CLIENT');
    const servers = grpcJsSpans('SERVER');
    assert.equal(clients.length, calls.length, 'one CLIENT span per call, no more');
    assert.equal(servers.length, calls.length, 'one SERVER span per call, no more');
    calls.forEach((call, i) => {
      for (const s of [clients[i]!, servers[i]!]) {
        const where = `${s.kind} span of call ${i} (${call.method}, code ${call.code})`;
        assert.equal(s.name, `inventory.v1.Inventory/${call.method}`, where);
        assert.equal(s.rpc?.system, 'grpc', where);
        assert.equal(s.http.protocolVersion, '2', where);
        if (call.code === 1 || call.code === 4) {
          assert.equal(s.status, 'ERROR', where);
          assert.ok(['CANCEL', 'DEADLINE_EXCEEDED'].includes(s.errorType ?? ''), `${where}: ${s.errorType}`);
        } else {
          assert.equal(s.rpc?.grpcStatusCode, call.code, where);
          assert.equal(s.rpc?.requestMessages, call.sent, where);
          assert.equal(s.rpc?.responseMessages, call.received, where);
          assert.equal(s.rpc?.messagesExact, true, where);
          assert.equal(s.status, call.code !== 0 && s.kind === 'CLIENT' ? 'ERROR' : 'UNSET', where);
        }
      }
      assert.equal(servers[i]!.parentSpanId, clients[i]!.spanId, `call ${i}: the server's parent`);
      assert.equal(servers[i]!.traceId, clients[i]!.traceId, `call ${i}: one trace`);
      assert.equal(servers[i]!.link.method, 'TCP_CONNECTION');
    });
  });

  it('Node h2c: plain requests are HTTP spans of version 2, each server span the child of its client span', () => {
    const h2c = spans.filter((s) => s.connectionKey.includes(`:${h2cPort}`));
    assert.equal(h2c.length, 2 * H2C_REQUESTS);
    for (const s of h2c) {
      assert.equal(s.rpc, null);
      assert.equal(s.name, 'GET /hello');
      assert.equal(s.http.statusCode, 200);
      assert.equal(s.http.protocolVersion, '2');
      assert.match(s.http.target, /^\/hello\?i=\d+&token=\[REDACTED\]$/);
    }
    for (const server of h2c.filter((s) => s.kind === 'SERVER')) {
      const client = h2c.find((s) => s.spanId === server.parentSpanId);
      assert.equal(client?.http.target, server.http.target);
    }
  });

  it("Python grpcio against the demo's gRPC server: the codes it got, paired by stream", () => {
    const clients = pySpans('CLIENT');
    const servers = pySpans('SERVER');
    assert.equal(clients.length, PY_CALLS);
    assert.equal(servers.length, PY_CALLS);
    pyCodes.forEach((code, i) => {
      for (const s of [clients[i]!, servers[i]!]) {
        assert.equal(s.name, 'inventory.v1.Inventory/Reserve');
        assert.equal(s.rpc?.grpcStatusCode, code, `${s.kind} call ${i}`);
        assert.match(s.http.userAgent ?? '', /^grpc-python/);
      }
      assert.ok(servers[i]!.local.pod?.endsWith('inventory'));
      assert.equal(servers[i]!.parentSpanId, clients[i]!.spanId);
      assert.equal(servers[i]!.peer.service, clients[i]!.local.service);
    });
    assert.ok(pyCodes.includes(0) && pyCodes.includes(5), 'found and unknown SKUs both');
  });

  it("the demo's gRPC hop without traceparent: one trace from the gateway to inventory's Reserve", () => {
    const reserves = demoGrpc('SERVER', true);
    assert.equal(reserves.length, ORDERS);
    for (const reserve of reserves) {
      const trace = spans.filter((s) => s.traceId === reserve.traceId);
      const by = (service: string, kind: string, grpc: boolean) =>
        trace.filter(
          (s) => s.local.service.endsWith(service) && s.kind === kind && (s.rpc !== null) === grpc,
        );
      const [call] = by('orders', 'CLIENT', true);
      const [ordersServer] = by('orders', 'SERVER', false);
      const [gatewayServer] = by('gateway', 'SERVER', false);
      assert.ok(
        call && ordersServer && gatewayServer,
        `the whole chain is one trace: ${trace.map((s) => s.name)}`,
      );
      assert.equal(
        reserve.parentSpanId,
        call.spanId,
        "Reserve on inventory: child of orders' call, over the connection",
      );
      assert.equal(reserve.link.method, 'TCP_CONNECTION');
      assert.equal(call.parentSpanId, ordersServer.spanId, "orders' call: child of the request it served");
      assert.equal(call.link.method, 'PROCESS_CAUSALITY');
      assert.equal(ordersServer.name, 'POST /orders');
      assert.equal(
        by('inventory', 'SERVER', false)[0]?.parentSpanId !== undefined,
        true,
        'the HTTP stock check too',
      );
    }
  });

  it('red-metrics: rpc.server.duration and rpc.client.duration count every call; edges between the pods', async () => {
    // A pod's service name is its network namespace's (no workload rule names it otherwise).
    const server = pods.b.ns;
    const client = pods.a.ns;
    const reserve = grpcJs.calls.filter((c) => c.method === 'Reserve');
    await waitFor(
      'rpc.*.duration of every grpc-js Reserve call',
      () =>
        metrics.total('rpc.server.duration', { 'service.name': server, 'rpc.method': 'Reserve' }) ===
          reserve.length &&
        metrics.total('rpc.client.duration', { 'service.name': client, 'rpc.method': 'Reserve' }) ===
          reserve.length,
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const notFound = reserve.filter((c) => c.code === 5).length;
    assert.equal(
      metrics.total('rpc.client.duration', {
        'service.name': client,
        'rpc.method': 'Reserve',
        'rpc.grpc.status_code': '5',
        'error.type': 'NOT_FOUND',
      }),
      notFound,
    );
    assert.equal(
      metrics.total('rpc.server.duration', { 'service.name': server, 'rpc.method': 'Watch' }),
      grpcJs.calls.filter((c) => c.method === 'Watch').length,
    );
    await waitFor(
      'the service-graph edge of every grpc-js call and h2c request',
      () =>
        metrics.total('traces.service_graph.request', { client, server }) ===
        grpcJs.calls.length + H2C_REQUESTS,
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  });

  it('no secret the clients sent reached Kafka (authorization, cookie, query token)', async () => {
    await raw!.waitFor('raw records', (r) => r.records.length > 0);
    const h2 = raw!.records.filter((r) => r.event.protocol === 'HTTP2');
    assert.ok(h2.length > 0, 'HTTP/2 events were produced');
    const bytes = new Set(raw!.records.map((r) => r.bytes));
    for (const b of bytes) for (const secret of SECRETS) assert.ok(!b.includes(secret), `${secret} leaked`);
    const redacted = h2
      .flatMap((r) => r.event.h2.flatMap((e) => e.fields))
      .filter((f) => f.name === 'authorization');
    assert.ok(redacted.length > 0 && redacted.every((f) => f.value === '[REDACTED]'));
  });
});
