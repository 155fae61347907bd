/**
 * protocols/http2 end to end on real traffic without the kernel: @grpc/grpc-js and Node's http2
 * client and server talk through a recording TCP proxy; what each direction carried, chunk by chunk,
 * goes through the connection decoder (HPACK, redaction, gRPC counts) and the stream pairer, whole
 * and through the kernel's copy rule (capture-model.ts) with a small cap that elides DATA payloads.
 * test/bpf/h2-capture.test.ts does the same with the real kernel capture.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Server as GrpcServer } from '@grpc/grpc-js';
import { Http2ConnectionDecoder } from '../../../protocols/http2/connection-decoder.ts';
import { Http2StreamPairer } from '../../../protocols/http2/stream-pairer.ts';
import type { Http2CapturedEvent, Http2Exchange, Http2StreamEvent } from '../../../protocols/http2/types.ts';
import { runH2cClient, runScenario, startGrpcServer, startH2cServer } from '../../../testkit/grpc-service.ts';
import { captureDirection } from './capture-model.ts';
import { concat } from './fixtures.ts';

interface Chunk {
  toServer: boolean;
  bytes: Uint8Array;
}

/** A TCP proxy that records every chunk in the order it passed. */
async function recordingProxy(
  upstreamPort: number,
): Promise<{ port: number; chunks: Chunk[]; server: Server }> {
  const chunks: Chunk[] = [];
  const server = createServer((down: Socket) => {
    const up = tcpConnect(upstreamPort, '127.0.0.1');
    down.on('data', (d) => {
      chunks.push({ toServer: true, bytes: Uint8Array.from(d) });
      up.write(d);
    });
    up.on('data', (d) => {
      chunks.push({ toServer: false, bytes: Uint8Array.from(d) });
      down.write(d);
    });
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
    down.on('error', () => up.destroy());
    up.on('error', () => down.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { port, chunks, server };
}

/** The client's view: requests are egress. `cap` undefined: every chunk copied whole. */
function events(chunks: Chunk[], cap?: number): Http2CapturedEvent[] {
  if (cap === undefined) {
    return chunks.map((c) => ({
      direction: c.toServer ? 'egress' : 'ingress',
      role: 'client',
      copied: c.bytes,
      byteCount: c.bytes.length,
      elided: false,
      frameStart: false,
      truncated: false,
    }));
  }
  const perDirection = (toServer: boolean) => {
    const mine = chunks.filter((c) => c.toServer === toServer);
    const evs = captureDirection(
      concat(...mine.map((c) => c.bytes)),
      mine.map((c) => c.bytes.length),
      { cap, recordMax: 1024 },
    );
    // Group the model's events back by chunk (a chunk may become several records).
    const groups: Http2CapturedEvent[][] = [];
    let i = 0;
    for (const c of mine) {
      const group: Http2CapturedEvent[] = [];
      let n = 0;
      while (n < c.bytes.length) {
        const e = evs[i++]!;
        group.push({ ...e, direction: toServer ? 'egress' : 'ingress' });
        n += e.byteCount;
      }
      groups.push(group);
    }
    return groups;
  };
  const up = perDirection(true);
  const down = perDirection(false);
  const out: Http2CapturedEvent[] = [];
  for (const c of chunks) out.push(...(c.toServer ? up.shift()! : down.shift()!));
  return out;
}

function decode(evs: Http2CapturedEvent[]): { exchanges: Http2Exchange[]; stream: Http2StreamEvent[] } {
  const decoder = new Http2ConnectionDecoder('client');
  const pairer = new Http2StreamPairer();
  const exchanges: Http2Exchange[] = [];
  const stream: Http2StreamEvent[] = [];
  let ts = 1n;
  for (const e of evs) {
    for (const se of decoder.push(ts++, e)) {
      stream.push(se);
      exchanges.push(...pairer.push(se));
    }
  }
  for (const se of decoder.close(ts)) exchanges.push(...pairer.push(se));
  exchanges.push(...pairer.close(ts));
  return { exchanges, stream };
}

describe('HTTP/2 end to end through a recording proxy', () => {
  let grpcServer: GrpcServer;
  let grpcPort: number;

  before(async () => {
    grpcServer = await startGrpcServer('127.0.0.1:0');
    // grpc-js binds port 0 to a free port; ask it which.
    grpcPort = (
      grpcServer as unknown as { http2Servers: Map<{ address(): { port: number } }, unknown> }
    ).http2Servers
      .keys()
      .next()
      .value!.address().port;
  });

  after(() => {
    grpcServer?.forceShutdown();
  });

  test('gRPC: every call paired, named, with its status and exact message counts', async () => {
    const proxy = await recordingProxy(grpcPort);
    const summary = await runScenario(`127.0.0.1:${proxy.port}`, 'all');
    await new Promise((r) => setTimeout(r, 100));
    proxy.server.close();
    for (const cap of [undefined, 64]) {
      const { exchanges, stream } = decode(events(proxy.chunks, cap));
      assert.equal(stream.filter((e) => e.kind === 'gap').length, 0, `no gaps (cap ${cap})`);
      assert.equal(exchanges.length, summary.calls.length, `one exchange per call (cap ${cap})`);
      const byStream = exchanges.sort((a, b) => a.streamId - b.streamId);
      // The client's calls in order, for the sequential part (the 40 concurrent ones last).
      summary.calls.forEach((call, i) => {
        const x = byStream[i]!;
        assert.equal(x.grpc?.service, 'inventory.v1.Inventory', `call ${i}`);
        assert.equal(x.grpc?.method, call.method, `call ${i}`);
        assert.equal(x.method, 'POST');
        if (call.code === 1) {
          assert.equal(x.incompleteReason, 'reset', `cancelled call ${i}`);
          assert.equal(x.reset?.by, 'client');
          assert.equal(x.reset?.errorCode, 8);
        } else if (call.code === 4) {
          // The deadline passed: the client reset the stream, or the server answered DEADLINE_EXCEEDED.
          assert.ok(x.incompleteReason === 'reset' || x.grpc?.statusCode === 4, `deadline call ${i}`);
        } else {
          assert.equal(x.complete, true, `call ${i}: ${x.incompleteReason}`);
          assert.equal(x.grpc?.statusCode, call.code, `call ${i}`);
          assert.equal(x.grpc?.requestMessages, call.sent, `call ${i} sent`);
          assert.equal(x.grpc?.responseMessages, call.received, `call ${i} received`);
          assert.equal(x.grpc?.messagesExact, true);
          assert.equal(x.status, 200);
        }
      });
      const missing = byStream.find((x) => x.grpc?.statusCode === 5)!;
      assert.equal(missing.grpc?.message, 'no such sku: missing');
      // Large metadata: its block spans HEADERS + CONTINUATION, decoded whole, the secret redacted.
      const big = byStream.find((x) => x.request?.headers.some((f) => f.name === 'x-big'))!;
      assert.equal(big.request!.headers.find((f) => f.name === 'x-big')!.value!.length, 40_000);
      assert.equal(big.request!.headers.find((f) => f.name === 'authorization')!.value, '[REDACTED]');
      assert.equal(big.response!.trailers!.find((f) => f.name === 'x-big-echo')!.value!.length, 40_000);
      const headerEvents = stream.filter((e) => e.kind === 'headers');
      assert.ok(headerEvents.every((e) => e.kind === 'headers' && e.lost === null && e.unresolved === 0));
      assert.ok(
        !JSON.stringify(headerEvents, (_k, v) => (typeof v === 'bigint' ? 0 : v)).includes('secret-token'),
      );
    }
  });

  test('Node http2 (h2c): plain requests, query and cookie redacted', async () => {
    const server = await startH2cServer('127.0.0.1:0');
    const port = (server.address() as { port: number }).port;
    const proxy = await recordingProxy(port);
    const { statuses } = await runH2cClient(`127.0.0.1:${proxy.port}`, 5);
    await new Promise((r) => setTimeout(r, 100));
    proxy.server.close();
    server.close();
    assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
    const { exchanges } = decode(events(proxy.chunks));
    assert.equal(exchanges.length, 5);
    exchanges.forEach((x, i) => {
      assert.equal(x.complete, true);
      assert.equal(x.method, 'GET');
      assert.equal(x.path, `/hello?i=${i}&token=[REDACTED]`);
      assert.equal(x.status, 200);
      assert.equal(x.grpc, null);
      assert.equal(x.request!.headers.find((f) => f.name === 'cookie')!.value, '[REDACTED]');
      assert.equal(x.response!.headers.find((f) => f.name === 'set-cookie')!.value, '[REDACTED]');
      assert.equal(x.response!.dataBytes, 'hello world\n'.length);
    });
  });
});
