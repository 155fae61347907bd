import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Http1Framer } from '../../../protocols/http1/framer.ts';
import { MAX_HEADER_COUNT, MAX_LINE_BYTES, parseHead } from '../../../protocols/http1/parse-head.ts';
import { REDACTION_MARKER, redactHead } from '../../../protocols/http1/redact.ts';
import type { CapturedEvent, Direction, Role, Segment } from '../../../protocols/http1/types.ts';
import { capture, newKernelModel, splitAt } from './capture-model.ts';
import {
  bytes,
  CHUNKED_BODY,
  CHUNKED_BODY_WITH_TRAILERS,
  CHUNKED_POST_HEAD,
  CHUNKED_RESPONSE,
  CHUNKED_RESPONSE_HEAD,
  CLOSE_DELIMITED_BODY,
  CLOSE_DELIMITED_RESPONSE_HEAD,
  CONNECT_REQUEST,
  GET_A,
  GET_B,
  GET_C,
  HEAD_REQUEST,
  POST_EXPECT_CONTINUE_HEAD,
  POST_JSON,
  POST_JSON_BODY,
  POST_JSON_HEAD,
  REDIS_PING,
  REQUEST_WITH_SECRETS,
  RESPONSE_100_CONTINUE,
  RESPONSE_101_WEBSOCKET,
  RESPONSE_200_A,
  RESPONSE_200_B,
  RESPONSE_200_C,
  RESPONSE_200_EMPTY,
  RESPONSE_200_HELLO,
  RESPONSE_201_CREATED,
  RESPONSE_204,
  RESPONSE_304,
  RESPONSE_407,
  RESPONSE_CONNECT_200,
  RESPONSE_HEAD_1234,
  SECRET,
  SIMPLE_GET,
  TLS_CLIENT_HELLO,
  text,
  UPGRADE_WEBSOCKET,
  UPLOAD_BODY_10,
  WEBSOCKET_FRAME,
} from './fixtures.ts';

// --- helpers --------------------------------------------------------------------------------------

interface EventSpec {
  readonly dir: Direction;
  /** Copied bytes (Latin-1). */
  readonly copied: string;
  /** Wire byte count; default: the copied length. */
  readonly byteCount?: number;
  readonly flag?: boolean;
}

/** A fully copied event. */
function full(dir: Direction, wire: string): EventSpec {
  return { dir, copied: wire };
}

/** An event of which the kernel copied nothing: `n` bytes. */
function gap(dir: Direction, n: number, flag = false): EventSpec {
  return { dir, copied: '', byteCount: n, flag };
}

function toEvent(spec: EventSpec, role: Role): CapturedEvent {
  return {
    direction: spec.dir,
    role,
    copied: bytes(spec.copied),
    byteCount: spec.byteCount ?? spec.copied.length,
    chunkTerminator: spec.flag === true,
  };
}

/** Feeds events, checking on each that the segment lengths add up to the event's byte count. */
function feed(framer: Http1Framer, events: readonly CapturedEvent[]): Segment[][] {
  return events.map((e, i) => {
    const segs = framer.push(e);
    const sum = segs.reduce((n, s) => n + s.length, 0);
    assert.equal(sum, e.byteCount, `event ${i}: segment lengths ${sum} != byteCount ${e.byteCount}`);
    return segs;
  });
}

/** `head:36!` = a head segment of 36 bytes that ends its message; `+data` when it carries bytes. */
function shape(s: Segment): string {
  const data = s.kind === 'head' && s.data !== null && s.data.length > 0 ? '+data' : '';
  return `${s.kind}:${s.length}${s.endsMessage ? '!' : ''}${data}`;
}

function headLen(wire: string): number {
  return wire.indexOf('\r\n\r\n') + 4;
}

function headData(segs: readonly Segment[][]): string[] {
  return segs
    .flat()
    .flatMap((s) => (s.kind === 'head' && s.data !== null && s.data.length > 0 ? [text(s.data)] : []));
}

const H = (n: number, ends = false) => `head:${n}${ends ? '!' : ''}+data`;
const Hpart = (n: number) => `head:${n}`;
const B = (n: number, ends = false) => `body:${n}${ends ? '!' : ''}`;
const U = (n: number) => `unknown:${n}`;

interface Scenario {
  readonly name: string;
  readonly role?: Role;
  readonly events: readonly EventSpec[];
  readonly expect: readonly (readonly string[])[];
  readonly check?: (segs: Segment[][], framer: Http1Framer) => void;
}

// --- scenarios ------------------------------------------------------------------------------------

const RESP_HELLO_HEAD = headLen(RESPONSE_200_HELLO);
const BARE_LF_PROBE = 'GET /a HTTP/1.1\r\nHost: x\nX: y\r\n\r\n';
const OBS_FOLD_PROBE = 'GET /a HTTP/1.1\r\nX: a\r\n b\r\n\r\n';
const LENIENT_RESPONSE_HEAD = 'HTTP/1.1 200 OK\nX: a\n b\nContent-Length: 1\n\n';

const scenarios: Scenario[] = [
  {
    name: 'simple GET and its response',
    events: [full('egress', SIMPLE_GET), full('ingress', RESPONSE_200_HELLO)],
    expect: [[H(SIMPLE_GET.length, true)], [H(RESP_HELLO_HEAD), B(13, true)]],
    check: (segs, f) => {
      assert.deepEqual(headData(segs), [SIMPLE_GET, RESPONSE_200_HELLO.slice(0, RESP_HELLO_HEAD)]);
      assert.equal(f.counters.requests, 1);
      assert.equal(f.counters.responses, 1);
    },
  },
  {
    name: 'keep-alive: three exchanges on one connection',
    events: [
      full('egress', GET_A),
      full('ingress', RESPONSE_200_A),
      full('egress', GET_B),
      full('ingress', RESPONSE_200_B),
      full('egress', GET_C),
      full('ingress', RESPONSE_200_C),
    ],
    expect: [
      [H(GET_A.length, true)],
      [H(headLen(RESPONSE_200_A)), B(1, true)],
      [H(GET_B.length, true)],
      [H(headLen(RESPONSE_200_B)), B(2, true)],
      [H(GET_C.length, true)],
      [H(headLen(RESPONSE_200_C)), B(3, true)],
    ],
  },
  {
    name: 'pipelining 3 deep: three requests in one write, three responses in one read',
    events: [
      full('egress', GET_A + GET_B + GET_C),
      full('ingress', RESPONSE_200_A + RESPONSE_200_B + RESPONSE_200_C),
    ],
    expect: [
      [H(GET_A.length, true), H(GET_B.length, true), H(GET_C.length, true)],
      [
        H(headLen(RESPONSE_200_A)),
        B(1, true),
        H(headLen(RESPONSE_200_B)),
        B(2, true),
        H(headLen(RESPONSE_200_C)),
        B(3, true),
      ],
    ],
    check: (segs) => assert.deepEqual(headData(segs).slice(0, 3), [GET_A, GET_B, GET_C]),
  },
  {
    name: 'head split across 3 events: released whole by the last one',
    events: [
      full('egress', SIMPLE_GET.slice(0, 10)),
      full('egress', SIMPLE_GET.slice(10, 40)),
      full('egress', SIMPLE_GET.slice(40)),
    ],
    expect: [[Hpart(10)], [Hpart(30)], [H(SIMPLE_GET.length - 40, true)]],
    check: (segs) => {
      assert.deepEqual(headData(segs), [SIMPLE_GET]);
      assert.equal(segs[0]![0]!.data!.length, 0);
    },
  },
  {
    name: 'head split inside the final CRLFCRLF',
    events: [full('egress', SIMPLE_GET.slice(0, -3)), full('egress', SIMPLE_GET.slice(-3))],
    expect: [[Hpart(SIMPLE_GET.length - 3)], [H(3, true)]],
  },
  {
    name: 'head and the start of the next one in the same event',
    events: [full('egress', GET_A + GET_B.slice(0, 9)), full('egress', GET_B.slice(9))],
    expect: [[H(GET_A.length, true), Hpart(9)], [H(GET_B.length - 9, true)]],
  },
  {
    name: 'a method prefix at the very end of an event ("GE" + "T /b ...")',
    events: [full('egress', GET_A + 'GE'), full('egress', GET_B.slice(2))],
    expect: [[H(GET_A.length, true), Hpart(2)], [H(GET_B.length - 2, true)]],
    check: (segs) => assert.deepEqual(headData(segs), [GET_A, GET_B]),
  },
  {
    name: 'Content-Length body spanning gaps (budget spent)',
    events: [
      {
        dir: 'egress',
        copied: POST_JSON_HEAD + POST_JSON_BODY.slice(0, 5),
        byteCount: POST_JSON_HEAD.length + 10,
      },
      gap('egress', 10),
      gap('egress', 7),
      full('egress', GET_A),
    ],
    expect: [[H(POST_JSON_HEAD.length), B(10)], [B(10)], [B(7, true)], [H(GET_A.length, true)]],
  },
  {
    name: 'a gap longer than the body: the rest is a message we cannot see',
    events: [full('egress', POST_JSON_HEAD), gap('egress', 27 + 50), full('egress', GET_A)],
    expect: [[H(POST_JSON_HEAD.length)], [B(27, true), U(50)], [H(GET_A.length, true)]],
    check: (_, f) => assert.equal(f.counters.resyncs, 1),
  },
  {
    name: 'chunked response, terminator in copied bytes',
    events: [full('egress', GET_A), full('ingress', CHUNKED_RESPONSE)],
    expect: [[H(GET_A.length, true)], [H(CHUNKED_RESPONSE_HEAD.length), B(CHUNKED_BODY.length, true)]],
  },
  {
    name: 'chunked with trailer fields (RFC 9112 §7.1.2)',
    events: [
      full('egress', GET_A),
      full('ingress', CHUNKED_RESPONSE_HEAD + CHUNKED_BODY_WITH_TRAILERS + RESPONSE_200_A),
    ],
    expect: [
      [H(GET_A.length, true)],
      [
        H(CHUNKED_RESPONSE_HEAD.length),
        B(CHUNKED_BODY_WITH_TRAILERS.length, true),
        H(headLen(RESPONSE_200_A)),
        B(1, true),
      ],
    ],
  },
  {
    name: 'chunked, each chunk line in its own event',
    events: [
      full('egress', GET_A),
      full('ingress', CHUNKED_RESPONSE_HEAD),
      full('ingress', '5\r'),
      full('ingress', '\nhel'),
      full('ingress', 'lo\r\n6;lang=en\r\n world\r'),
      full('ingress', '\n0\r\n\r'),
      full('ingress', '\n'),
    ],
    expect: [
      [H(GET_A.length, true)],
      [H(CHUNKED_RESPONSE_HEAD.length)],
      [B(2)],
      [B(4)],
      [B(22)],
      [B(5)],
      [B(1, true)],
    ],
  },
  {
    name: 'chunked, data skipped across a gap, then terminator via the kernel flag',
    events: [
      full('egress', GET_A),
      {
        dir: 'ingress',
        copied: CHUNKED_RESPONSE_HEAD + '400\r\nabc',
        byteCount: CHUNKED_RESPONSE_HEAD.length + 5 + 1000,
      },
      gap('ingress', 2000),
      gap('ingress', 700, true),
      full('egress', GET_B),
      full('ingress', RESPONSE_200_B),
    ],
    expect: [
      [H(GET_A.length, true)],
      [H(CHUNKED_RESPONSE_HEAD.length), B(1005)],
      [B(2000)],
      [B(700, true)],
      [H(GET_B.length, true)],
      [H(headLen(RESPONSE_200_B)), B(2, true)],
    ],
    check: (_, f) => {
      assert.equal(f.counters.blindChunked, 1);
      assert.equal(f.counters.chunkEndsByTerminator, 1);
    },
  },
  {
    name: 'chunked request body (client side), terminator flagged on an uncopied write',
    events: [
      {
        dir: 'egress',
        copied: CHUNKED_POST_HEAD + '1000\r\n',
        byteCount: CHUNKED_POST_HEAD.length + 6 + 4096,
      },
      gap('egress', 4096 + 2 + 5, true),
      full('ingress', RESPONSE_201_CREATED),
    ],
    expect: [
      [H(CHUNKED_POST_HEAD.length), B(6 + 4096)],
      [B(4103, true)],
      [H(RESPONSE_201_CREATED.length, true)],
    ],
  },
  {
    name: 'HEAD: the response has a Content-Length but no body (RFC 9110 §9.3.2)',
    events: [full('egress', HEAD_REQUEST + GET_A), full('ingress', RESPONSE_HEAD_1234 + RESPONSE_200_A)],
    expect: [
      [H(HEAD_REQUEST.length, true), H(GET_A.length, true)],
      [H(RESPONSE_HEAD_1234.length, true), H(headLen(RESPONSE_200_A)), B(1, true)],
    ],
  },
  {
    name: '204 and 304 have no body whatever their fields say',
    events: [
      full('egress', GET_A + GET_B + GET_C),
      full('ingress', RESPONSE_204 + RESPONSE_304 + RESPONSE_200_C),
    ],
    expect: [
      [H(GET_A.length, true), H(GET_B.length, true), H(GET_C.length, true)],
      [H(RESPONSE_204.length, true), H(RESPONSE_304.length, true), H(headLen(RESPONSE_200_C)), B(3, true)],
    ],
  },
  {
    name: '100-continue: the interim response does not answer the request',
    events: [
      full('egress', POST_EXPECT_CONTINUE_HEAD),
      full('ingress', RESPONSE_100_CONTINUE),
      full('egress', UPLOAD_BODY_10),
      full('ingress', RESPONSE_201_CREATED),
      full('egress', HEAD_REQUEST),
      full('ingress', RESPONSE_HEAD_1234),
    ],
    expect: [
      [H(POST_EXPECT_CONTINUE_HEAD.length)],
      [H(RESPONSE_100_CONTINUE.length, true)],
      [B(10, true)],
      [H(RESPONSE_201_CREATED.length, true)],
      [H(HEAD_REQUEST.length, true)],
      [H(RESPONSE_HEAD_1234.length, true)],
    ],
    check: (_, f) => assert.equal(f.counters.orphanResponses, 0),
  },
  {
    name: '101 Switching Protocols: everything after is tunnel bytes',
    events: [
      full('egress', UPGRADE_WEBSOCKET),
      full('ingress', RESPONSE_101_WEBSOCKET + WEBSOCKET_FRAME),
      full('egress', WEBSOCKET_FRAME),
      full('egress', 'GET / HTTP/1.1\r\n\r\n'),
    ],
    expect: [
      [H(UPGRADE_WEBSOCKET.length, true)],
      [H(RESPONSE_101_WEBSOCKET.length, true), U(7)],
      [U(7)],
      [U(18)],
    ],
    check: (_, f) => {
      assert.equal(f.counters.tunnels, 1);
      assert.equal(f.counters.tunnelBytes, 7 + 7 + 18);
      assert.equal(f.counters.unknownBytes, 0);
    },
  },
  {
    name: 'CONNECT 200: a tunnel in both directions',
    events: [
      full('egress', CONNECT_REQUEST),
      full('ingress', RESPONSE_CONNECT_200),
      full('egress', TLS_CLIENT_HELLO),
      { dir: 'ingress', copied: '', byteCount: 5000 },
    ],
    expect: [
      [H(CONNECT_REQUEST.length, true)],
      [H(RESPONSE_CONNECT_200.length, true)],
      [U(TLS_CLIENT_HELLO.length)],
      [U(5000)],
    ],
  },
  {
    name: 'CONNECT refused (407): the connection stays HTTP',
    events: [full('egress', CONNECT_REQUEST), full('ingress', RESPONSE_407), full('egress', GET_A)],
    expect: [[H(CONNECT_REQUEST.length, true)], [H(RESPONSE_407.length, true)], [H(GET_A.length, true)]],
    check: (_, f) => assert.equal(f.counters.tunnels, 0),
  },
  {
    name: 'response without request (capture started mid-connection)',
    events: [full('ingress', RESPONSE_200_HELLO), full('egress', GET_A), full('ingress', RESPONSE_200_A)],
    expect: [
      [H(RESP_HELLO_HEAD), B(13, true)],
      [H(GET_A.length, true)],
      [H(headLen(RESPONSE_200_A)), B(1, true)],
    ],
    check: (_, f) => assert.equal(f.counters.orphanResponses, 1),
  },
  {
    name: 'close-delimited response body ends with the connection (RFC 9112 §6.3 item 8)',
    events: [
      full('egress', GET_A),
      full('ingress', CLOSE_DELIMITED_RESPONSE_HEAD + CLOSE_DELIMITED_BODY),
      gap('ingress', 3000),
    ],
    expect: [
      [H(GET_A.length, true)],
      [H(CLOSE_DELIMITED_RESPONSE_HEAD.length), B(CLOSE_DELIMITED_BODY.length)],
      [B(3000)],
    ],
    check: (_, f) => {
      const closed = f.close();
      assert.deepEqual(closed.ingress.map(shape), ['body:0!']);
      assert.deepEqual(closed.egress, []);
    },
  },
  {
    name: 'truncated head: the cap cuts an Authorization value; no secret byte leaves',
    events: [
      {
        dir: 'egress',
        copied: REQUEST_WITH_SECRETS.slice(0, REQUEST_WITH_SECRETS.indexOf('Bearer') + 10),
        byteCount: REQUEST_WITH_SECRETS.length,
      },
      full('ingress', RESPONSE_200_A),
      full('egress', GET_B),
    ],
    expect: [
      [
        H(REQUEST_WITH_SECRETS.indexOf('Bearer') + 10),
        U(REQUEST_WITH_SECRETS.length - REQUEST_WITH_SECRETS.indexOf('Bearer') - 10),
      ],
      [H(headLen(RESPONSE_200_A)), B(1, true)],
      [H(GET_B.length, true)],
    ],
    check: (segs, f) => {
      const data = headData(segs)[0]!;
      assert.ok(data.endsWith(`Authorization: ${REDACTION_MARKER}`), data);
      assert.ok(data.includes(`access_token=${REDACTION_MARKER}`), data);
      assert.ok(!data.includes('~') && !data.includes('^'));
      assert.equal(f.counters.truncatedHeads, 1);
    },
  },
  {
    name: 'truncated head across events: the budget runs out at an event boundary',
    events: [
      full('egress', 'GET / HTTP/1.1\r\nHost: a\r\nAuthori'),
      gap('egress', 500),
      full('egress', GET_B),
    ],
    expect: [[Hpart(32)], ['head:0+data', U(500)], [H(GET_B.length, true)]],
    check: (segs) => assert.deepEqual(headData(segs)[0], 'GET / HTTP/1.1\r\nHost: a\r\n'),
  },
  {
    name: 'lost events: a head is cut by the next message start',
    events: [full('egress', 'GET /a HTTP/1.1\r\nCookie: ' + SECRET.slice(0, 3)), full('egress', GET_B)],
    expect: [[Hpart(28)], ['head:0+data', H(GET_B.length, true)]],
    check: (segs) => {
      assert.equal(headData(segs)[0], `GET /a HTTP/1.1\r\nCookie: ${REDACTION_MARKER}`);
      assert.equal(headData(segs)[1], GET_B);
    },
  },
  {
    name: 'garbage (TLS on an HTTP port), then HTTP again at a buffer start',
    events: [full('egress', TLS_CLIENT_HELLO), gap('egress', 300), full('egress', GET_A)],
    expect: [[U(TLS_CLIENT_HELLO.length)], [U(300)], [H(GET_A.length, true)]],
    check: (_, f) => {
      assert.equal(f.counters.unframedStarts, 1);
      assert.equal(f.counters.resyncs, 1);
    },
  },
  {
    name: 'not HTTP at all (Redis)',
    events: [full('egress', REDIS_PING), full('ingress', '+PONG\r\n')],
    expect: [[U(REDIS_PING.length)], [U(7)]],
  },
  {
    name: 'resync on a line start inside copied garbage',
    events: [full('egress', 'garbage line\r\n' + GET_A)],
    expect: [[U(14), H(GET_A.length, true)]],
  },
  {
    name: 'capture starting mid-body, then resync on the next response',
    events: [
      gap('ingress', 1500),
      { dir: 'ingress', copied: '', byteCount: 1500 },
      full('egress', GET_A),
      full('ingress', RESPONSE_200_A),
    ],
    expect: [[U(1500)], [U(1500)], [H(GET_A.length, true)], [H(headLen(RESPONSE_200_A)), B(1, true)]],
  },
  {
    name: 'capture starting mid-body with copied bytes (budget still running)',
    events: [full('ingress', '"}]}\r\n'), full('ingress', RESPONSE_200_HELLO)],
    expect: [[U(6)], [H(RESP_HELLO_HEAD), B(13, true)]],
  },
  {
    name: 'a new message start interrupts a body that lost its end (lost events)',
    events: [full('egress', POST_JSON_HEAD + '{"item"'), full('egress', GET_A)],
    expect: [[H(POST_JSON_HEAD.length), B(7)], [H(GET_A.length, true)]],
    check: (_, f) => assert.equal(f.counters.interruptedBodies, 1),
  },
  {
    name: 'extra CRLF after a POST body (RFC 9112 §2.2): part of the next head',
    events: [full('egress', POST_JSON + '\r\n' + GET_A)],
    expect: [[H(POST_JSON_HEAD.length), B(27, true), H(GET_A.length + 2, true)]],
    check: (segs, f) => {
      assert.deepEqual(headData(segs), [POST_JSON_HEAD, '\r\n' + GET_A]);
      assert.equal(f.counters.unknownBytes, 0);
      assert.equal(f.counters.requests, 2);
    },
  },
  {
    name: 'stray CRLF, then the next start line split across events ("\\r\\nGE" + "T /b ...")',
    events: [full('egress', POST_JSON + '\r\nGE'), full('egress', GET_B.slice(2))],
    expect: [[H(POST_JSON_HEAD.length), B(27, true), Hpart(4)], [H(GET_B.length - 2, true)]],
    check: (segs, f) => {
      assert.deepEqual(headData(segs), [POST_JSON_HEAD, '\r\n' + GET_B]);
      assert.equal(f.counters.resyncs, 0);
      assert.equal(f.counters.unknownBytes, 0);
    },
  },
  {
    name: 'stray CRLF alone, then "GE", then the rest: still in step',
    events: [full('egress', POST_JSON + '\r\n'), full('egress', 'GE'), full('egress', GET_B.slice(2))],
    expect: [[H(POST_JSON_HEAD.length), B(27, true), Hpart(2)], [Hpart(2)], [H(GET_B.length - 2, true)]],
    check: (segs, f) => {
      assert.deepEqual(headData(segs), [POST_JSON_HEAD, '\r\n' + GET_B]);
      assert.equal(f.counters.unknownBytes, 0);
    },
  },
  {
    name: 'stray CRLF alone, then a whole request: the empty line is not a head given up',
    events: [full('egress', GET_A), full('egress', '\r\n'), full('egress', GET_B)],
    expect: [[H(GET_A.length, true)], [Hpart(2)], [H(GET_B.length, true)]],
    check: (segs, f) => {
      assert.deepEqual(headData(segs), [GET_A, '\r\n' + GET_B]);
      assert.equal(f.counters.truncatedHeads, 0);
    },
  },
  {
    name: 'stray bare-LF empty line split from a CR-less prefix: "\\r" + "\\nGET ..."',
    events: [full('egress', GET_A + '\r'), full('egress', '\n' + GET_B)],
    expect: [[H(GET_A.length, true), Hpart(1)], [H(GET_B.length + 1, true)]],
  },
  {
    name: 'invalid request head: its request line pairs with the 400; nothing after it is framed (the server closed)',
    events: [
      full('egress', 'GET / HTTP/1.1\r\nHost : smuggle\r\n\r\n'),
      full('egress', GET_A),
      full('ingress', 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'),
    ],
    expect: [[H(34)], [U(GET_A.length)], [H(47)]],
    check: (segs, f) => {
      assert.deepEqual(
        headData(segs)[0],
        'GET / HTTP/1.1\r\n',
        'the request line only: the fields are where the fault is',
      );
      assert.deepEqual(f.counters.invalidHeads, { 'whitespace-before-colon': 1 });
      assert.equal(f.counters.rejectedRequests, 1);
      assert.equal(f.counters.requests, 1);
      assert.equal(f.counters.orphanResponses, 0, 'the 400 answers the rejected request');
    },
  },
  {
    name: 'smuggling probe: a bare LF hides a second request in the same write',
    events: [full('egress', BARE_LF_PROBE + GET_B)],
    expect: [[H(BARE_LF_PROBE.length), U(GET_B.length)]],
    check: (segs, f) => {
      assert.deepEqual(headData(segs), ['GET /a HTTP/1.1\r\n']);
      assert.deepEqual(f.counters.invalidHeads, { 'bare-lf': 1 });
      assert.equal(f.counters.requests, 1, 'the probe; never the request behind it');
    },
  },
  {
    name: 'a bare LF ending the request line: the line goes without it',
    events: [full('egress', 'GET /a?q=1 HTTP/1.1\nHost: x\r\n\r\n' + GET_B)],
    expect: [[H(31), U(GET_B.length)]],
    check: (segs, f) => {
      assert.equal(
        parseHead(segs[0]![0]!.data!, 0, segs[0]![0]!.data!.length, { allowTruncated: true }).state,
        'complete',
      );
      assert.deepEqual(f.counters.invalidHeads, { 'bare-lf': 1 });
    },
  },
  {
    name: 'a request head with no valid request line goes out unknown, and the direction is rejected',
    events: [full('egress', 'GET /a HTTP/9.9\r\nHost: x\r\n\r\n'), full('egress', GET_B)],
    expect: [[U(28)], [U(GET_B.length)]],
    check: (_, f) => assert.deepEqual(f.counters.invalidHeads, { 'bad-version': 1 }),
  },
  {
    name: 'smuggling probe: obs-fold in a request',
    events: [full('egress', OBS_FOLD_PROBE), full('egress', GET_B)],
    expect: [[H(OBS_FOLD_PROBE.length)], [U(GET_B.length)]],
    check: (_, f) => assert.deepEqual(f.counters.invalidHeads, { 'obs-fold': 1 }),
  },
  {
    name: 'smuggling probe: "0\\n\\n" ends no chunked request body, and the request behind it is not framed',
    events: [full('egress', CHUNKED_POST_HEAD + '0\n\n' + GET_B)],
    expect: [[H(CHUNKED_POST_HEAD.length), B(1), U(2 + GET_B.length)]],
    check: (_, f) => {
      assert.equal(f.counters.invalidChunked, 1);
      assert.equal(f.counters.rejectedRequests, 1);
      assert.equal(f.counters.requests, 1, 'the POST was run (its handler answers before its body ends)');
    },
  },
  {
    name: 'a response is read leniently: bare LF ends, obs-fold',
    events: [full('egress', GET_A), full('ingress', LENIENT_RESPONSE_HEAD + 'z')],
    expect: [[H(GET_A.length, true)], [H(LENIENT_RESPONSE_HEAD.length), B(1, true)]],
  },
  {
    name: 'invalid response head: lost, resync on the next start',
    events: [
      full('egress', GET_A),
      full('ingress', 'HTTP/1.1 200 OK\r\nX : y\r\n\r\n'),
      full('egress', GET_B),
      full('ingress', RESPONSE_200_B),
    ],
    expect: [
      [H(GET_A.length, true)],
      [U(26)],
      [H(GET_B.length, true)],
      [H(headLen(RESPONSE_200_B)), B(2, true)],
    ],
    check: (_, f) => assert.equal(f.counters.rejectedRequests, 0),
  },
  {
    name: 'an invalid request head found by searching after a loss is no proof of a rejection',
    events: [
      gap('egress', 10),
      full('egress', 'xx\r\nGET / HTTP/1.1\r\nX : y\r\n\r\n'),
      full('egress', GET_A),
    ],
    expect: [[U(10)], [U(29)], [H(GET_A.length, true)]],
    check: (_, f) => assert.equal(f.counters.rejectedRequests, 0),
  },
  {
    name: 'extension methods at a boundary: PURGE, QUERY with a body, PROPPATCH, M-SEARCH',
    events: [
      full('egress', 'PURGE /cache/a HTTP/1.1\r\n\r\n'),
      full('egress', 'QUERY /q HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc'),
      full('egress', 'PROPPATCH /d HTTP/1.1\r\n\r\n'),
      full('egress', 'M-SEARCH * HTTP/1.1\r\n\r\n'),
    ],
    expect: [[H(27, true)], [H(40), B(3, true)], [H(25, true)], [H(23, true)]],
    check: (_, f) => assert.equal(f.counters.requests, 4),
  },
  {
    name: 'any token method on a connection known to be HTTP, after a write split inside it',
    events: [
      full('egress', GET_A),
      full('egress', 'BREW /pot HTTP/1.1\r\n\r\nFO'),
      full('egress', 'O-BAR /x HTTP/1.1\r\n\r\n'),
    ],
    expect: [[H(GET_A.length, true)], [H(22, true), Hpart(2)], [H(21, true)]],
    check: (segs, f) => {
      assert.deepEqual(headData(segs).slice(1), [
        'BREW /pot HTTP/1.1\r\n\r\n',
        'FOO-BAR /x HTTP/1.1\r\n\r\n',
      ]);
      assert.equal(f.counters.requests, 3);
      assert.equal(f.counters.unframedStarts, 0);
    },
  },
  {
    name: 'after a loss, a request line with any method is found again; a body line with a word and a space is not',
    events: [gap('egress', 10), full('egress', 'hello world\r\nBREW /r HTTP/1.1\r\n\r\n')],
    expect: [[U(10)], [U(13), H(20, true)]],
    check: (_, f) => assert.equal(f.counters.resyncs, 1),
  },
  {
    name: 'request with Transfer-Encoding not ending in chunked: framing unknown (RFC 9112 §6.3 item 4)',
    events: [full('egress', 'POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nxxxx')],
    expect: [['head:44+data', U(4)]],
    check: (_, f) => assert.equal(f.counters.invalidFraming, 1),
  },
  {
    name: 'invalid chunk size line',
    events: [full('egress', GET_A), full('ingress', CHUNKED_RESPONSE_HEAD + 'zz\r\nhello')],
    expect: [[H(GET_A.length, true)], [H(CHUNKED_RESPONSE_HEAD.length), U(9)]],
    check: (_, f) => assert.equal(f.counters.invalidChunked, 1),
  },
  {
    name: 'role server: requests arrive as ingress',
    role: 'server',
    events: [full('ingress', GET_A), full('egress', RESPONSE_200_A)],
    expect: [[H(GET_A.length, true)], [H(headLen(RESPONSE_200_A)), B(1, true)]],
  },
  {
    name: 'role unknown: inferred from the first message',
    role: 'unknown',
    events: [full('ingress', GET_A), full('egress', RESPONSE_200_A), full('ingress', RESPONSE_200_B)],
    expect: [[H(GET_A.length, true)], [H(headLen(RESPONSE_200_A)), B(1, true)], [U(RESPONSE_200_B.length)]],
    check: (_, f) => {
      assert.equal(f.role, 'server');
      assert.equal(f.counters.unexpectedKind, 2);
    },
  },
  {
    name: 'zero-byte and empty events produce no segments',
    events: [gap('egress', 0), full('egress', GET_A)],
    expect: [[], [H(GET_A.length, true)]],
  },
];

describe('Http1Framer: scenarios', () => {
  for (const sc of scenarios) {
    test(sc.name, () => {
      const framer = new Http1Framer();
      const segs = feed(
        framer,
        sc.events.map((e) => toEvent(e, sc.role ?? 'client')),
      );
      assert.deepEqual(
        segs.map((s) => s.map(shape)),
        sc.expect,
      );
      for (const s of segs.flat()) {
        if (s.kind !== 'head') assert.equal(s.data, null, 'body/unknown data is not shipped by default');
        if (s.kind === 'unknown') assert.equal(s.endsMessage, false);
      }
      sc.check?.(segs, framer);
    });
  }
});

describe('Http1Framer: options and limits', () => {
  test('shipBodies: body segments carry copies of the copied body bytes; unknown never does', () => {
    const framer = new Http1Framer({ shipBodies: true });
    const events = [
      toEvent(
        { dir: 'egress', copied: POST_JSON_HEAD + POST_JSON_BODY.slice(0, 5), byteCount: POST_JSON.length },
        'client',
      ),
      toEvent(full('egress', TLS_CLIENT_HELLO), 'client'),
    ];
    const segs = feed(framer, events);
    const body = segs[0]![1]!;
    assert.equal(body.kind, 'body');
    assert.equal(body.length, 27);
    assert.equal(text(body.data), POST_JSON_BODY.slice(0, 5));
    assert.notEqual(body.data!.buffer, events[0]!.copied.buffer, 'a copy, not a view of the ring buffer');
    assert.equal(segs[1]![0]!.data, null);
  });

  test('a head over a parse limit (129 fields, an 8 KiB line) is shipped cut, not dropped', () => {
    const many = 'GET /many HTTP/1.1\r\n' + 'X-F: 1\r\n'.repeat(MAX_HEADER_COUNT + 1) + '\r\n';
    const long = 'GET /long HTTP/1.1\r\nX-Big: ' + 'v'.repeat(MAX_LINE_BYTES) + '\r\n\r\n';
    for (const wire of [many, long]) {
      const framer = new Http1Framer();
      const segs = feed(framer, [
        toEvent(full('egress', wire), 'client'),
        toEvent(full('ingress', RESPONSE_200_A), 'client'),
        toEvent(full('egress', GET_B), 'client'),
      ]);
      assert.deepEqual(
        segs.map((s) => s.map(shape)),
        [[H(wire.length)], [H(headLen(RESPONSE_200_A)), B(1, true)], [H(GET_B.length, true)]],
      );
      const shipped = parseHead(segs[0]![0]!.data!, 0, segs[0]![0]!.data!.length, { allowTruncated: true });
      assert.ok(shipped.state === 'complete' && shipped.head.truncated && shipped.head.method === 'GET');
      assert.equal(framer.counters.headsOverLimit, 1);
      assert.equal(framer.counters.truncatedHeads, 1);
      assert.deepEqual(framer.counters.invalidHeads, {});
      assert.equal(framer.counters.orphanResponses, 0, 'the request is pending: its response pairs with it');
      assert.equal(framer.counters.requests, 2);
    }
  });

  test('a head larger than the buffer limit is given up and counted', () => {
    const framer = new Http1Framer({ maxHeadBytes: 100 });
    const big = 'GET / HTTP/1.1\r\nX-Big: ' + 'v'.repeat(200) + '\r\n\r\n';
    const segs = feed(framer, [
      toEvent(full('egress', big), 'client'),
      toEvent(full('egress', GET_A), 'client'),
    ]);
    assert.deepEqual(
      segs.map((s) => s.map(shape)),
      [[H(100), U(big.length - 100)], [H(GET_A.length, true)]],
    );
    assert.equal(framer.counters.headsTooLarge, 1);
  });

  test('a head larger than the limit across events', () => {
    const framer = new Http1Framer({ maxHeadBytes: 100 });
    const part = 'GET / HTTP/1.1\r\nX-Big: ' + 'v'.repeat(60);
    const segs = feed(framer, [
      toEvent(full('egress', part), 'client'),
      toEvent(full('egress', 'v'.repeat(80)), 'client'),
    ]);
    assert.deepEqual(
      segs.map((s) => s.map(shape)),
      [[Hpart(part.length)], [H(100 - part.length), U(80 - (100 - part.length))]],
    );
    assert.equal(framer.counters.headsTooLarge, 1);
  });

  test('pending requests are bounded', () => {
    const framer = new Http1Framer({ maxPendingRequests: 2 });
    feed(framer, [toEvent(full('egress', HEAD_REQUEST + GET_A + GET_B), 'client')]);
    assert.equal(framer.counters.pendingOverflow, 1);
    // The HEAD was forgotten, so its response is framed by its own fields: a body of 1234 bytes.
    const segs = feed(framer, [toEvent(full('ingress', RESPONSE_HEAD_1234), 'client')]);
    assert.deepEqual(segs[0]!.map(shape), [H(RESPONSE_HEAD_1234.length)]);
  });

  test('copied bytes beyond the byte count are clamped and counted', () => {
    const framer = new Http1Framer();
    const segs = feed(framer, [
      { direction: 'egress', role: 'client', copied: bytes(GET_A), byteCount: 10, chunkTerminator: false },
    ]);
    assert.deepEqual(segs[0]!.map(shape), [Hpart(10)]);
    assert.equal(framer.counters.badEvents, 1);
  });

  test('an unusable byte count is counted and yields nothing', () => {
    const framer = new Http1Framer();
    for (const byteCount of [-1, 1.5, Number.NaN]) {
      assert.deepEqual(
        framer.push({
          direction: 'egress',
          role: 'client',
          copied: bytes(GET_A),
          byteCount,
          chunkTerminator: false,
        }),
        [],
      );
    }
    assert.equal(framer.counters.badEvents, 3);
  });

  test('close releases a head still buffered (redacted) and resets', () => {
    const framer = new Http1Framer();
    feed(framer, [toEvent(full('egress', `GET / HTTP/1.1\r\nX-Api-Key: ${SECRET}`), 'client')]);
    const closed = framer.close();
    assert.deepEqual(closed.egress.map(shape), ['head:0+data']);
    assert.equal(text(closed.egress[0]!.data), `GET / HTTP/1.1\r\nX-Api-Key: ${REDACTION_MARKER}`);
    const segs = feed(framer, [toEvent(full('egress', GET_A), 'client')]);
    assert.deepEqual(segs[0]!.map(shape), [H(GET_A.length, true)]);
  });

  test('a head open in the other direction when a tunnel starts is released on its next event', () => {
    const framer = new Http1Framer();
    const segs = feed(framer, [
      toEvent(full('egress', UPGRADE_WEBSOCKET + 'GET /x HTTP/1.1\r\nCookie: a'), 'client'),
      toEvent(full('ingress', RESPONSE_101_WEBSOCKET), 'client'),
      toEvent(full('egress', WEBSOCKET_FRAME), 'client'),
    ]);
    assert.deepEqual(
      segs.map((s) => s.map(shape)),
      [
        [H(UPGRADE_WEBSOCKET.length, true), Hpart(26)],
        [H(RESPONSE_101_WEBSOCKET.length, true)],
        ['head:0+data', U(WEBSOCKET_FRAME.length)],
      ],
    );
    assert.equal(headData(segs)[2], `GET /x HTTP/1.1\r\nCookie: ${REDACTION_MARKER}`);
  });
});

// --- properties -----------------------------------------------------------------------------------

/** One exchange of a generated conversation: the request's and the response's wire bytes. */
interface Pair {
  readonly request: string;
  readonly response: string;
  /** The response body runs to the connection's close: must be the last pair. */
  readonly closeDelimited?: boolean;
}

function chunkedResponse(sizes: readonly number[], trailers: boolean): string {
  let body = '';
  for (const n of sizes) body += `${n.toString(16)}\r\n${'x'.repeat(n)}\r\n`;
  body += trailers ? '0\r\nX-Checksum: 1\r\n\r\n' : '0\r\n\r\n';
  return CHUNKED_RESPONSE_HEAD + body;
}

const pairArb: fc.Arbitrary<Pair> = fc.oneof(
  fc.constant({ request: SIMPLE_GET, response: RESPONSE_200_HELLO }),
  fc.constant({ request: POST_JSON, response: RESPONSE_201_CREATED }),
  fc.constant({ request: HEAD_REQUEST, response: RESPONSE_HEAD_1234 }),
  fc.constant({ request: GET_A, response: RESPONSE_204 }),
  fc.constant({ request: GET_B, response: RESPONSE_304 }),
  fc.constant({ request: REQUEST_WITH_SECRETS, response: RESPONSE_200_EMPTY }),
  fc.constant({
    request: POST_EXPECT_CONTINUE_HEAD + UPLOAD_BODY_10,
    response: RESPONSE_100_CONTINUE + RESPONSE_201_CREATED,
  }),
  fc
    .tuple(fc.array(fc.integer({ min: 1, max: 3000 }), { maxLength: 4 }), fc.boolean())
    .map(([sizes, trailers]) => ({ request: GET_C, response: chunkedResponse(sizes, trailers) })),
  fc.integer({ min: 0, max: 9000 }).map((n) => ({
    request: GET_A,
    response: `HTTP/1.1 200 OK\r\nSet-Cookie: s=${SECRET}\r\nContent-Length: ${n}\r\n\r\n${'b'.repeat(n)}`,
  })),
);

const conversationArb = fc.tuple(
  fc.array(pairArb, { minLength: 1, maxLength: 6 }),
  fc.boolean(), // end with a close-delimited response
);

function conversation(pairs: readonly Pair[], closeDelimited: boolean): Pair[] {
  return closeDelimited
    ? [
        ...pairs,
        {
          request: GET_A,
          response: CLOSE_DELIMITED_RESPONSE_HEAD + CLOSE_DELIMITED_BODY,
          closeDelimited: true,
        },
      ]
    : [...pairs];
}

/** Messages per direction: interim 100 responses count as messages of their own. */
function messageCounts(pairs: readonly Pair[]): { requests: number; responses: number } {
  let responses = 0;
  for (const p of pairs) responses += p.response.startsWith('HTTP/1.1 100') ? 2 : 1;
  return { requests: pairs.length, responses };
}

const cutsArb = fc.array(fc.nat(), { maxLength: 12 });

/** Cut points (absolute offsets) for a stream of `length` bytes from random seeds. */
function cuts(seeds: readonly number[], length: number): number[] {
  return seeds.map((s) => (length === 0 ? 0 : s % length));
}

describe('Http1Framer: properties', () => {
  test('everything copied: exact framing of every message, any split into events, pipelined or not', () => {
    fc.assert(
      fc.property(
        conversationArb,
        cutsArb,
        cutsArb,
        fc.boolean(),
        ([pairs, closeDelim], reqCuts, respCuts, pipelined) => {
          const convo = conversation(pairs, closeDelim);
          const framer = new Http1Framer();
          const copyAll = (direction: Direction, b: Uint8Array): CapturedEvent => ({
            direction,
            role: 'client',
            copied: b,
            byteCount: b.length,
            chunkTerminator: false,
          });
          const events: CapturedEvent[] = [];
          const reqStream = bytes(convo.map((p) => p.request).join(''));
          const respStream = bytes(convo.map((p) => p.response).join(''));
          if (pipelined) {
            for (const b of splitAt(reqStream, cuts(reqCuts, reqStream.length)))
              events.push(copyAll('egress', b));
            for (const b of splitAt(respStream, cuts(respCuts, respStream.length)))
              events.push(copyAll('ingress', b));
          } else {
            // Request bytes always precede the response bytes of the same exchange: interleave by pair.
            for (const p of convo) {
              const rq = bytes(p.request);
              const rs = bytes(p.response);
              for (const b of splitAt(rq, cuts(reqCuts, rq.length))) events.push(copyAll('egress', b));
              for (const b of splitAt(rs, cuts(respCuts, rs.length))) events.push(copyAll('ingress', b));
            }
          }
          const segs = feed(framer, events).flat();
          const closed = framer.close();
          const all = [...segs, ...closed.egress, ...closed.ingress];
          const expected = messageCounts(convo);
          const heads = all.filter((s) => s.kind === 'head' && s.data !== null && s.data.length > 0);
          assert.equal(heads.length, expected.requests + expected.responses);
          assert.equal(all.filter((s) => s.endsMessage).length, expected.requests + expected.responses);
          assert.equal(all.filter((s) => s.kind === 'unknown').length, 0);
          for (const h of heads) {
            assert.equal(parseHead(h.data!).state, 'complete');
            assert.ok(!text(h.data).includes('~') && !text(h.data).includes('^'), 'no secret byte in a head');
          }
          // Heads are exactly the redacted originals, in order.
          const expectedHeads = convo
            .flatMap((p) => [p.request, ...splitResponses(p.response)])
            .map((m) => text(redactHead(bytes(m.slice(0, headLen(m)))).bytes));
          assert.deepEqual(new Set(heads.map((h) => text(h.data))), new Set(expectedHeads));
          assert.equal(framer.counters.badEvents, 0);
        },
      ),
      { numRuns: 400 },
    );
  });

  test('kernel model (4 KiB cap and budget): conserves bytes, never throws, never leaks', () => {
    fc.assert(
      fc.property(conversationArb, cutsArb, cutsArb, ([pairs, closeDelim], reqCuts, respCuts) => {
        const convo = conversation(pairs, closeDelim);
        const framer = new Http1Framer();
        const reqModel = newKernelModel();
        const respModel = newKernelModel();
        const events: CapturedEvent[] = [];
        for (const p of convo) {
          const rq = bytes(p.request);
          const rs = bytes(p.response);
          for (const b of splitAt(rq, cuts(reqCuts, rq.length)))
            events.push(capture(reqModel, 'egress', 'client', b));
          for (const b of splitAt(rs, cuts(respCuts, rs.length)))
            events.push(capture(respModel, 'ingress', 'client', b));
        }
        const segs = feed(framer, events).flat();
        for (const s of segs) {
          if (s.data !== null) assert.ok(!text(s.data).includes('~') && !text(s.data).includes('^'));
        }
        const expected = messageCounts(convo);
        assert.ok(segs.filter((s) => s.endsMessage).length <= expected.requests + expected.responses);
        assert.equal(framer.counters.badEvents, 0);
      }),
      { numRuns: 400 },
    );
  });

  test('mutations (byte flips, gaps, lost events, random flags, roles and directions) never throw or hang', () => {
    const eventArb = fc.record({
      direction: fc.constantFrom<Direction>('egress', 'ingress'),
      role: fc.constantFrom<Role>('client', 'server', 'unknown'),
      copiedSeed: fc.nat(),
      extra: fc.nat(5000),
      chunkTerminator: fc.boolean(),
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
      drop: fc.boolean(),
    });
    fc.assert(
      fc.property(
        conversationArb,
        cutsArb,
        fc.array(eventArb, { maxLength: 30 }),
        ([pairs, cd], seeds, mutations) => {
          const convo = conversation(pairs, cd);
          const stream = bytes(convo.map((p) => p.request + p.response).join(''));
          const bufs = splitAt(stream, cuts(seeds, stream.length));
          const framer = new Http1Framer();
          let total = 0;
          let shipped = 0;
          for (let i = 0; i < Math.max(bufs.length, mutations.length); i++) {
            const m = mutations[i % Math.max(1, mutations.length)];
            const buf = (bufs[i % bufs.length] ?? new Uint8Array(0)).slice();
            if (m === undefined) continue;
            if (m.drop) continue; // a lost event
            for (const [at, v] of m.flips) if (buf.length > 0) buf[at % buf.length] = v;
            const copiedLen = buf.length === 0 ? 0 : m.copiedSeed % (buf.length + 1);
            const ev: CapturedEvent = {
              direction: m.direction,
              role: m.role,
              copied: buf.subarray(0, copiedLen),
              byteCount: buf.length + (copiedLen < buf.length ? m.extra : 0),
              chunkTerminator: m.chunkTerminator,
            };
            total += ev.byteCount;
            const segs = framer.push(ev);
            const sum = segs.reduce((n, s) => n + s.length, 0);
            assert.equal(sum, ev.byteCount);
            shipped += sum;
            for (const s of segs) assert.ok(s.length >= 0 && Number.isSafeInteger(s.length));
          }
          framer.close();
          assert.equal(shipped, total);
          assert.equal(framer.counters.badEvents, 0);
        },
      ),
      { numRuns: 600 },
    );
  });

  test('lost events (flagged afterLoss) and partial copies never splice secret bytes into a shipped head', () => {
    fc.assert(
      fc.property(
        conversationArb,
        cutsArb,
        fc.array(fc.record({ drop: fc.boolean(), copiedSeed: fc.nat(), partial: fc.boolean() }), {
          minLength: 1,
          maxLength: 40,
        }),
        ([pairs, cd], seeds, plan) => {
          const convo = conversation(pairs, cd);
          const framer = new Http1Framer();
          const events: Array<{ direction: Direction; buf: Uint8Array }> = [];
          for (const p of convo) {
            const rq = bytes(p.request);
            const rs = bytes(p.response);
            for (const b of splitAt(rq, cuts(seeds, rq.length))) events.push({ direction: 'egress', buf: b });
            for (const b of splitAt(rs, cuts(seeds, rs.length)))
              events.push({ direction: 'ingress', buf: b });
          }
          const lostBefore = { egress: false, ingress: false };
          events.forEach(({ direction, buf }, i) => {
            const step = plan[i % plan.length]!;
            if (step.drop) {
              lostBefore[direction] = true;
              return;
            }
            const copiedLen = step.partial ? step.copiedSeed % (buf.length + 1) : buf.length;
            const segs = framer.push({
              direction,
              role: 'client',
              copied: buf.subarray(0, copiedLen),
              byteCount: buf.length,
              chunkTerminator: false,
              afterLoss: lostBefore[direction],
            });
            lostBefore[direction] = false;
            assert.equal(
              segs.reduce((n, s) => n + s.length, 0),
              buf.length,
            );
            for (const s of segs) {
              if (s.data !== null)
                assert.ok(!text(s.data).includes('~') && !text(s.data).includes('^'), text(s.data));
            }
          });
          const closed = framer.close();
          for (const s of [...closed.egress, ...closed.ingress]) {
            if (s.data !== null) assert.ok(!text(s.data).includes('~') && !text(s.data).includes('^'));
          }
          assert.equal(framer.counters.badEvents, 0);
        },
      ),
      { numRuns: 600 },
    );
  });

  test('random bytes in random events never throw and conserve bytes', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            direction: fc.constantFrom<Direction>('egress', 'ingress'),
            copied: fc.uint8Array({ maxLength: 200 }),
            extra: fc.nat(300),
            chunkTerminator: fc.boolean(),
          }),
          { maxLength: 40 },
        ),
        (events) => {
          const framer = new Http1Framer();
          for (const e of events) {
            const ev: CapturedEvent = { ...e, role: 'unknown', byteCount: e.copied.length + e.extra };
            const segs = framer.push(ev);
            assert.equal(
              segs.reduce((n, s) => n + s.length, 0),
              ev.byteCount,
            );
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

/** "100 Continue" + final response → both messages. */
function splitResponses(wire: string): string[] {
  if (!wire.startsWith('HTTP/1.1 100')) return [wire];
  const first = headLen(wire);
  return [wire.slice(0, first), wire.slice(first)];
}
