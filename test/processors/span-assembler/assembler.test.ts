import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { jsonStateCodec } from '../../../processors/runtime/state-codec.ts';
import type { StateStore } from '../../../processors/runtime/state-store.ts';
import { deterministicSpanId } from '../../../processors/shared/span-ids.ts';
import type { ConnState } from '../../../processors/span-assembler/state.ts';
import type { L7RawEvent, Span } from '../../../schemas/types.ts';
import {
  CHUNKED_RESPONSE_HEAD,
  CONNECT_REQUEST,
  GET_A,
  GET_B,
  GET_C,
  HEAD_REQUEST,
  POST_EXPECT_CONTINUE_HEAD,
  POST_JSON,
  RESPONSE_100_CONTINUE,
  RESPONSE_101_WEBSOCKET,
  RESPONSE_200_A,
  RESPONSE_200_B,
  RESPONSE_200_C,
  RESPONSE_200_HELLO,
  RESPONSE_201_CREATED,
  RESPONSE_204,
  RESPONSE_304,
  RESPONSE_CONNECT_200,
  RESPONSE_HEAD_1234,
  TLS_CLIENT_HELLO,
  UPGRADE_WEBSOCKET,
  UPLOAD_BODY_10,
  WEBSOCKET_FRAME,
} from '../../protocols/http1/fixtures.ts';
import { Connection, type Endpoint, MS, T0, US } from '../raw-events.ts';
import {
  type AssemblerTest,
  assembleAll,
  assemblerContext,
  byTime,
  feed,
  takeSpans,
  tick,
} from './helpers.ts';

// --- named wire fixtures of this suite ------------------------------------------------------------

const GET_USER_42 = 'GET /users/42 HTTP/1.1\r\nHost: orders:8080\r\nUser-Agent: curl/8.5.0\r\n\r\n';
const RESPONSE_USER_42 =
  'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"id":"42"}';
const RESPONSE_500 = 'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n';
const RESPONSE_404 = 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n';
const GET_ITEM = (n: number) => `GET /items/${n} HTTP/1.1\r\nHost: inventory\r\n\r\n`;
const PURGE = 'PURGE /cache/users/42 HTTP/1.1\r\nHost: cache\r\n\r\n';

const GATEWAY: Endpoint = {
  node: 'node-a',
  pid: 100,
  tid: 101,
  service: 'gateway',
  address: '10.0.0.1',
  port: 40001,
};
const ORDERS: Endpoint = {
  node: 'node-b',
  pid: 200,
  tid: 201,
  service: 'orders',
  address: '10.0.0.2',
  port: 8080,
};

function one(spans: Span[], kind: 'CLIENT' | 'SERVER'): Span {
  const found = spans.filter((s) => s.kind === kind);
  assert.equal(found.length, 1, `one ${kind} span, got ${found.length}`);
  return found[0]!;
}

describe('span-assembler: one exchange', () => {
  test('both sides captured: a CLIENT and a SERVER span, TCP-linked, with exact times and identities', () => {
    const c = new Connection(GATEWAY, ORDERS);
    const [ce, se] = c.exchange(T0, GET_USER_42, RESPONSE_USER_42, { latency: 3n * MS });
    const { spans, out } = assembleAll(byTime(ce, se));
    assert.equal(spans.length, 2);
    const client = one(spans, 'CLIENT');
    const server = one(spans, 'SERVER');

    assert.equal(client.name, 'GET /users/{id}');
    assert.equal(client.http.method, 'GET');
    assert.equal(client.http.target, '/users/42');
    assert.equal(client.http.route, '/users/{id}');
    assert.equal(client.http.statusCode, 200);
    assert.equal(client.http.host, 'orders:8080');
    assert.equal(client.http.userAgent, 'curl/8.5.0');
    assert.equal(client.http.responseBodySize, 11n);
    assert.equal(client.http.responseSize, BigInt(RESPONSE_USER_42.length));
    assert.equal(client.http.requestSize, BigInt(GET_USER_42.length));
    assert.equal(client.startTimeUnixNano, T0);
    assert.equal(client.endTimeUnixNano, T0 + 3n * MS + 100n * US);
    assert.equal(server.startTimeUnixNano, T0 + 50n * US);
    assert.equal(server.endTimeUnixNano, T0 + 3n * MS);
    assert.equal(client.status, 'UNSET');
    assert.equal(client.incomplete, false);

    assert.deepEqual(
      [client.local.service, client.local.node, client.local.pid, client.local.tid, client.local.port],
      ['gateway', 'node-a', 100, 101, 40001],
    );
    assert.deepEqual(
      [client.peer.service, client.peer.address, client.peer.port],
      ['orders', '10.0.0.2', 8080],
    );
    assert.deepEqual(
      [server.peer.service, server.peer.address, server.peer.port],
      ['gateway', '10.0.0.1', 40001],
    );

    assert.equal(server.parentSpanId, client.spanId);
    assert.equal(server.link.method, 'TCP_CONNECTION');
    assert.ok(server.link.confidence >= 0.9);
    assert.equal(client.parentSpanId, null, 'CLIENT parents are the linker’s job');
    assert.equal(out.find((o) => o.span.kind === 'SERVER')!.parentNode, 'node-a');
    for (const o of out) assert.equal(o.key, o.span.local.node, 'keyed by the capturing node');
    assert.equal(client.connectionKey, c.key);
  });

  test('status rules: 5xx is ERROR on both sides, 4xx only on the CLIENT', () => {
    for (const [response, code, serverStatus, clientStatus] of [
      [RESPONSE_500, 500, 'ERROR', 'ERROR'],
      [RESPONSE_404, 404, 'UNSET', 'ERROR'],
    ] as const) {
      const c = new Connection(GATEWAY, ORDERS);
      const { spans } = assembleAll(byTime(...c.exchange(T0, GET_A, response)));
      assert.equal(one(spans, 'SERVER').status, serverStatus, `${code} server`);
      assert.equal(one(spans, 'CLIENT').status, clientStatus, `${code} client`);
      assert.equal(one(spans, 'CLIENT').errorType, String(code));
      assert.equal(one(spans, 'SERVER').errorType, serverStatus === 'ERROR' ? String(code) : null);
    }
  });

  test('an unknown method is _OTHER, named HTTP, original kept', () => {
    // The kernel copies only known methods, so no collector frames PURGE today; a head segment that
    // carries one (a newer collector, another producer) must still make a valid span.
    const c = new Connection(GATEWAY, ORDERS);
    const [, se] = c.exchange(T0, GET_A, RESPONSE_200_A);
    const request = se[0]!;
    request.byteCount = BigInt(PURGE.length);
    request.segments = [
      { kind: 'HEAD', length: BigInt(PURGE.length), data: Buffer.from(PURGE, 'latin1'), endsMessage: true },
    ];
    const { spans } = assembleAll(se);
    const s = one(spans, 'SERVER');
    assert.equal(s.http.method, '_OTHER');
    assert.equal(s.name, 'HTTP /cache/users/{id}');
    assert.equal(s.attributes['http.request.method_original'], 'PURGE');
  });
});

describe('span-assembler: connections carrying many exchanges', () => {
  test('keep-alive: 20 exchanges, each server span linked to its own client span', () => {
    const c = new Connection(GATEWAY, ORDERS);
    const events = [];
    for (let i = 0; i < 20; i++)
      events.push(...byTime(...c.exchange(T0 + BigInt(i) * 10n * MS, GET_ITEM(i), RESPONSE_200_B)));
    const { spans } = assembleAll(events);
    assert.equal(spans.length, 40);
    const clients = new Map(spans.filter((s) => s.kind === 'CLIENT').map((s) => [s.spanId, s]));
    assert.equal(clients.size, 20, 'distinct span ids');
    for (const server of spans.filter((s) => s.kind === 'SERVER')) {
      const parent = clients.get(server.parentSpanId!);
      assert.ok(parent, 'parent is a captured client span');
      assert.equal(parent.http.target, server.http.target);
      assert.ok(parent.startTimeUnixNano < server.startTimeUnixNano);
    }
  });

  test('one node: a server read stamped before the client write it read still links (another core returned first)', () => {
    // Syscalls are stamped when they return. On one node the reader, woken on the other core, can return
    // before the writer's write does: the server's request then starts a few µs before the client's.
    const c = new Connection(GATEWAY, { ...ORDERS, node: GATEWAY.node });
    const events: L7RawEvent[] = [];
    for (let i = 0; i < 20; i++) {
      const at = T0 + BigInt(i) * 10n * MS;
      events.push(
        c.client.data(at, 'egress', GET_ITEM(i)),
        c.server.data(at - 20n * US, 'ingress', GET_ITEM(i)),
        c.server.data(at + MS, 'egress', RESPONSE_200_B),
        c.client.data(at + MS + 100n * US, 'ingress', RESPONSE_200_B),
      );
    }
    const { spans, ctx } = assembleAll(byTime(events));
    const clients = new Map(spans.filter((s) => s.kind === 'CLIENT').map((s) => [s.spanId, s]));
    const servers = spans.filter((s) => s.kind === 'SERVER');
    assert.equal(servers.length, 20);
    for (const server of servers) {
      assert.equal(clients.get(server.parentSpanId!)?.http.target, server.http.target);
      assert.equal(server.link.method, 'TCP_CONNECTION');
    }
    assert.equal(ctx.counter('tcp_parent_not_found'), 0);
  });

  test('pipelining: three requests in one write, three responses in one write', () => {
    const c = new Connection(GATEWAY, ORDERS);
    const requests = GET_A + GET_B + GET_C;
    const responses = RESPONSE_200_A + RESPONSE_200_B + RESPONSE_200_C;
    const { spans } = assembleAll(byTime(...c.exchange(T0, requests, responses)));
    assert.equal(spans.length, 6);
    for (const kind of ['CLIENT', 'SERVER'] as const) {
      const side = spans
        .filter((s) => s.kind === kind)
        .sort((a, b) => a.http.target.localeCompare(b.http.target));
      assert.deepEqual(
        side.map((s) => [s.http.target, s.http.responseBodySize, s.incomplete]),
        [
          ['/a', 1n, false],
          ['/b', 2n, false],
          ['/c', 3n, false],
        ],
      );
    }
    const clients = new Map(spans.filter((s) => s.kind === 'CLIENT').map((s) => [s.spanId, s.http.target]));
    for (const s of spans.filter((x) => x.kind === 'SERVER'))
      assert.equal(clients.get(s.parentSpanId!), s.http.target);
  });

  test('a head split over two writes, and a body over three', () => {
    const c = new Connection(GATEWAY, ORDERS);
    const cut = 20;
    const head = POST_JSON.slice(0, POST_JSON.indexOf('\r\n\r\n') + 4);
    const body = POST_JSON.slice(head.length);
    const events = [
      c.client.data(T0, 'egress', POST_JSON.slice(0, cut)),
      c.client.data(T0 + 10n * US, 'egress', head.slice(cut)),
      c.client.data(T0 + 20n * US, 'egress', body.slice(0, 5)),
      c.client.data(T0 + 30n * US, 'egress', body.slice(5, 12)),
      c.client.data(T0 + 40n * US, 'egress', body.slice(12)),
      c.client.data(T0 + 2n * MS, 'ingress', RESPONSE_201_CREATED),
    ];
    const { spans } = assembleAll(events);
    const s = one(spans, 'CLIENT');
    assert.equal(s.name, 'POST /api/orders');
    assert.equal(s.http.requestBodySize, BigInt(body.length));
    assert.equal(s.http.requestSize, BigInt(POST_JSON.length));
    assert.equal(s.startTimeUnixNano, T0, 'start is the first request byte');
    assert.equal(s.http.statusCode, 201);
    assert.equal(s.incomplete, false);
  });

  test('chunked body whose end only the kernel flag tells (bytes not copied)', () => {
    const c = new Connection(GATEWAY, ORDERS, { client: { copyCap: CHUNKED_RESPONSE_HEAD.length } });
    const chunk1 = `400\r\n${'x'.repeat(1024)}\r\n`;
    const chunk2 = `10\r\n${'y'.repeat(16)}\r\n0\r\n\r\n`;
    const events = [
      c.client.data(T0, 'egress', GET_A),
      c.client.data(T0 + MS, 'ingress', CHUNKED_RESPONSE_HEAD),
      c.client.data(T0 + 2n * MS, 'ingress', chunk1),
      c.client.data(T0 + 3n * MS, 'ingress', chunk2),
    ];
    assert.equal(events[3]!.segments.at(-1)!.endsMessage, true, 'the framer ended the body on the flag');
    const ctx = assemblerContext();
    feed(ctx, events);
    tick(ctx, ctx.config.pairWaitMs + 1);
    const [s] = takeSpans(ctx).map((o) => o.span);
    assert.ok(s);
    assert.equal(s.incomplete, false);
    assert.equal(s.endTimeUnixNano, T0 + 3n * MS);
    assert.equal(s.http.responseBodySize, BigInt(chunk1.length + chunk2.length));
  });

  test('HEAD, 204 and 304 responses end at their head', () => {
    for (const [request, response, code] of [
      [HEAD_REQUEST, RESPONSE_HEAD_1234, 200],
      [GET_A, RESPONSE_204, 204],
      [GET_B, RESPONSE_304, 304],
    ] as const) {
      const c = new Connection(GATEWAY, ORDERS);
      // A second exchange follows on the connection: it must not be swallowed as a body.
      const first = c.exchange(T0, request, response);
      const second = c.exchange(T0 + 10n * MS, GET_C, RESPONSE_200_C);
      const { spans } = assembleAll(byTime(...first, ...second));
      const clients = spans
        .filter((s) => s.kind === 'CLIENT')
        .sort((a, b) => Number(a.startTimeUnixNano - b.startTimeUnixNano));
      assert.deepEqual(
        clients.map((s) => [s.http.statusCode, s.http.responseBodySize, s.incomplete]),
        [
          [code, 0n, false],
          [200, 3n, false],
        ],
        `${code}`,
      );
    }
  });

  test('100-continue: the interim response is attached, the final one decides', () => {
    const c = new Connection(GATEWAY, ORDERS);
    const events = [
      c.client.data(T0, 'egress', POST_EXPECT_CONTINUE_HEAD),
      c.client.data(T0 + MS, 'ingress', RESPONSE_100_CONTINUE),
      c.client.data(T0 + 2n * MS, 'egress', UPLOAD_BODY_10),
      c.client.data(T0 + 3n * MS, 'ingress', RESPONSE_201_CREATED),
    ];
    const { spans } = assembleAll(events);
    const s = one(spans, 'CLIENT');
    assert.equal(s.http.statusCode, 201);
    assert.equal(s.attributes['meshpipe.http.interim_status_codes'], '100');
    assert.equal(s.http.requestBodySize, 10n);
    assert.equal(s.endTimeUnixNano, T0 + 3n * MS);
  });

  test('101 upgrade: one span, then the tunnel bytes are counted, not parsed', () => {
    const c = new Connection(GATEWAY, ORDERS);
    const events = [
      ...byTime(...c.exchange(T0, UPGRADE_WEBSOCKET, RESPONSE_101_WEBSOCKET)),
      c.client.data(T0 + 5n * MS, 'egress', WEBSOCKET_FRAME),
      c.client.data(T0 + 6n * MS, 'egress', GET_A), // looks like HTTP, but is tunnel payload now
    ];
    const { spans, ctx } = assembleAll(events);
    assert.equal(spans.length, 2);
    const s = one(spans, 'CLIENT');
    assert.equal(s.http.statusCode, 101);
    assert.equal(s.attributes['meshpipe.http.upgrade'], 'websocket');
    assert.equal(s.incomplete, false);
    assert.ok(ctx.counter('tunnel_bytes') >= WEBSOCKET_FRAME.length);
  });

  test('CONNECT: the tunnel is one span without a route; TLS inside is not parsed', () => {
    const c = new Connection(GATEWAY, ORDERS);
    const events = [
      ...byTime(...c.exchange(T0, CONNECT_REQUEST, RESPONSE_CONNECT_200)),
      c.client.data(T0 + 5n * MS, 'egress', TLS_CLIENT_HELLO),
    ];
    const { spans } = assembleAll(events);
    assert.equal(spans.length, 2);
    const s = one(spans, 'CLIENT');
    assert.equal(s.name, 'CONNECT');
    assert.equal(s.http.route, null);
    assert.equal(s.http.target, 'db.internal:5432');
    assert.equal(s.http.statusCode, 200);
  });
});

describe('span-assembler: imperfect captures', () => {
  test('a head cut by the copy cap: the span is incomplete, reason truncated, method and target kept', () => {
    const c = new Connection(GATEWAY, ORDERS, { client: { copyCap: 30 } });
    const long = `GET /reports/2024/q3 HTTP/1.1\r\nHost: reports\r\nX-Padding: ${'p'.repeat(200)}\r\n\r\n`;
    const events = [
      c.client.data(T0, 'egress', long),
      c.client.data(T0 + MS, 'ingress', RESPONSE_200_A),
      c.client.close(T0 + 2n * MS),
    ];
    const { spans } = assembleAll(events);
    assert.equal(spans.length, 1);
    const s = spans[0]!;
    assert.equal(s.http.method, 'GET');
    assert.equal(s.http.path, '/reports/2024/q3');
    assert.equal(s.incomplete, true);
    assert.equal(s.incompleteReason, 'truncated');
  });

  test('a response without request (capture started mid-connection): one incomplete span, counted', () => {
    const c = new Connection(GATEWAY, ORDERS, { server: { role: 'UNKNOWN', roleInferred: true } });
    const events = [
      c.server.data(T0, 'egress', RESPONSE_200_HELLO),
      ...byTime(...c.exchange(T0 + 5n * MS, GET_B, RESPONSE_200_B)),
    ];
    const { spans, ctx } = assembleAll(events);
    const servers = spans.filter((s) => s.kind === 'SERVER');
    assert.equal(servers.length, 2);
    const orphan = servers.find((s) => s.incomplete)!;
    assert.equal(orphan.incompleteReason, 'no_request');
    assert.equal(orphan.http.statusCode, 200);
    assert.equal(orphan.http.method, '_OTHER');
    assert.equal(orphan.attributes['meshpipe.role_inferred'], 'true');
    assert.equal(ctx.counter('orphan_responses'), 1);
    const ok = servers.find((s) => !s.incomplete)!;
    assert.equal(ok.http.target, '/b');
    assert.equal(ok.link.method, 'TCP_CONNECTION');
  });

  test('timeout: a request never answered becomes an incomplete ERROR span on punctuate', () => {
    const c = new Connection(GATEWAY, ORDERS);
    const ctx = assemblerContext({ exchangeTimeoutMs: 5_000 });
    feed(ctx, [c.client.data(T0, 'egress', GET_A)]);
    tick(ctx, 4_000);
    assert.equal(takeSpans(ctx).length, 0, 'not before the timeout');
    tick(ctx, 1_001);
    tick(ctx, ctx.config.pairWaitMs + 1);
    const spans = takeSpans(ctx).map((o) => o.span);
    assert.equal(spans.length, 1);
    assert.equal(spans[0]!.incompleteReason, 'timeout');
    assert.equal(spans[0]!.status, 'ERROR');
    assert.equal(spans[0]!.errorType, 'timeout');
    assert.equal(ctx.counter('incomplete.timeout'), 1);
  });

  test('close: requests still waiting become connection_closed spans on both sides', () => {
    const c = new Connection(GATEWAY, ORDERS);
    const events = [
      c.client.data(T0, 'egress', GET_A),
      c.server.data(T0 + 50n * US, 'ingress', GET_A),
      c.server.close(T0 + MS),
      c.client.close(T0 + 2n * MS),
    ];
    const { spans } = assembleAll(events);
    assert.equal(spans.length, 2);
    for (const s of spans) {
      assert.equal(s.incompleteReason, 'connection_closed');
      assert.equal(s.status, 'ERROR');
    }
    assert.equal(one(spans, 'SERVER').parentSpanId, one(spans, 'CLIENT').spanId);
  });

  test('CONNECT_FAILED: a CLIENT span with error.type ECONNREFUSED', () => {
    const c = new Connection(GATEWAY, ORDERS);
    const { spans } = assembleAll([c.client.connectFailed(T0, 111)]);
    assert.equal(spans.length, 1);
    const s = spans[0]!;
    assert.equal(s.kind, 'CLIENT');
    assert.equal(s.status, 'ERROR');
    assert.equal(s.errorType, 'ECONNREFUSED');
    assert.equal(s.incompleteReason, 'connect_failed');
    assert.equal(s.peer.address, '10.0.0.2');
    assert.equal(s.peer.port, 8080);
  });

  test('garbage: no span, no throw, bytes counted', () => {
    const c = new Connection(GATEWAY, ORDERS, { client: { role: 'UNKNOWN' } });
    const { spans, ctx } = assembleAll([
      c.client.data(T0, 'egress', TLS_CLIENT_HELLO),
      c.client.data(T0 + MS, 'ingress', '\x00\x01\x02garbage\r\n\r\n'),
      c.client.close(T0 + 2n * MS),
    ]);
    assert.equal(spans.length, 0);
    assert.equal(ctx.counter('exchanges'), 0);
  });

  test('the other end not captured: the SERVER span goes out as a root after pairWaitMs, later ones at once', () => {
    const c = new Connection(GATEWAY, ORDERS);
    const ctx = assemblerContext({ pairWaitMs: 2_000 });
    const [, first] = c.exchange(T0, GET_A, RESPONSE_200_A);
    feed(ctx, first);
    assert.equal(takeSpans(ctx).length, 0, 'held for the client side');
    tick(ctx, 2_001);
    const [root] = takeSpans(ctx).map((o) => o.span);
    assert.equal(root!.parentSpanId, null);
    assert.equal(root!.link.method, 'NONE');
    assert.equal(ctx.counter('tcp_parent_peer_not_captured'), 1);
    const [, second] = c.exchange(T0 + 10n * MS, GET_B, RESPONSE_200_B);
    feed(ctx, second);
    assert.equal(takeSpans(ctx).length, 1, 'no wait once the peer is known to be absent');
  });

  test('the client side arrives late (another node behind): the server span waits and is linked', () => {
    const c = new Connection(GATEWAY, ORDERS);
    const ctx = assemblerContext();
    const [ce, se] = c.exchange(T0, GET_A, RESPONSE_200_A);
    feed(ctx, se);
    assert.equal(takeSpans(ctx).length, 0);
    feed(ctx, ce);
    const spans = takeSpans(ctx).map((o) => o.span);
    assert.equal(spans.length, 2);
    assert.equal(one(spans, 'SERVER').parentSpanId, one(spans, 'CLIENT').spanId);
  });
});

describe('span-assembler: long-lived connections', () => {
  test('a keep-alive connection idle past idleSideMs is forgotten, then used again: new spans, new ids', () => {
    const c = new Connection(GATEWAY, ORDERS);
    const ctx = assemblerContext({ idleSideMs: 60_000 });
    feed(ctx, byTime(...c.exchange(T0, GET_A, RESPONSE_200_A)));
    tick(ctx, 61_000);
    assert.equal(ctx.stores.connections.size, 0, 'both sides forgotten');
    assert.equal(ctx.counter('sides_idle_forgotten'), 2);
    feed(ctx, byTime(...c.exchange(T0 + 61_000n * MS, GET_A, RESPONSE_200_A)));
    tick(ctx, 1);
    const spans = takeSpans(ctx).map((o) => o.span);
    assert.equal(spans.length, 4);
    assert.equal(new Set(spans.map((s) => s.spanId)).size, 4, 'the second exchange does not reuse ids');
    assert.equal(ctx.counter('events_after_close'), 0);
    const late = spans.filter((s) => s.startTimeUnixNano > T0 + 60_000n * MS);
    assert.equal(one(late, 'SERVER').parentSpanId, one(late, 'CLIENT').spanId);
  });
});

describe('span-assembler: deterministic ids', () => {
  test('the same events give the same span ids; another connection gives others', () => {
    const run = (port: number) => {
      const c = new Connection({ ...GATEWAY, port }, ORDERS);
      return assembleAll(
        byTime(...c.exchange(T0, GET_A, RESPONSE_200_A), ...c.exchange(T0 + 5n * MS, GET_B, RESPONSE_200_B)),
      )
        .spans.map((s) => s.spanId)
        .sort();
    };
    const a = run(40001);
    assert.deepEqual(run(40001), a);
    assert.equal(new Set(a).size, 4);
    for (const id of a) assert.match(id, /^[0-9a-f]{16}$/);
    const b = run(40002);
    assert.equal(a.filter((id) => b.includes(id)).length, 0);
  });
});

describe('span-assembler: restored mid-exchange', () => {
  /** A new instance whose state is `t`'s committed state, through the changelog's codec (a restart). */
  function restart(t: AssemblerTest): AssemblerTest {
    const codec = jsonStateCodec<ConnState>();
    const next = assemblerContext();
    next.setTime(t.now());
    const connections = t.stores.connections;
    for (const key of connections.keys()) {
      (next.stores.connections as StateStore<ConnState>).restore(key, codec.encode(connections.get(key)!));
    }
    return next;
  }

  /** Spans and span counters of `events`, with the instance restarted before event `cut` (-1: never). */
  function runWithRestart(events: readonly L7RawEvent[], cut: number) {
    let t = assemblerContext();
    const spans: Span[] = [];
    const states: ConnState[] = [];
    events.forEach((ev, i) => {
      if (i === cut) {
        states.push(...[...t.stores.connections.keys()].map((k) => t.stores.connections.get(k)!));
        spans.push(...takeSpans(t).map((o) => o.span));
        t = restart(t);
      }
      feed(t, [ev]);
    });
    tick(t, t.config.pairWaitMs + 1);
    spans.push(...takeSpans(t).map((o) => o.span));
    return { spans, states };
  }

  test('pipelining, a chunked body, 100-continue and lost sync: any restart gives the same spans', () => {
    const c = new Connection(GATEWAY, ORDERS);
    const chunk1 = `5\r\nhello\r\n`;
    const chunk2 = `6\r\n world\r\n0\r\n\r\n`;
    const events = byTime(
      // Two pipelined requests, answered in one write.
      ...c.exchange(T0, GET_A + GET_B, RESPONSE_200_A + RESPONSE_200_B),
      // A chunked response over three reads.
      [
        c.client.data(T0 + 10n * MS, 'egress', GET_C),
        c.server.data(T0 + 10n * MS + 50n * US, 'ingress', GET_C),
        c.server.data(T0 + 11n * MS, 'egress', CHUNKED_RESPONSE_HEAD),
        c.client.data(T0 + 11n * MS + 50n * US, 'ingress', CHUNKED_RESPONSE_HEAD),
        c.server.data(T0 + 12n * MS, 'egress', chunk1),
        c.client.data(T0 + 12n * MS + 50n * US, 'ingress', chunk1),
        c.server.data(T0 + 13n * MS, 'egress', chunk2),
        c.client.data(T0 + 13n * MS + 50n * US, 'ingress', chunk2),
      ],
      // 100-continue: the upload is in flight across events.
      [
        c.client.data(T0 + 20n * MS, 'egress', POST_EXPECT_CONTINUE_HEAD),
        c.client.data(T0 + 21n * MS, 'ingress', RESPONSE_100_CONTINUE),
        c.client.data(T0 + 22n * MS, 'egress', UPLOAD_BODY_10),
        c.client.data(T0 + 23n * MS, 'ingress', RESPONSE_201_CREATED),
      ],
      // Lost sync on the client's response direction (bytes it could not frame), then a response that
      // pairs with the latest request.
      [
        c.client.data(T0 + 30n * MS, 'egress', GET_A),
        c.client.data(T0 + 30n * MS + 10n * US, 'egress', GET_B),
        c.client.data(T0 + 31n * MS, 'ingress', TLS_CLIENT_HELLO, { copied: 0 }),
        c.client.data(T0 + 32n * MS, 'ingress', RESPONSE_200_B),
      ],
    );
    const whole = runWithRestart(events, -1);
    assert.equal(whole.spans.length, 9, '4 + 2 + 1 + 2 spans');
    assert.deepEqual(
      whole.spans.filter((s) => s.incomplete).map((s) => s.incompleteReason),
      ['response_lost'],
    );
    let midMessage = 0;
    let waiting = 0;
    let syncLost = 0;
    for (let cut = 1; cut < events.length; cut++) {
      const { spans, states } = runWithRestart(events, cut);
      assert.deepEqual(spans, whole.spans, `restarted before event ${cut}`);
      for (const conn of states) {
        for (const side of conn.sides) {
          const h = side.http;
          if (h.egress?.open != null || h.ingress?.open != null) midMessage++;
          if ((h.pairer?.waiting.length ?? 0) > 0) waiting++;
          if (h.egress?.resync === true || h.ingress?.resync === true) syncLost++;
        }
      }
    }
    // The restarts did fall mid-message, with requests waiting, and after sync was lost.
    assert.ok(midMessage > 0 && waiting > 0 && syncLost > 0, `${midMessage} ${waiting} ${syncLost}`);
  });

  test('a side written by the older span-assembler (an event log) is upgraded by replaying its log once', () => {
    const c = new Connection(GATEWAY, ORDERS);
    const request = c.client.data(T0, 'egress', GET_A);
    const response = c.client.data(T0 + MS, 'ingress', RESPONSE_200_A);
    const t = assemblerContext();
    feed(t, [request]);
    // The entry as the older version wrote it: the request waiting in a log to replay, two requests
    // and one orphan before it, and the response direction's lost-sync mark from its last clear.
    const conn = structuredClone(t.stores.connections.get(c.key)!);
    const side = conn.sides[0]! as unknown as Record<string, unknown>;
    delete side.http;
    delete side.paired;
    Object.assign(side, {
      log: [
        {
          op: 'data',
          ts: request.timeUnixNano,
          dir: 'egress',
          tid: request.process.tid,
          segments: request.segments.map((seg) => ({
            kind: seg.kind.toLowerCase(),
            length: Number(seg.length),
            data: seg.data,
            endsMessage: seg.endsMessage,
          })),
        },
      ],
      baseRequests: 2,
      baseOrphans: 1,
      resync: { egress: false, ingress: true },
      requests: 3,
      orphans: 1,
      recent: [],
    });
    const restarted = assemblerContext();
    (restarted.stores.connections as StateStore<ConnState>).restore(
      c.key,
      jsonStateCodec<ConnState>().encode(conn),
    );
    feed(restarted, [response]);
    tick(restarted, restarted.config.pairWaitMs + 1);
    const [span] = takeSpans(restarted).map((o) => o.span);
    assert.ok(span);
    assert.equal(span.http.target, '/a');
    assert.equal(span.http.statusCode, 200);
    assert.equal(span.attributes['meshpipe.capture.resync'], 'true', 'the lost-sync mark survived');
    const upgraded = restarted.stores.connections.get(c.key)!.sides[0]!;
    assert.equal(
      span.spanId,
      deterministicSpanId([c.key, upgraded.id, upgraded.epochNs, 'CLIENT', 'request', 2]),
      'the third request of the side: ordinals go on from the older version',
    );
    assert.deepEqual([upgraded.requests, upgraded.paired, upgraded.orphans], [3, 3, 1]);
    assert.equal('log' in upgraded, false);
  });

  test('between exchanges a keep-alive side keeps no parser state', () => {
    const c = new Connection(GATEWAY, ORDERS);
    const t = assemblerContext();
    feed(t, byTime(...c.exchange(T0, GET_A, RESPONSE_200_A)));
    const conn = t.stores.connections.get(c.key)!;
    for (const side of conn.sides) assert.deepEqual(side.http, { egress: null, ingress: null, pairer: null });
  });
});
