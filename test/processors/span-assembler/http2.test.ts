/**
 * HTTP/2 through the collector's raw-event builder and the span chain (span-assembler → trace-linker,
 * in memory), on real traffic: @grpc/grpc-js and Node's http2 client and server talk through a
 * recording proxy, and each end's loader records (the kernel's copy rule applied to what the proxy saw)
 * go through RawEventBuilder on two nodes. The spans must follow the RPC conventions for gRPC and the
 * HTTP ones for plain h2, and each SERVER span must be the child of the CLIENT span of its own stream —
 * by W3C traceparent metadata when the client sent it, over the connection by stream id otherwise.
 * The live version (real eBPF, Kafka, red-metrics) is http2-live.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Server as GrpcServer } from '@grpc/grpc-js';
import { CgroupDirectory } from '../../../collectors/build/identity/cgroup-directory.ts';
import { IdentityResolver } from '../../../collectors/build/identity/identity-resolver.ts';
import { NetnsNames } from '../../../collectors/build/identity/netns-names.ts';
import { ProcessTable } from '../../../collectors/build/identity/process-table.ts';
import { WorkloadRules } from '../../../collectors/build/identity/workload-rules.ts';
import { RawEventBuilder } from '../../../collectors/build/raw-event-builder.ts';
import type { LoaderRecord } from '../../../collectors/capture/loader/record-decoder.ts';
import { newCaptureCounters } from '../../../collectors/capture-counters.ts';
import { DEFAULT_REDACTION_POLICY } from '../../../protocols/http1/redact.ts';
import type { L7RawEvent, Span } from '../../../schemas/types.ts';
import {
  runH2cClient,
  runScenario,
  type ScenarioSummary,
  startGrpcServer,
  startH2cServer,
} from '../../../testkit/grpc-service.ts';
import { type Chunk, loaderRecords, READY, recordingProxy, statsAt } from '../../helpers/h2-recording.ts';
import { runChain } from '../pipeline.ts';

/** One end's records through a collector of its own node, naming every process `service`. */
export function collect(records: readonly LoaderRecord[], node: string, service: string): L7RawEvent[] {
  const events: L7RawEvent[] = [];
  const builder = new RawEventBuilder({
    node,
    identity: new IdentityResolver({
      processes: new ProcessTable(),
      netns: new NetnsNames({ dir: '/nonexistent', hostInode: null }),
      cgroups: new CgroupDirectory({ root: null }),
      rules: new WorkloadRules([{ pod: null, comm: '*', port: 0, workload: null, service, namespace: null }]),
      namespace: null,
      self: { pids: new Set(), parentOfOurs: null },
    }),
    redaction: DEFAULT_REDACTION_POLICY,
    shipBodies: false,
    maxConnections: 64,
    counters: newCaptureCounters(),
    emit: (event) => events.push(event),
  });
  const last = records.reduce((t, r) => ('timestampNs' in r && r.timestampNs > t ? r.timestampNs : t), 0n);
  builder.push([READY, ...records, statsAt(last + 1n)]);
  builder.endRun();
  return events;
}

/** Both ends of every recorded connection: the client on node-a (orders), the server on node-b (inventory). */
function bothEnds(chunks: readonly Chunk[], cap?: number): L7RawEvent[] {
  const connections = new Set(chunks.map((c) => c.connection));
  const client: LoaderRecord[] = [];
  const server: LoaderRecord[] = [];
  for (const c of connections) {
    const o = cap === undefined ? {} : { cap };
    client.push(...loaderRecords(chunks, c, { end: 'client', connId: 100 + c, ...o }));
    server.push(...loaderRecords(chunks, c, { end: 'server', connId: 200 + c, ...o }));
  }
  return [...collect(client, 'node-a', 'orders'), ...collect(server, 'node-b', 'inventory')];
}

function grpcPortOf(server: GrpcServer): number {
  return (server as unknown as { http2Servers: Map<{ address(): { port: number } }, unknown> }).http2Servers
    .keys()
    .next()
    .value!.address().port;
}

const byStream = (a: Span, b: Span) =>
  Number(a.attributes['meshpipe.h2.stream_id']) - Number(b.attributes['meshpipe.h2.stream_id']);

describe('HTTP/2 spans from real traffic', () => {
  let grpcServer: GrpcServer;
  let grpcPort: number;
  let all: { summary: ScenarioSummary; chunks: Chunk[] };

  before(async () => {
    grpcServer = await startGrpcServer('127.0.0.1:0');
    grpcPort = grpcPortOf(grpcServer);
    const proxy = await recordingProxy(grpcPort);
    const summary = await runScenario(`127.0.0.1:${proxy.port}`, 'all');
    await new Promise((r) => setTimeout(r, 100));
    await proxy.close();
    all = { summary, chunks: proxy.chunks };
  });

  after(() => {
    grpcServer?.forceShutdown();
  });

  for (const cap of [undefined, 64]) {
    test(`gRPC: one CLIENT and one SERVER span per call, RPC conventions, paired by stream (cap ${cap ?? 4096})`, () => {
      const { spans } = runChain(bothEnds(all.chunks, cap));
      const calls = all.summary.calls;
      const clients = spans.filter((s) => s.kind === 'CLIENT').sort(byStream);
      const servers = spans.filter((s) => s.kind === 'SERVER').sort(byStream);
      assert.equal(clients.length, calls.length, 'a CLIENT span per call');
      assert.equal(servers.length, calls.length, 'a SERVER span per call');
      calls.forEach((call, i) => {
        for (const s of [clients[i]!, servers[i]!]) {
          const where = `${s.kind} span of call ${i} (${call.method}, code ${call.code})`;
          assert.equal(s.name, `inventory.v1.Inventory/${call.method}`, where);
          assert.equal(s.rpc?.system, 'grpc', where);
          assert.equal(s.rpc?.service, 'inventory.v1.Inventory', where);
          assert.equal(s.rpc?.method, call.method, where);
          assert.equal(s.http.protocolVersion, '2', where);
          assert.equal(s.local.service, s.kind === 'CLIENT' ? 'orders' : 'inventory', where);
          assert.equal(s.peer.service, s.kind === 'CLIENT' ? 'inventory' : 'orders', where);
          if (call.code === 1) {
            // Cancelled: the client reset the stream.
            assert.equal(s.status, 'ERROR', where);
            assert.equal(s.errorType, 'CANCEL', where);
            assert.equal(s.rpc?.grpcStatusCode, null, where);
          } else if (call.code === 4) {
            // The deadline passed: the client reset the stream, or the server answered DEADLINE_EXCEEDED.
            assert.equal(s.status, 'ERROR', where);
            assert.ok(s.errorType === 'CANCEL' || s.errorType === 'DEADLINE_EXCEEDED', where);
          } else {
            assert.equal(s.rpc?.grpcStatusCode, call.code, where);
            assert.equal(s.incomplete, false, where);
            assert.equal(s.rpc?.requestMessages, call.sent, where);
            assert.equal(s.rpc?.responseMessages, call.received, where);
            // NOT_FOUND is the caller's problem: an error for the client, not for the server.
            const error = call.code !== 0 && s.kind === 'CLIENT';
            assert.equal(s.status, error ? 'ERROR' : 'UNSET', where);
            assert.equal(s.errorType, error ? 'NOT_FOUND' : null, where);
          }
        }
        // No traceparent: the server span is the child of the client span of the same stream.
        assert.equal(servers[i]!.parentSpanId, clients[i]!.spanId, `call ${i}: parent over the connection`);
        assert.equal(servers[i]!.link.method, 'TCP_CONNECTION');
        assert.equal(servers[i]!.traceId, clients[i]!.traceId, `call ${i}: one trace`);
      });
      assert.ok(
        clients.some((s) => s.statusMessage === 'no such sku: missing'),
        'grpc-message is the status message',
      );
    });
  }

  test('gRPC with traceparent metadata: the header links, its ids are kept', async () => {
    const proxy = await recordingProxy(grpcPort);
    const summary = await runScenario(`127.0.0.1:${proxy.port}`, 'traced');
    await new Promise((r) => setTimeout(r, 100));
    await proxy.close();
    const { spans } = runChain(bothEnds(proxy.chunks));
    assert.equal(spans.length, 2 * summary.calls.length);
    for (const call of summary.calls) {
      const [, traceId, parentId] = call.traceparent!.split('-');
      const client = spans.find((s) => s.kind === 'CLIENT' && s.spanId === parentId);
      const server = spans.find((s) => s.kind === 'SERVER' && s.parentSpanId === parentId);
      assert.ok(client, `the CLIENT span is the one the traceparent names (${parentId})`);
      assert.ok(server, 'the SERVER span is its child');
      assert.equal(client.traceId, traceId);
      assert.equal(server.traceId, traceId);
      assert.equal(server.link.method, 'TRACEPARENT');
    }
  });

  test('600 calls in flight on one connection: every call paired when they fit maxLogEntries; past it only the oldest end early', async () => {
    const proxy = await recordingProxy(grpcPort);
    const summary = await runScenario(`127.0.0.1:${proxy.port}`, 'burst');
    await new Promise((r) => setTimeout(r, 100));
    await proxy.close();
    const n = summary.calls.length;
    assert.ok(
      summary.calls.every((c) => c.code === 0),
      'every call succeeded for the client',
    );
    const events = bothEnds(proxy.chunks);
    // Room for every stream: each call is a CLIENT and a SERVER span, complete and paired.
    const roomy = runChain(events, { assembler: { maxLogEntries: 1024 } });
    assert.equal(roomy.spans.length, 2 * n);
    assert.ok(
      roomy.spans.every((s) => s.rpc?.grpcStatusCode === 0 && !s.incomplete),
      'every span complete with its status',
    );
    assert.equal(roomy.outputs.filter((o) => o.topic.endsWith('.dlq.v1')).length, 0, 'nothing dead-lettered');
    // The default bound (512 open streams a side): at most the excess ends early, not every open call.
    const bounded = runChain(events);
    assert.equal(bounded.spans.length, 2 * n, 'a span for every call on each side, none lost');
    const complete = bounded.spans.filter((s) => !s.incomplete && s.rpc?.grpcStatusCode === 0).length;
    assert.ok(complete >= 2 * 512, `${complete} of ${2 * n} spans complete`);
  });

  test('Node http2 (h2c): plain requests are HTTP spans, version 2, query redacted', async () => {
    const h2c = await startH2cServer('127.0.0.1:0');
    const port = (h2c.address() as { port: number }).port;
    const proxy = await recordingProxy(port);
    const { statuses } = await runH2cClient(`127.0.0.1:${proxy.port}`, 6);
    await new Promise((r) => setTimeout(r, 100));
    await proxy.close();
    await new Promise<void>((resolve) => h2c.close(() => resolve()));
    assert.deepEqual(statuses, Array(6).fill(200));
    const { spans } = runChain(bothEnds(proxy.chunks));
    assert.equal(spans.length, 12);
    for (const s of spans) {
      assert.equal(s.rpc, null);
      assert.equal(s.name, 'GET /hello');
      assert.equal(s.http.method, 'GET');
      assert.equal(s.http.path, '/hello');
      assert.match(s.http.target, /^\/hello\?i=\d&token=\[REDACTED\]$/);
      assert.equal(s.http.statusCode, 200);
      assert.equal(s.http.protocolVersion, '2');
      assert.equal(s.http.responseBodySize, 12n);
      assert.equal(s.status, 'UNSET');
    }
    for (const server of spans.filter((s) => s.kind === 'SERVER')) {
      const client = spans.find((s) => s.spanId === server.parentSpanId);
      assert.equal(client?.kind, 'CLIENT');
      assert.equal(client?.http.target, server.http.target, 'each server span claims its own stream');
    }
  });
});
