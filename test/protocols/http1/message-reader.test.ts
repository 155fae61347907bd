import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Http1MessageReader } from '../../../protocols/http1/message-reader.ts';
import { REDACTION_MARKER } from '../../../protocols/http1/redact.ts';
import type { Http1Message, Segment } from '../../../protocols/http1/types.ts';
import {
  bytes,
  CLOSE_DELIMITED_BODY,
  CLOSE_DELIMITED_RESPONSE_HEAD,
  GET_A,
  GET_B,
  GET_C,
  POST_JSON_HEAD,
  RESPONSE_200_HELLO,
  SIMPLE_GET,
} from './fixtures.ts';

const EMPTY = new Uint8Array(0);
const head = (length: number, data: string | null, ends = false): Segment => ({
  kind: 'head',
  length,
  data: data === null ? EMPTY : bytes(data),
  endsMessage: ends,
});
const body = (length: number, ends = false): Segment => ({
  kind: 'body',
  length,
  data: null,
  endsMessage: ends,
});
const unknown = (length: number): Segment => ({ kind: 'unknown', length, data: null, endsMessage: false });

const RESP_HELLO_HEAD = RESPONSE_200_HELLO.slice(0, RESPONSE_200_HELLO.indexOf('\r\n\r\n') + 4);

type Feed = ReadonlyArray<readonly [ts: number, segments: readonly Segment[]]>;

function run(feed: Feed, closeAt?: number): { messages: Http1Message[]; reader: Http1MessageReader } {
  const reader = new Http1MessageReader();
  const messages: Http1Message[] = [];
  for (const [ts, segs] of feed) messages.push(...reader.push(BigInt(ts), segs));
  if (closeAt !== undefined) messages.push(...reader.close(BigInt(closeAt)));
  return { messages, reader };
}

/** A compact view of a message for table assertions. */
function summary(m: Http1Message): string {
  const what = m.kind === 'request' ? `${m.head.method} ${m.head.target}` : `${m.head.statusCode}`;
  const flags = [m.complete ? 'complete' : `incomplete:${m.incompleteReason}`];
  if (m.truncatedHead) flags.push('truncated');
  if (m.resync) flags.push('resync');
  return `${what} [${m.startNs}-${m.endNs}] wire=${m.wireBytes} body=${m.bodyBytes} ${flags.join(' ')}`;
}

interface Case {
  readonly name: string;
  readonly feed: Feed;
  readonly closeAt?: number;
  readonly expect: readonly string[];
  readonly check?: (messages: Http1Message[], reader: Http1MessageReader) => void;
}

const cases: Case[] = [
  {
    name: 'simple GET',
    feed: [[1, [head(SIMPLE_GET.length, SIMPLE_GET, true)]]],
    expect: [`GET /index.html [1-1] wire=${SIMPLE_GET.length} body=0 complete`],
  },
  {
    name: 'head split across 3 events: starts at the first, data on the last',
    feed: [
      [1, [head(10, null)]],
      [2, [head(30, null)]],
      [3, [head(SIMPLE_GET.length - 40, SIMPLE_GET, true)]],
    ],
    expect: [`GET /index.html [1-3] wire=${SIMPLE_GET.length} body=0 complete`],
  },
  {
    name: 'response body spanning gaps; endNs is the event that ended it',
    feed: [
      [1, [head(RESP_HELLO_HEAD.length, RESP_HELLO_HEAD), body(5)]],
      [2, [body(4)]],
      [3, [body(4, true)]],
    ],
    expect: [`200 [1-3] wire=${RESP_HELLO_HEAD.length + 13} body=13 complete`],
  },
  {
    name: 'pipelining: three messages in one event',
    feed: [
      [
        7,
        [head(GET_A.length, GET_A, true), head(GET_B.length, GET_B, true), head(GET_C.length, GET_C, true)],
      ],
    ],
    expect: [
      `GET /a [7-7] wire=${GET_A.length} body=0 complete`,
      `GET /b [7-7] wire=${GET_B.length} body=0 complete`,
      `GET /c [7-7] wire=${GET_C.length} body=0 complete`,
    ],
  },
  {
    name: 'truncated head at the cap (in the middle of an Authorization header)',
    feed: [[1, [head(40, `GET /x HTTP/1.1\r\nHost: a\r\nAuthorization: ${REDACTION_MARKER}`), unknown(900)]]],
    expect: ['GET /x [1-1] wire=40 body=0 incomplete:truncated-head truncated'],
    check: ([m]) => {
      assert.deepEqual(m!.head.headers, [
        ['Host', 'a'],
        ['Authorization', REDACTION_MARKER],
      ]);
    },
  },
  {
    name: 'a cut head released by a zero-length segment, then the next message',
    feed: [
      [1, [head(28, null)]],
      [2, [head(0, 'GET /a HTTP/1.1\r\nCookie: [REDACTED]'), head(GET_B.length, GET_B, true)]],
    ],
    expect: [
      'GET /a [1-2] wire=28 body=0 incomplete:truncated-head truncated',
      `GET /b [2-2] wire=${GET_B.length} body=0 complete`,
    ],
  },
  {
    name: 'a new head interrupts a body that never ended (lost events)',
    feed: [
      [1, [head(POST_JSON_HEAD.length, POST_JSON_HEAD), body(7)]],
      [2, [head(GET_A.length, GET_A, true)]],
    ],
    expect: [
      `POST /api/orders [1-1] wire=${POST_JSON_HEAD.length + 7} body=7 incomplete:interrupted`,
      `GET /a [2-2] wire=${GET_A.length} body=0 complete`,
    ],
  },
  {
    name: 'unknown bytes end the open message and mark the next one resync',
    feed: [
      [1, [head(POST_JSON_HEAD.length, POST_JSON_HEAD), body(7)]],
      [2, [body(10), unknown(50)]],
      [3, [head(GET_A.length, GET_A, true)]],
    ],
    expect: [
      `POST /api/orders [1-2] wire=${POST_JSON_HEAD.length + 17} body=17 incomplete:unknown-bytes`,
      `GET /a [3-3] wire=${GET_A.length} body=0 complete resync`,
    ],
  },
  {
    name: 'capture starting mid-body: body bytes without a head are counted and skipped',
    feed: [
      [1, [body(100)]],
      [2, [body(20, true)]],
      [3, [head(RESP_HELLO_HEAD.length, RESP_HELLO_HEAD), body(13, true)]],
    ],
    expect: [`200 [3-3] wire=${RESP_HELLO_HEAD.length + 13} body=13 complete resync`],
    check: (_, r) => assert.equal(r.counters.orphanBodyBytes, 120),
  },
  {
    name: 'close-delimited response completes at close',
    feed: [
      [1, [head(CLOSE_DELIMITED_RESPONSE_HEAD.length, CLOSE_DELIMITED_RESPONSE_HEAD), body(10)]],
      [2, [body(CLOSE_DELIMITED_BODY.length - 10)]],
    ],
    closeAt: 9,
    expect: [
      `200 [1-9] wire=${CLOSE_DELIMITED_RESPONSE_HEAD.length + CLOSE_DELIMITED_BODY.length} body=${CLOSE_DELIMITED_BODY.length} complete`,
    ],
  },
  {
    name: "close-delimited response ended by the collector's close marker",
    feed: [
      [1, [head(CLOSE_DELIMITED_RESPONSE_HEAD.length, CLOSE_DELIMITED_RESPONSE_HEAD), body(10)]],
      [5, [body(0, true)]],
    ],
    expect: [`200 [1-5] wire=${CLOSE_DELIMITED_RESPONSE_HEAD.length + 10} body=10 complete`],
  },
  {
    name: 'a request body cut by the close is incomplete',
    feed: [[1, [head(POST_JSON_HEAD.length, POST_JSON_HEAD), body(7)]]],
    closeAt: 4,
    expect: [`POST /api/orders [1-4] wire=${POST_JSON_HEAD.length + 7} body=7 incomplete:connection-closed`],
  },
  {
    name: 'a head that does not parse is counted and its message dropped',
    feed: [
      [1, [head(20, 'GET / HTTP/1.1\r\nHost : x\r\n\r\n', true)]],
      [2, [head(GET_A.length, GET_A, true)]],
    ],
    expect: [`GET /a [2-2] wire=${GET_A.length} body=0 complete resync`],
    check: (_, r) => assert.deepEqual(r.counters.invalidHeads, { 'whitespace-before-colon': 1 }),
  },
  {
    name: 'head segments whose bytes never came (records lost upstream)',
    feed: [
      [1, [head(20, null)]],
      [2, [body(30, true)]],
      [3, [head(GET_A.length, GET_A, true)]],
    ],
    expect: [`GET /a [3-3] wire=${GET_A.length} body=0 complete resync`],
    check: (_, r) => assert.equal(r.counters.headsLost, 1),
  },
];

describe('Http1MessageReader', () => {
  for (const c of cases) {
    test(c.name, () => {
      const { messages, reader } = run(c.feed, c.closeAt);
      assert.deepEqual(messages.map(summary), c.expect);
      c.check?.(messages, reader);
    });
  }

  test('expire ends a message idle past the timeout', () => {
    const reader = new Http1MessageReader();
    reader.push(10n, [head(POST_JSON_HEAD.length, POST_JSON_HEAD), body(3)]);
    assert.equal(reader.openSinceNs, 10n);
    assert.deepEqual(reader.expire(15n, 10n), []);
    const [m] = reader.expire(20n, 10n);
    assert.equal(m!.incompleteReason, 'timeout');
    assert.equal(reader.openSinceNs, null);
    assert.deepEqual(reader.counters.incomplete, { timeout: 1 });
  });

  test('property: random segment streams never throw; messages are well-formed', () => {
    const seg = fc.oneof(
      fc.record({
        kind: fc.constant<'head'>('head'),
        length: fc.nat(200),
        data: fc.oneof(
          fc.constant(EMPTY),
          fc.constantFrom(GET_A, RESP_HELLO_HEAD, POST_JSON_HEAD, 'GET /x HTTP/1.1\r\nA', 'junk').map(bytes),
          fc.uint8Array({ maxLength: 40 }),
        ),
        endsMessage: fc.boolean(),
      }),
      fc.record({
        kind: fc.constant<'body'>('body'),
        length: fc.nat(500),
        data: fc.constant(null),
        endsMessage: fc.boolean(),
      }),
      fc.record({
        kind: fc.constant<'unknown'>('unknown'),
        length: fc.nat(500),
        data: fc.constant(null),
        endsMessage: fc.constant(false),
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.array(seg, { maxLength: 4 }), { maxLength: 30 }), (events) => {
        const reader = new Http1MessageReader();
        const out: Http1Message[] = [];
        events.forEach((segs, i) => {
          out.push(...reader.push(BigInt(i), segs));
        });
        out.push(...reader.close(BigInt(events.length)));
        for (const m of out) {
          assert.ok(m.wireBytes >= m.bodyBytes && m.bodyBytes >= 0);
          assert.ok(m.endNs >= m.startNs);
          assert.equal(m.complete, m.incompleteReason === undefined);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

/** A reader's state through JSON and back, as the span assembler's changelog carries it. */
function restored(reader: Http1MessageReader): Http1MessageReader {
  return Http1MessageReader.fromState(JSON.parse(JSON.stringify(reader.toState())));
}

/**
 * Feeds `feed` to one reader without a break, and again with the reader saved (through JSON) and
 * restored before event `cut`: the messages, and the lost-sync mark at the end, must be the same.
 */
function assertResumes(feed: Feed, cut: number, closeAt?: number): Http1Message[] {
  const whole = run(feed, closeAt);
  let reader = new Http1MessageReader();
  const messages: Http1Message[] = [];
  feed.forEach(([ts, segs], i) => {
    if (i === cut) reader = restored(reader);
    messages.push(...reader.push(BigInt(ts), segs, 100 + i));
  });
  if (cut >= feed.length) reader = restored(reader);
  if (closeAt !== undefined) messages.push(...reader.close(BigInt(closeAt)));
  // The uninterrupted run gave no tags; every message here carries the tag of the event that opened it.
  assert.deepEqual(
    messages.map((m) => {
      const { tag: _tag, ...rest } = m;
      return rest;
    }),
    whole.messages,
  );
  for (const m of messages) assert.equal(m.tag, 100 + feed.findIndex(([ts]) => BigInt(ts) === m.startNs));
  assert.equal(reader.syncLost, whole.reader.syncLost);
  assert.equal(reader.openSinceNs, whole.reader.openSinceNs);
  return messages;
}

describe('Http1MessageReader state (toState / fromState)', () => {
  test('a fresh reader: nothing open, sync not lost, idle', () => {
    assert.deepEqual(new Http1MessageReader().toState(), { open: null, resync: false });
    assert.equal(Http1MessageReader.fromState({ open: null, resync: false }).idle, true);
  });

  test('mid-head: a head split over events goes on after a restore, started at its first event', () => {
    const feed: Feed = [
      [1, [head(10, null)]],
      [2, [head(30, null)]],
      [3, [head(SIMPLE_GET.length - 40, SIMPLE_GET, true)]],
    ];
    const state = (() => {
      const r = new Http1MessageReader();
      r.push(1n, feed[0]![1], 7);
      return r.toState();
    })();
    assert.deepEqual(state, {
      open: { head: null, startNs: '1', lastNs: '1', wireBytes: 10, bodyBytes: 0, resync: false, tag: 7 },
      resync: false,
    });
    for (const cut of [1, 2]) {
      const [m] = assertResumes(feed, cut);
      assert.equal(m!.tag, 100, 'the tag of the event that opened the head');
      assert.equal(m!.startNs, 1n);
    }
  });

  test('mid-body: a response body goes on after a restore, its bytes counted once', () => {
    const feed: Feed = [
      [1, [head(RESP_HELLO_HEAD.length, RESP_HELLO_HEAD), body(5)]],
      [2, [body(4)]],
      [3, [body(4, true)]],
    ];
    for (const cut of [1, 2]) {
      const [m] = assertResumes(feed, cut);
      assert.equal(m!.bodyBytes, 13);
      assert.equal(m!.head.statusCode, 200);
    }
  });

  test('pipelined: messages that ended before the save are not in the state; the open one is', () => {
    const feed: Feed = [
      [
        7,
        [
          head(GET_A.length, GET_A, true),
          head(GET_B.length, GET_B, true),
          head(POST_JSON_HEAD.length, POST_JSON_HEAD),
        ],
      ],
      [8, [body(7, true), head(GET_C.length, GET_C, true)]],
    ];
    const messages = assertResumes(feed, 1);
    assert.deepEqual(
      messages.map((m) => m.head.target),
      ['/a', '/b', '/api/orders', '/c'],
    );
    const r = new Http1MessageReader();
    r.push(7n, feed[0]![1]);
    assert.equal(r.toState().open?.head?.target, '/api/orders');
  });

  test('lost sync survives a restore: the next message is marked resync', () => {
    const feed: Feed = [
      [1, [head(POST_JSON_HEAD.length, POST_JSON_HEAD), body(7)]],
      [2, [body(10), unknown(50)]],
      [3, [head(GET_A.length, GET_A, true)]],
    ];
    const r = new Http1MessageReader();
    for (const [ts, segs] of feed.slice(0, 2)) r.push(BigInt(ts), segs);
    assert.deepEqual(r.toState(), { open: null, resync: true }, 'nothing open, but sync lost');
    assert.equal(r.idle, false);
    const messages = assertResumes(feed, 2);
    assert.equal(messages.at(-1)!.resync, true);
  });

  test('close after a restore: a close-delimited body completes, anything else is connection-closed', () => {
    assertResumes(
      [
        [
          1,
          [
            head(CLOSE_DELIMITED_RESPONSE_HEAD.length, CLOSE_DELIMITED_RESPONSE_HEAD),
            body(CLOSE_DELIMITED_BODY.length),
          ],
        ],
      ],
      1,
      5,
    );
    assertResumes([[1, [head(POST_JSON_HEAD.length, POST_JSON_HEAD), body(3)]]], 1, 5);
  });

  test('property: saved and restored at any event, a reader reads what it would have read', () => {
    const seg = fc.oneof(
      fc.record({
        kind: fc.constant<'head'>('head'),
        length: fc.nat(200),
        data: fc.oneof(
          fc.constant(EMPTY),
          fc.constantFrom(GET_A, RESP_HELLO_HEAD, POST_JSON_HEAD, 'GET /x HTTP/1.1\r\nA', 'junk').map(bytes),
        ),
        endsMessage: fc.boolean(),
      }),
      fc.record({
        kind: fc.constant<'body'>('body'),
        length: fc.nat(500),
        data: fc.constant(null),
        endsMessage: fc.boolean(),
      }),
      fc.record({
        kind: fc.constant<'unknown'>('unknown'),
        length: fc.nat(500),
        data: fc.constant(null),
        endsMessage: fc.constant(false),
      }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.array(seg, { maxLength: 4 }), { maxLength: 20 }),
        fc.nat(20),
        fc.boolean(),
        (events, cut, close) => {
          const feed: Feed = events.map((segs, i) => [i, segs] as const);
          assertResumes(feed, cut % (feed.length + 1), close ? feed.length : undefined);
        },
      ),
      { numRuns: 500 },
    );
  });
});
