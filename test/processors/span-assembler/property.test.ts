/**
 * Properties of span-assembler over random event streams:
 * 1. whatever arrives (any kind, any segments, any order), the handlers do not throw;
 * 2. every request the assembler was shown (a head segment whose bytes parse as a request) ends up in
 *    exactly one span, complete or incomplete, once the stream is over and the timeouts have run.
 * The streams of (2) are real exchanges framed by the collector's framer on both ends of a
 * connection, cut into random syscalls, copied under random caps, with events lost at random, garbage
 * mixed in, pipelined or not, closed or left open.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseHead } from '../../../protocols/http1/parse-head.ts';
import type { L7RawEvent, PayloadSegment } from '../../../schemas/types.ts';
import {
  CHUNKED_POST_HEAD,
  CHUNKED_RESPONSE,
  CONNECT_REQUEST,
  GET_A,
  GET_B,
  HEAD_REQUEST,
  POST_EXPECT_CONTINUE_HEAD,
  POST_JSON,
  RESPONSE_100_CONTINUE,
  RESPONSE_101_WEBSOCKET,
  RESPONSE_200_A,
  RESPONSE_200_HELLO,
  RESPONSE_204,
  RESPONSE_304,
  RESPONSE_CONNECT_200,
  RESPONSE_HEAD_1234,
  TLS_CLIENT_HELLO,
  UPGRADE_WEBSOCKET,
} from '../../protocols/http1/fixtures.ts';
import { type CapturedSide, Connection, type Endpoint, T0, US } from '../raw-events.ts';
import { assemblerContext, feed, takeSpans, tick } from './helpers.ts';

const CLIENT: Endpoint = { node: 'node-a', pid: 10, service: 'client', address: '10.1.0.1', port: 45000 };
const SERVER: Endpoint = { node: 'node-b', pid: 20, service: 'server', address: '10.1.0.2', port: 80 };

/** Request/response pairs that are valid HTTP/1.1 on their own. */
const EXCHANGES: readonly [string, string][] = [
  [GET_A, RESPONSE_200_A],
  [GET_B, RESPONSE_200_HELLO],
  [POST_JSON, RESPONSE_204],
  [HEAD_REQUEST, RESPONSE_HEAD_1234],
  [GET_A, RESPONSE_304],
  [GET_B, CHUNKED_RESPONSE],
  [`${CHUNKED_POST_HEAD}4\r\nabcd\r\n0\r\n\r\n`, RESPONSE_200_A],
  [`${POST_EXPECT_CONTINUE_HEAD}0123456789`, RESPONSE_100_CONTINUE + RESPONSE_200_A],
  [UPGRADE_WEBSOCKET, RESPONSE_101_WEBSOCKET],
  [CONNECT_REQUEST, RESPONSE_CONNECT_200],
];

function cut(wire: string, cuts: readonly number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % Math.max(1, wire.length)).filter((c) => c > 0))].sort(
    (a, b) => a - b,
  );
  const out: string[] = [];
  let prev = 0;
  for (const p of [...points, wire.length]) {
    if (p > prev) out.push(wire.slice(prev, p));
    prev = p;
  }
  return out;
}

const scenario = fc.record({
  exchanges: fc.array(
    fc.record({
      pick: fc.nat(EXCHANGES.length - 1),
      requestCuts: fc.array(fc.nat(400), { maxLength: 3 }),
      responseCuts: fc.array(fc.nat(400), { maxLength: 3 }),
    }),
    { maxLength: 6 },
  ),
  pipelined: fc.boolean(),
  clientCap: fc.option(fc.integer({ min: 1, max: 120 }), { nil: undefined }),
  serverCap: fc.option(fc.integer({ min: 1, max: 120 }), { nil: undefined }),
  serverRoleKnown: fc.boolean(),
  /** Event i is lost when drop[i % length] is 0 (a 1-in-4 chance per slot). */
  drop: fc.array(fc.nat(3), { minLength: 1, maxLength: 12 }),
  garbage: fc.array(fc.record({ at: fc.nat(30), client: fc.boolean() }), { maxLength: 2 }),
  closeClient: fc.boolean(),
  closeServer: fc.boolean(),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function build(s: Scenario): L7RawEvent[] {
  const conn = new Connection(CLIENT, SERVER, {
    client: s.clientCap === undefined ? {} : { copyCap: s.clientCap },
    server: {
      ...(s.serverCap === undefined ? {} : { copyCap: s.serverCap }),
      ...(s.serverRoleKnown ? {} : { role: 'UNKNOWN' as const, roleInferred: true }),
    },
  });
  let t = T0;
  const events: L7RawEvent[] = [];
  const write = (side: CapturedSide, dir: 'egress' | 'ingress', parts: string[]) => {
    for (const p of parts) {
      t += 10n * US;
      events.push(side.data(t, dir, p));
    }
  };
  const requests = s.exchanges.map((x) => EXCHANGES[x.pick]!);
  const send = (i: number) => {
    const parts = cut(requests[i]![0], s.exchanges[i]!.requestCuts);
    write(conn.client, 'egress', parts);
    write(conn.server, 'ingress', parts);
  };
  const answer = (i: number) => {
    const parts = cut(requests[i]![1], s.exchanges[i]!.responseCuts);
    write(conn.server, 'egress', parts);
    write(conn.client, 'ingress', parts);
  };
  if (s.pipelined) {
    for (let i = 0; i < requests.length; i++) send(i);
    for (let i = 0; i < requests.length; i++) answer(i);
  } else {
    for (let i = 0; i < requests.length; i++) {
      send(i);
      answer(i);
    }
  }
  for (const g of s.garbage) {
    const side = g.client ? conn.client : conn.server;
    const at = Math.min(g.at, events.length);
    events.splice(at, 0, side.data(events[at - 1]?.timeUnixNano ?? T0, 'egress', TLS_CLIENT_HELLO));
  }
  const kept = events.filter((_, i) => s.drop[i % s.drop.length] !== 0);
  t += 1_000n * US;
  if (s.closeClient) kept.push(conn.client.close(t));
  if (s.closeServer) kept.push(conn.server.close(t + 1n));
  return kept;
}

/** Requests the assembler is shown: head segments whose bytes parse as a request (even cut). */
function requestsShown(events: readonly L7RawEvent[]): number {
  let n = 0;
  for (const ev of events) {
    if (ev.kind !== 'DATA') continue;
    for (const seg of ev.segments) {
      if (seg.kind !== 'HEAD' || seg.data === null || seg.data.length === 0) continue;
      const parsed = parseHead(seg.data, 0, seg.data.length, { allowTruncated: true });
      if (parsed.state === 'complete' && parsed.head.kind === 'request') n++;
    }
  }
  return n;
}

function drainAll(events: readonly L7RawEvent[]) {
  const ctx = assemblerContext({ exchangeTimeoutMs: 1_000, idleSideMs: 5_000, pairWaitMs: 500 });
  feed(ctx, events);
  for (let i = 0; i < 8; i++) tick(ctx, 1_000);
  return { ctx, spans: takeSpans(ctx).map((o) => o.span) };
}

describe('span-assembler properties', () => {
  test('every request shown produces exactly one span; nothing is held forever', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const events = build(s);
        const { ctx, spans } = drainAll(events);
        const withRequest = spans.filter((x) => x.incompleteReason !== 'no_request');
        assert.equal(withRequest.length, requestsShown(events));
        assert.equal(new Set(spans.map((x) => x.spanId)).size, spans.length, 'span ids are unique');
        for (const x of spans) {
          assert.ok(x.endTimeUnixNano >= x.startTimeUnixNano, 'end ≥ start');
          assert.equal(x.incomplete, x.incompleteReason !== null);
        }
        assert.equal(ctx.stores.connections.size, 0, 'the state drains once the sides are idle');
      }),
      { numRuns: 200 },
    );
  });

  const segment = fc.record({
    kind: fc.constantFrom('HEAD', 'BODY', 'UNKNOWN') as fc.Arbitrary<PayloadSegment['kind']>,
    length: fc.bigInt({ min: -2n, max: 70_000n }),
    data: fc.option(
      fc.oneof(
        fc
          .constantFrom(GET_A, RESPONSE_200_A, RESPONSE_100_CONTINUE, 'HTTP/1.1 ', 'GET / HTTP/1.1\r\nA')
          .map((x) => Buffer.from(x, 'latin1')),
        fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      ),
      { nil: null },
    ),
    endsMessage: fc.boolean(),
  });
  const anyEvent = fc.record({
    kind: fc.constantFrom('DATA', 'DATA', 'DATA', 'OPEN', 'CLOSE', 'CONNECT_FAILED') as fc.Arbitrary<
      L7RawEvent['kind']
    >,
    side: fc.nat(3),
    direction: fc.constantFrom('EGRESS', 'INGRESS', 'NONE') as fc.Arbitrary<L7RawEvent['direction']>,
    role: fc.constantFrom('CLIENT', 'SERVER', 'UNKNOWN') as fc.Arbitrary<L7RawEvent['connection']['role']>,
    dt: fc.bigInt({ min: -1_000_000n, max: 50_000_000n }),
    segments: fc.array(segment, { maxLength: 4 }),
    errno: fc.option(fc.integer({ min: -200, max: 200 }), { nil: null }),
  });

  test('any stream of events, however malformed, never makes the handlers throw', () => {
    const conn = new Connection(CLIENT, SERVER);
    const template = conn.client.data(T0, 'egress', GET_A);
    fc.assert(
      fc.property(fc.array(anyEvent, { maxLength: 30 }), fc.nat(5_000), (raw, punctuateEvery) => {
        const ctx = assemblerContext({ exchangeTimeoutMs: 200, idleSideMs: 1_000, pairWaitMs: 100 });
        let t = T0;
        raw.forEach((r, i) => {
          t += r.dt;
          const ev: L7RawEvent = {
            ...template,
            kind: r.kind,
            timeUnixNano: t,
            node: r.side % 2 === 0 ? 'node-a' : 'node-b',
            process: { ...template.process, pid: 10 + r.side },
            connection: { ...template.connection, id: BigInt(r.side), role: r.role },
            direction: r.direction,
            segments: r.segments,
            byteCount: r.segments.reduce((n, s) => n + (s.length > 0n ? s.length : 0n), 0n),
            errno: r.errno,
          };
          feed(ctx, [ev]);
          if (punctuateEvery > 0 && i % 7 === 0) tick(ctx, punctuateEvery);
        });
        for (let i = 0; i < 4; i++) tick(ctx, 1_000);
        takeSpans(ctx);
      }),
      { numRuns: 200 },
    );
  });
});
