import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Http1ExchangePairer } from '../../../protocols/http1/exchange-pairer.ts';
import { parseHead } from '../../../protocols/http1/parse-head.ts';
import type { Http1Exchange, Http1Message } from '../../../protocols/http1/types.ts';
import {
  bytes,
  CONNECT_REQUEST,
  GET_A,
  GET_B,
  GET_C,
  HEAD_REQUEST,
  POST_EXPECT_CONTINUE_HEAD,
  RESPONSE_100_CONTINUE,
  RESPONSE_101_WEBSOCKET,
  RESPONSE_200_A,
  RESPONSE_200_B,
  RESPONSE_200_C,
  RESPONSE_201_CREATED,
  RESPONSE_407,
  RESPONSE_CONNECT_200,
  RESPONSE_HEAD_1234,
  UPGRADE_WEBSOCKET,
} from './fixtures.ts';

/** A message as a reader would produce it: the head of `wire`, from `start` to `end`. */
function msg(wire: string, start: number, end: number, extra: Partial<Http1Message> = {}): Http1Message {
  const r = parseHead(bytes(wire));
  if (r.state !== 'complete') throw new Error(`fixture does not parse: ${JSON.stringify(wire)}`);
  return {
    kind: r.head.kind,
    head: r.head,
    startNs: BigInt(start),
    endNs: BigInt(end),
    wireBytes: wire.length,
    bodyBytes: wire.length - r.consumed,
    complete: true,
    truncatedHead: false,
    resync: false,
    ...extra,
  };
}

function label(m: Http1Message | undefined): string {
  if (m === undefined) return '-';
  return m.kind === 'request' ? `${m.head.method} ${m.head.target}` : String(m.head.statusCode);
}

function summary(x: Http1Exchange): string {
  const interim = x.interim.length > 0 ? ` interim=${x.interim.map(label).join(',')}` : '';
  const state = x.complete ? 'complete' : `incomplete:${x.incompleteReason}`;
  return `${label(x.request)} -> ${label(x.response)}${interim} [${x.startNs}-${x.endNs}] ${state}`;
}

interface Case {
  readonly name: string;
  readonly messages: readonly Http1Message[];
  readonly closeAt?: number;
  readonly expect: readonly string[];
  readonly check?: (pairer: Http1ExchangePairer) => void;
}

const cases: Case[] = [
  {
    name: 'simple request and response',
    messages: [msg(GET_A, 1, 1), msg(RESPONSE_200_A, 2, 3)],
    expect: ['GET /a -> 200 [1-3] complete'],
  },
  {
    name: 'pipelining 3 deep pairs in order (RFC 9112 §9.3.2)',
    messages: [
      msg(GET_A, 1, 1),
      msg(GET_B, 1, 1),
      msg(GET_C, 1, 1),
      msg(RESPONSE_200_A, 2, 2),
      msg(RESPONSE_200_B, 2, 2),
      msg(RESPONSE_200_C, 2, 3),
    ],
    expect: ['GET /a -> 200 [1-2] complete', 'GET /b -> 200 [1-2] complete', 'GET /c -> 200 [1-3] complete'],
  },
  {
    name: '100-continue: the interim response arrives before the request ends and is attached',
    messages: [
      msg(RESPONSE_100_CONTINUE, 2, 2),
      msg(POST_EXPECT_CONTINUE_HEAD, 1, 5),
      msg(RESPONSE_201_CREATED, 6, 6),
    ],
    expect: ['POST /upload -> 201 interim=100 [1-6] complete'],
  },
  {
    name: 'a server answering before the upload ends: the response is held, then paired',
    messages: [msg(RESPONSE_201_CREATED, 2, 3), msg(POST_EXPECT_CONTINUE_HEAD, 1, 9)],
    expect: ['POST /upload -> 201 [1-9] complete'],
  },
  {
    name: 'HEAD: a Content-Length and no body is a complete exchange',
    messages: [msg(HEAD_REQUEST, 1, 1), msg(RESPONSE_HEAD_1234, 2, 2)],
    expect: ['HEAD /big.iso -> 200 [1-2] complete'],
  },
  {
    name: '101 ends the exchange and turns the connection into a tunnel',
    messages: [msg(UPGRADE_WEBSOCKET, 1, 1), msg(RESPONSE_101_WEBSOCKET, 2, 2)],
    expect: ['GET /chat -> 101 [1-2] complete'],
    check: (p) => assert.equal(p.tunnel, true),
  },
  {
    name: 'CONNECT 200: tunnel',
    messages: [msg(CONNECT_REQUEST, 1, 1), msg(RESPONSE_CONNECT_200, 2, 2)],
    expect: ['CONNECT db.internal:5432 -> 200 [1-2] complete'],
    check: (p) => assert.equal(p.tunnel, true),
  },
  {
    name: 'CONNECT 407: no tunnel',
    messages: [msg(CONNECT_REQUEST, 1, 1), msg(RESPONSE_407, 2, 2)],
    expect: ['CONNECT db.internal:5432 -> 407 [1-2] complete'],
    check: (p) => assert.equal(p.tunnel, false),
  },
  {
    name: 'response without request (capture started mid-connection) becomes an orphan when a later request arrives',
    messages: [msg(RESPONSE_200_B, 1, 2), msg(GET_A, 5, 5), msg(RESPONSE_200_A, 6, 6)],
    expect: ['- -> 200 [1-2] incomplete:orphan-response', 'GET /a -> 200 [5-6] complete'],
    check: (p) => assert.deepEqual(p.counters.incomplete, { 'orphan-response': 1 }),
  },
  {
    name: 'a response older than every waiting request is an orphan at once',
    messages: [msg(GET_A, 10, 10), msg(RESPONSE_200_B, 5, 6)],
    expect: ['- -> 200 [5-6] incomplete:orphan-response'],
    check: (p) => assert.equal(p.pendingRequests, 1),
  },
  {
    name: 'requests without responses at close: connection-closed, never dropped',
    messages: [msg(GET_A, 1, 1), msg(GET_B, 2, 2)],
    closeAt: 9,
    expect: [
      'GET /a -> - [1-9] incomplete:connection-closed',
      'GET /b -> - [2-9] incomplete:connection-closed',
    ],
  },
  {
    name: 'a held response at close is an orphan',
    messages: [msg(RESPONSE_200_A, 1, 1)],
    closeAt: 9,
    expect: ['- -> 200 [1-1] incomplete:orphan-response'],
  },
  {
    name: 'resync response pairs with the latest request before it; older ones lost their responses',
    messages: [
      msg(GET_A, 1, 1),
      msg(GET_B, 3, 3),
      msg(GET_C, 5, 5),
      msg(RESPONSE_200_C, 6, 6, { resync: true }),
    ],
    expect: [
      'GET /a -> - [1-1] incomplete:response-lost',
      'GET /b -> - [3-3] incomplete:response-lost',
      'GET /c -> 200 [5-6] complete',
    ],
  },
  {
    name: 'incomplete messages make incomplete exchanges',
    messages: [
      msg(GET_A, 1, 1, { complete: false, incompleteReason: 'truncated-head', truncatedHead: true }),
      msg(RESPONSE_200_A, 2, 2),
      msg(GET_B, 3, 3),
      msg(RESPONSE_200_B, 4, 4, { complete: false, incompleteReason: 'unknown-bytes' }),
    ],
    expect: [
      'GET /a -> 200 [1-2] incomplete:request-incomplete',
      'GET /b -> 200 [3-4] incomplete:response-incomplete',
    ],
  },
  {
    name: 'an interim response with no request is an orphan too',
    messages: [msg(RESPONSE_100_CONTINUE, 1, 1), msg(GET_A, 4, 4), msg(RESPONSE_200_A, 5, 5)],
    expect: ['- -> 100 [1-1] incomplete:orphan-response', 'GET /a -> 200 [4-5] complete'],
  },
];

describe('Http1ExchangePairer', () => {
  for (const c of cases) {
    test(c.name, () => {
      const pairer = new Http1ExchangePairer();
      const out: Http1Exchange[] = [];
      for (const m of c.messages) out.push(...pairer.push(m));
      if (c.closeAt !== undefined) out.push(...pairer.close(BigInt(c.closeAt)));
      assert.deepEqual(out.map(summary), c.expect);
      c.check?.(pairer);
    });
  }

  test('expire: the oldest waiting requests time out, front first; held responses become orphans', () => {
    const pairer = new Http1ExchangePairer();
    pairer.push(msg(GET_A, 1, 1));
    pairer.push(msg(GET_B, 50, 50));
    assert.deepEqual(pairer.expire(31n, 30n).map(summary), ['GET /a -> - [1-1] incomplete:timeout']);
    assert.deepEqual(pairer.expire(60n, 30n), []);
    assert.deepEqual(pairer.expire(80n, 30n).map(summary), ['GET /b -> - [50-50] incomplete:timeout']);
    // A late response to a timed-out request is older than nothing waiting: held, then expired as orphan.
    pairer.push(msg(RESPONSE_200_A, 81, 82));
    assert.equal(pairer.heldResponses, 1);
    assert.deepEqual(pairer.expire(200n, 30n).map(summary), ['- -> 200 [81-82] incomplete:orphan-response']);
    assert.deepEqual(pairer.counters.incomplete, { timeout: 2, 'orphan-response': 1 });
  });

  test('property: every message ends up in exactly one exchange', () => {
    const kinds = [
      GET_A,
      GET_B,
      RESPONSE_200_A,
      RESPONSE_100_CONTINUE,
      RESPONSE_200_B,
      UPGRADE_WEBSOCKET,
      RESPONSE_101_WEBSOCKET,
    ];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...kinds), fc.nat(100), fc.nat(10), fc.boolean()), {
          maxLength: 30,
        }),
        fc.boolean(),
        (specs, useExpire) => {
          const pairer = new Http1ExchangePairer();
          const messages = specs.map(([w, s, d, resync]) => msg(w, s, s + d, { resync }));
          const out: Http1Exchange[] = [];
          for (const m of messages) out.push(...pairer.push(m));
          if (useExpire) out.push(...pairer.expire(1000n, 1n));
          out.push(...pairer.close(2000n));
          const seen = new Map<Http1Message, number>();
          for (const x of out) {
            for (const m of [x.request, x.response, ...x.interim])
              if (m !== undefined) seen.set(m, (seen.get(m) ?? 0) + 1);
            assert.ok(x.endNs >= x.startNs || x.request === undefined);
          }
          for (const m of messages) assert.equal(seen.get(m), 1);
          // Requests leave in the order they came, whatever they leave for (the span assembler numbers
          // the requests of its exchanges by this).
          assert.deepEqual(
            out.flatMap((x) => (x.request === undefined ? [] : [x.request])),
            messages.filter((m) => m.kind === 'request'),
          );
          assert.equal(pairer.pendingRequests, 0);
          assert.equal(pairer.heldResponses, 0);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

/** A pairer's state through JSON and back, as the span assembler's changelog carries it. */
function restored(pairer: Http1ExchangePairer): Http1ExchangePairer {
  return Http1ExchangePairer.fromState(JSON.parse(JSON.stringify(pairer.toState())));
}

/**
 * Pushes `messages` to one pairer without a break and to another saved and restored (through JSON)
 * before message `cut`, then closes both: the same exchanges, message for message.
 */
function assertResumes(messages: readonly Http1Message[], cut: number, expire?: bigint): Http1Exchange[] {
  const run = (restoreAt: number) => {
    let pairer = new Http1ExchangePairer();
    const out: Http1Exchange[] = [];
    messages.forEach((m, i) => {
      if (i === restoreAt) pairer = restored(pairer);
      out.push(...pairer.push(m));
    });
    if (restoreAt >= messages.length) pairer = restored(pairer);
    if (expire !== undefined) out.push(...pairer.expire(expire, 1n));
    const tunnel = pairer.tunnel;
    out.push(...pairer.close(10_000n));
    return { out, tunnel };
  };
  const whole = run(-1);
  const resumed = run(cut);
  assert.deepEqual(resumed.out, whole.out);
  assert.equal(resumed.tunnel, whole.tunnel);
  return resumed.out;
}

describe('Http1ExchangePairer state (toState / fromState)', () => {
  test('a fresh pairer: nothing waiting, nothing held, idle', () => {
    assert.deepEqual(new Http1ExchangePairer().toState(), { waiting: [], held: [], tunnel: false });
    assert.equal(new Http1ExchangePairer().idle, true);
  });

  test('pipelined requests waiting across a restore pair in order; tags and flags are kept', () => {
    const messages = [
      msg(GET_A, 1, 1, { tag: 11 }),
      msg(GET_B, 1, 1, { tag: 11 }),
      msg(GET_C, 1, 2, { tag: 12, resync: true }),
      msg(RESPONSE_200_A, 3, 3),
      msg(RESPONSE_200_B, 3, 3),
      msg(RESPONSE_200_C, 3, 4),
    ];
    const p = new Http1ExchangePairer();
    for (const m of messages.slice(0, 3)) p.push(m);
    const state = p.toState();
    assert.equal(state.waiting.length, 3);
    assert.deepEqual(
      [state.waiting[2]!.request.startNs, state.waiting[2]!.request.tag, state.waiting[2]!.request.resync],
      ['1', 12, true],
    );
    for (const cut of [1, 2, 3, 4, 5]) {
      const out = assertResumes(messages, cut);
      assert.deepEqual(out.map(summary), [
        'GET /a -> 200 [1-3] complete',
        'GET /b -> 200 [1-3] complete',
        'GET /c -> 200 [1-4] complete',
      ]);
      assert.equal(out[2]!.request!.tag, 12);
    }
  });

  test('a held response (upload still in flight) and an interim 100 survive a restore', () => {
    const messages = [
      msg(RESPONSE_201_CREATED, 5, 5),
      msg(`${POST_EXPECT_CONTINUE_HEAD}`, 1, 6),
      msg(POST_EXPECT_CONTINUE_HEAD, 10, 10),
      msg(RESPONSE_100_CONTINUE, 11, 11),
      msg(RESPONSE_201_CREATED, 12, 13),
    ];
    for (let cut = 0; cut <= messages.length; cut++) assertResumes(messages, cut);
    const p = new Http1ExchangePairer();
    p.push(messages[0]!);
    assert.equal(p.toState().held.length, 1);
    p.push(messages[1]!);
    p.push(messages[2]!);
    p.push(messages[3]!);
    assert.deepEqual(
      p.toState().waiting[0]!.interim.map((m) => m.head.statusCode),
      [100],
    );
  });

  test('lost sync and incomplete messages: a resync response after a restore still skips lost answers', () => {
    const messages = [
      msg(GET_A, 1, 1),
      msg(GET_B, 2, 2),
      msg(GET_C, 3, 3, { complete: false, incompleteReason: 'unknown-bytes' }),
      msg(RESPONSE_200_C, 6, 6, { resync: true }),
    ];
    for (let cut = 0; cut <= messages.length; cut++) {
      const out = assertResumes(messages, cut);
      assert.deepEqual(
        out.map((x) => x.incompleteReason ?? 'complete'),
        ['response-lost', 'response-lost', 'request-incomplete'],
      );
    }
  });

  test('a tunnel (101) is part of the state', () => {
    const p = new Http1ExchangePairer();
    p.push(msg(UPGRADE_WEBSOCKET, 1, 1));
    p.push(msg(RESPONSE_101_WEBSOCKET, 2, 2));
    assert.equal(p.idle, false);
    assert.equal(restored(p).tunnel, true);
  });

  test('property: saved and restored before any message, a pairer pairs as it would have', () => {
    const kinds = [
      GET_A,
      GET_B,
      RESPONSE_200_A,
      RESPONSE_100_CONTINUE,
      RESPONSE_200_B,
      CONNECT_REQUEST,
      RESPONSE_CONNECT_200,
    ];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...kinds), fc.nat(100), fc.nat(10), fc.boolean(), fc.nat(3)), {
          maxLength: 25,
        }),
        fc.nat(25),
        fc.boolean(),
        (specs, cut, useExpire) => {
          const messages = specs.map(([w, s, d, resync, tag]) => msg(w, s, s + d, { resync, tag }));
          assertResumes(messages, cut % (messages.length + 1), useExpire ? 60n : undefined);
        },
      ),
      { numRuns: 500 },
    );
  });
});
