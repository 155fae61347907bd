/**
 * The whole path of this folder: captured events → framer (collector) → segments → message readers
 * (span assembler, one per direction) → pairer → exchanges.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Http1ExchangePairer } from '../../../protocols/http1/exchange-pairer.ts';
import { Http1Framer } from '../../../protocols/http1/framer.ts';
import { Http1MessageReader } from '../../../protocols/http1/message-reader.ts';
import type {
  CapturedEvent,
  Direction,
  Http1Exchange,
  Http1Message,
} from '../../../protocols/http1/types.ts';
import { capture, newKernelModel, splitAt } from './capture-model.ts';
import {
  bytes,
  CHUNKED_RESPONSE,
  CLOSE_DELIMITED_BODY,
  CLOSE_DELIMITED_RESPONSE_HEAD,
  GET_A,
  GET_B,
  GET_C,
  HEAD_REQUEST,
  largeHeaderResponse,
  POST_EXPECT_CONTINUE_HEAD,
  POST_JSON,
  REQUEST_WITH_SECRETS,
  RESPONSE_100_CONTINUE,
  RESPONSE_200_A,
  RESPONSE_200_B,
  RESPONSE_200_C,
  RESPONSE_200_HELLO,
  RESPONSE_201_CREATED,
  RESPONSE_204,
  RESPONSE_HEAD_1234,
  SIMPLE_GET,
  UPLOAD_BODY_10,
} from './fixtures.ts';

/** One connection seen from the client: the collector's framer and the assembler's readers and pairer. */
class Pipeline {
  readonly framer = new Http1Framer();
  readonly readers = { egress: new Http1MessageReader(), ingress: new Http1MessageReader() };
  readonly pairer = new Http1ExchangePairer();
  readonly exchanges: Http1Exchange[] = [];
  readonly messages: Http1Message[] = [];
  #ts = 0n;

  push(event: CapturedEvent): void {
    this.#ts += 10n;
    const segs = this.framer.push(event);
    this.#deliver(event.direction, segs);
  }

  close(): void {
    const closed = this.framer.close();
    this.#ts += 10n;
    this.#deliver('egress', closed.egress);
    this.#deliver('ingress', closed.ingress);
    for (const d of ['egress', 'ingress'] as const) this.#messages(this.readers[d].close(this.#ts));
    this.exchanges.push(...this.pairer.close(this.#ts));
  }

  #deliver(direction: Direction, segs: Parameters<Http1MessageReader['push']>[1]): void {
    // The collector ships segments over Kafka; the assembler sees exactly these.
    this.#messages(this.readers[direction].push(this.#ts, segs));
  }

  #messages(ms: Http1Message[]): void {
    for (const m of ms) {
      this.messages.push(m);
      this.exchanges.push(...this.pairer.push(m));
    }
  }
}

function fullEvent(direction: Direction, wire: string): CapturedEvent {
  return { direction, role: 'client', copied: bytes(wire), byteCount: wire.length, chunkTerminator: false };
}

function summary(x: Http1Exchange): string {
  const req = x.request === undefined ? '-' : `${x.request.head.method} ${x.request.head.target}`;
  const res = x.response === undefined ? '-' : String(x.response.head.statusCode);
  const interim = x.interim.length > 0 ? ` interim=${x.interim.map((m) => m.head.statusCode).join(',')}` : '';
  return `${req} -> ${res}${interim} ${x.complete ? 'complete' : `incomplete:${x.incompleteReason}`}`;
}

describe('end to end: framer → readers → pairer', () => {
  const cases: Array<[name: string, events: CapturedEvent[], expected: string[]]> = [
    [
      'keep-alive with bodies, HEAD and 204',
      [
        fullEvent('egress', SIMPLE_GET),
        fullEvent('ingress', RESPONSE_200_HELLO),
        fullEvent('egress', POST_JSON),
        fullEvent('ingress', RESPONSE_201_CREATED),
        fullEvent('egress', HEAD_REQUEST),
        fullEvent('ingress', RESPONSE_HEAD_1234),
        fullEvent('egress', GET_A),
        fullEvent('ingress', RESPONSE_204),
      ],
      [
        'GET /index.html -> 200 complete',
        'POST /api/orders -> 201 complete',
        'HEAD /big.iso -> 200 complete',
        'GET /a -> 204 complete',
      ],
    ],
    [
      'pipelining 3 deep',
      [
        fullEvent('egress', GET_A + GET_B + GET_C),
        fullEvent('ingress', RESPONSE_200_A + RESPONSE_200_B + RESPONSE_200_C),
      ],
      ['GET /a -> 200 complete', 'GET /b -> 200 complete', 'GET /c -> 200 complete'],
    ],
    [
      '100-continue',
      [
        fullEvent('egress', POST_EXPECT_CONTINUE_HEAD),
        fullEvent('ingress', RESPONSE_100_CONTINUE),
        fullEvent('egress', UPLOAD_BODY_10),
        fullEvent('ingress', RESPONSE_201_CREATED),
      ],
      ['POST /upload -> 201 interim=100 complete'],
    ],
    [
      'capture started mid-connection: a response body, then a response without request, then normal',
      [
        {
          direction: 'ingress',
          role: 'client',
          copied: new Uint8Array(0),
          byteCount: 900,
          chunkTerminator: false,
        },
        fullEvent('ingress', RESPONSE_200_HELLO),
        fullEvent('egress', GET_A),
        fullEvent('ingress', RESPONSE_200_A),
      ],
      ['- -> 200 incomplete:orphan-response', 'GET /a -> 200 complete'],
    ],
    [
      'truncated request head at the cap, then the connection goes on',
      [
        { ...fullEvent('egress', REQUEST_WITH_SECRETS.slice(0, 90)), byteCount: REQUEST_WITH_SECRETS.length },
        fullEvent('ingress', CHUNKED_RESPONSE),
        fullEvent('egress', GET_B),
        fullEvent('ingress', RESPONSE_200_B),
      ],
      [
        'GET /api/orders?page=2&access_token=[REDACTED]&sort=asc -> 200 incomplete:request-incomplete',
        'GET /b -> 200 complete',
      ],
    ],
    [
      'a response head larger than the copy cap',
      [
        fullEvent('egress', GET_A),
        {
          ...fullEvent('ingress', largeHeaderResponse(5000).slice(0, 4096)),
          byteCount: largeHeaderResponse(5000).length,
        },
      ],
      ['GET /a -> 200 incomplete:response-incomplete'],
    ],
    [
      'close-delimited response completes at close; an unanswered request is reported',
      [
        fullEvent('egress', GET_A),
        fullEvent('ingress', CLOSE_DELIMITED_RESPONSE_HEAD + CLOSE_DELIMITED_BODY),
        fullEvent('egress', GET_B),
      ],
      ['GET /a -> 200 complete', 'GET /b -> - incomplete:connection-closed'],
    ],
    [
      'issue 14: extension and unlisted methods become exchanges',
      [
        fullEvent('egress', 'PURGE /cache/a HTTP/1.1\r\n\r\n'),
        fullEvent('ingress', RESPONSE_200_A),
        fullEvent('egress', 'BREW /pot HTTP/1.1\r\n\r\n'),
        fullEvent('ingress', "HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\n\r\n"),
      ],
      ['PURGE /cache/a -> 200 complete', 'BREW /pot -> 418 complete'],
    ],
    [
      'issue 14: a stray CRLF, then the next start line split across writes',
      [
        fullEvent('egress', POST_JSON + '\r\n'),
        fullEvent('ingress', RESPONSE_201_CREATED),
        fullEvent('egress', 'G'),
        fullEvent('egress', GET_B.slice(1)),
        fullEvent('ingress', RESPONSE_200_B),
      ],
      ['POST /api/orders -> 201 complete', 'GET /b -> 200 complete'],
    ],
    [
      'issue 14: a smuggling probe gives the 400 the server sent, never the hidden request',
      [
        fullEvent('egress', 'GET /a HTTP/1.1\r\nHost: x\nContent-Length: 0\r\n\r\n' + GET_B),
        fullEvent('ingress', 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'),
      ],
      ['GET /a -> 400 incomplete:request-incomplete'],
    ],
    [
      'issue 14: a head over the field limit is an incomplete exchange, not a missing one',
      [
        fullEvent('egress', 'GET /many HTTP/1.1\r\n' + 'X-F: 1\r\n'.repeat(200) + '\r\n'),
        fullEvent('ingress', RESPONSE_200_A),
        fullEvent('egress', GET_B),
        fullEvent('ingress', RESPONSE_200_B),
      ],
      ['GET /many -> 200 incomplete:request-incomplete', 'GET /b -> 200 complete'],
    ],
  ];
  for (const [name, events, expected] of cases) {
    test(name, () => {
      const p = new Pipeline();
      for (const e of events) p.push(e);
      p.close();
      assert.deepEqual(p.exchanges.map(summary), expected);
      for (const m of p.messages) {
        for (const [, v] of m.head.headers)
          assert.ok(!v.includes('~') && !v.includes('^'), 'no secret reaches the assembler');
        assert.ok(!(m.head.target ?? '').includes('~'));
      }
    });
  }

  test('property: with the kernel model every exchange is found, complete when everything was copied', () => {
    const pairs: Array<[string, string]> = [
      [SIMPLE_GET, RESPONSE_200_HELLO],
      [POST_JSON, RESPONSE_201_CREATED],
      [HEAD_REQUEST, RESPONSE_HEAD_1234],
      [GET_A, RESPONSE_204],
      [GET_B, CHUNKED_RESPONSE],
      [GET_C, `HTTP/1.1 200 OK\r\nContent-Length: 9000\r\n\r\n${'z'.repeat(9000)}`],
    ];
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...pairs), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (convo, seeds) => {
          const p = new Pipeline();
          const egress = newKernelModel();
          const ingress = newKernelModel();
          for (const [rq, rs] of convo) {
            // Each message is written whole at its start (so the kernel copies its head), then split.
            for (const [dir, model, wire] of [
              ['egress', egress, rq],
              ['ingress', ingress, rs],
            ] as const) {
              const b = bytes(wire);
              const head = wire.indexOf('\r\n\r\n') + 4;
              const cuts = seeds.map((s) => head + (s % Math.max(1, b.length - head)));
              for (const buf of splitAt(b, cuts)) p.push(capture(model, dir, 'client', buf));
            }
          }
          p.close();
          assert.equal(p.exchanges.length, convo.length);
          for (const x of p.exchanges) assert.equal(x.complete, true, summary(x));
          assert.deepEqual(
            p.exchanges.map((x) => x.request?.head.target),
            convo.map(([rq]) => rq.split(' ')[1]),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
