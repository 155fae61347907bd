/**
 * The stitcher: pairs the requests and responses of one connection (one capture side) into
 * exchanges, Pixie-style, from the messages the two directions' readers produce.
 *
 * HTTP/1.1 answers requests in order (RFC 9112 §9.3.2), so pairing is FIFO, with pipelining. Around
 * that, the rules for an imperfect capture:
 * - timestamps are a sanity check: a response cannot answer a request that started after it. Such a
 *   response is an orphan (its request was never seen: the capture started mid-connection);
 * - a response that arrives while no request is waiting is held, not dropped: its request may still
 *   be in flight (a server may answer before a long upload ends, and the reader reports a request only
 *   when it ends). It is paired when a request that started before it arrives, and becomes an orphan
 *   as soon as a later-starting request arrives, or at close/expiry;
 * - a `resync` response (the response direction lost sync, so responses may be missing) pairs with
 *   the latest request that started before it; the older waiting requests lost their responses;
 * - 1xx responses other than 101 are interim (RFC 9110 §15.2): attached to the exchange, not ending it;
 * - 101, and a 2xx to CONNECT, end the exchange and turn the connection into a tunnel;
 * - a request without a response is emitted incomplete at close (`connection-closed`) or when it has
 *   waited past the timeout (`timeout`). Nothing is dropped silently: every message ends up in
 *   exactly one exchange, and requests leave in the order they were pushed (the n-th exchange that has
 *   a request holds the n-th request), whatever the reason they leave for.
 *
 * State: `toState()` (the waiting requests, the held responses, the tunnel mark) is plain JSON data,
 * and `Http1ExchangePairer.fromState(state)` goes on exactly from it. Counters are not state.
 */

import { isInterimStatus, startsTunnel } from './body-framing.ts';
import type {
  ExchangeIncompleteReason,
  Http1Exchange,
  Http1Message,
  MessageIncompleteReason,
  MessageKind,
  ParsedHead,
} from './types.ts';

// PROTOCOL-REGISTRY: counters the span assembler exports as metrics (labelled protocol="http1").
export interface Http1PairerCounters {
  exchanges: number;
  complete: number;
  /** Incomplete exchanges by reason. */
  incomplete: Partial<Record<ExchangeIncompleteReason, number>>;
  /** Connections that became tunnels. */
  tunnels: number;
}

export function newPairerCounters(): Http1PairerCounters {
  return { exchanges: 0, complete: 0, incomplete: {}, tunnels: 0 };
}

interface Waiting {
  readonly request: Http1Message;
  readonly interim: Http1Message[];
  lastNs: bigint;
}

function maxNs(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** A message as plain JSON data: `Http1Message` with its timestamps as decimal strings. */
export interface Http1MessageState {
  kind: MessageKind;
  head: ParsedHead;
  startNs: string;
  endNs: string;
  wireBytes: number;
  bodyBytes: number;
  complete: boolean;
  truncatedHead: boolean;
  resync: boolean;
  incompleteReason: MessageIncompleteReason | null;
  tag: number | null;
}

/** Everything a pairer needs to go on, as plain JSON data (`toState`, `fromState`). */
export interface Http1PairerState {
  /** Requests waiting for their final response, oldest first, with the interim responses they got. */
  waiting: Array<{ request: Http1MessageState; interim: Http1MessageState[]; lastNs: string }>;
  /** Responses held until a request that could own them arrives, in order. */
  held: Http1MessageState[];
  tunnel: boolean;
}

export function messageToState(m: Http1Message): Http1MessageState {
  return {
    kind: m.kind,
    head: m.head,
    startNs: m.startNs.toString(),
    endNs: m.endNs.toString(),
    wireBytes: m.wireBytes,
    bodyBytes: m.bodyBytes,
    complete: m.complete,
    truncatedHead: m.truncatedHead,
    resync: m.resync,
    incompleteReason: m.incompleteReason ?? null,
    tag: m.tag ?? null,
  };
}

export function messageFromState(s: Http1MessageState): Http1Message {
  const m: {
    -readonly [K in keyof Http1Message]: Http1Message[K];
  } = {
    kind: s.kind,
    head: s.head,
    startNs: BigInt(s.startNs),
    endNs: BigInt(s.endNs),
    wireBytes: s.wireBytes,
    bodyBytes: s.bodyBytes,
    complete: s.complete,
    truncatedHead: s.truncatedHead,
    resync: s.resync,
  };
  if (s.incompleteReason !== null) m.incompleteReason = s.incompleteReason;
  if (s.tag !== null) m.tag = s.tag;
  return m;
}

/** One pairer per connection (and capture side). Push messages of both directions in time order. */
export class Http1ExchangePairer {
  readonly counters: Http1PairerCounters = newPairerCounters();
  #waiting: Waiting[] = [];
  #held: Http1Message[] = [];
  #tunnel = false;

  /** A pairer that goes on from `state` (from `toState()`, possibly through JSON). Counters start at zero. */
  static fromState(state: Http1PairerState): Http1ExchangePairer {
    const pairer = new Http1ExchangePairer();
    pairer.#waiting = state.waiting.map((w) => ({
      request: messageFromState(w.request),
      interim: w.interim.map(messageFromState),
      lastNs: BigInt(w.lastNs),
    }));
    pairer.#held = state.held.map(messageFromState);
    pairer.#tunnel = state.tunnel;
    return pairer;
  }

  /** The pairer's state as plain JSON data; `fromState` continues from it exactly. */
  toState(): Http1PairerState {
    return {
      waiting: this.#waiting.map((w) => ({
        request: messageToState(w.request),
        interim: w.interim.map(messageToState),
        lastNs: w.lastNs.toString(),
      })),
      held: this.#held.map(messageToState),
      tunnel: this.#tunnel,
    };
  }

  /** Nothing waiting, nothing held, no tunnel: the state of a new pairer. */
  get idle(): boolean {
    return this.#waiting.length === 0 && this.#held.length === 0 && !this.#tunnel;
  }

  /** The connection switched protocols (101) or became a CONNECT tunnel. */
  get tunnel(): boolean {
    return this.#tunnel;
  }

  /** Requests waiting for their final response. */
  get pendingRequests(): number {
    return this.#waiting.length;
  }

  /** Responses held while no request that could own them has arrived. */
  get heldResponses(): number {
    return this.#held.length;
  }

  push(message: Http1Message): Http1Exchange[] {
    const out: Http1Exchange[] = [];
    if (message.kind === 'request') {
      // Held responses that started before this request cannot be answers to it, nor to any request
      // still to come (requests arrive in order): their requests were never seen.
      while (this.#held.length > 0 && this.#held[0]!.startNs < message.startNs) {
        this.#orphan(this.#held.shift()!, out);
      }
      this.#waiting.push({ request: message, interim: [], lastNs: message.endNs });
      const held = this.#held;
      this.#held = [];
      for (const r of held) this.#response(r, out);
    } else if (this.#held.length > 0) {
      this.#held.push(message); // keeps response order behind the ones already held
    } else {
      this.#response(message, out);
    }
    return out;
  }

  /** The connection closed: held responses become orphans, waiting requests `connection-closed`. */
  close(atNs: bigint): Http1Exchange[] {
    const out: Http1Exchange[] = [];
    for (const r of this.#held) this.#orphan(r, out);
    for (const w of this.#waiting) this.#incomplete(w, 'connection-closed', maxNs(atNs, w.lastNs), out);
    this.#held = [];
    this.#waiting = [];
    this.#tunnel = false;
    return out;
  }

  /**
   * Emits what has waited at least `timeoutNs` by `nowNs`: the oldest waiting requests (`timeout`;
   * only from the front, so FIFO order stays intact) and held responses (orphans).
   */
  expire(nowNs: bigint, timeoutNs: bigint): Http1Exchange[] {
    const out: Http1Exchange[] = [];
    while (this.#held.length > 0 && nowNs - this.#held[0]!.endNs >= timeoutNs)
      this.#orphan(this.#held.shift()!, out);
    while (this.#waiting.length > 0 && nowNs - this.#waiting[0]!.lastNs >= timeoutNs) {
      const w = this.#waiting.shift()!;
      this.#incomplete(w, 'timeout', w.lastNs, out);
    }
    return out;
  }

  #response(response: Http1Message, out: Http1Exchange[]): void {
    if (this.#waiting.length === 0) {
      this.#held.push(response);
      return;
    }
    let idx = -1;
    if (response.resync) {
      // Responses may be missing before this one: the latest request that started before it is the
      // best candidate (Pixie's rule); FIFO would pair everything after a loss off by one.
      for (let i = this.#waiting.length - 1; i >= 0; i--) {
        if (this.#waiting[i]!.request.startNs <= response.startNs) {
          idx = i;
          break;
        }
      }
    } else if (this.#waiting[0]!.request.startNs <= response.startNs) {
      idx = 0;
    }
    if (idx === -1) {
      // Every waiting request started after this response: its own request was never seen.
      this.#orphan(response, out);
      return;
    }
    const status = response.head.statusCode ?? 0;
    const w = this.#waiting[idx]!;
    if (isInterimStatus(status)) {
      w.interim.push(response);
      w.lastNs = maxNs(w.lastNs, response.endNs);
      return;
    }
    for (let i = 0; i < idx; i++) {
      const lost = this.#waiting[i]!;
      this.#incomplete(lost, 'response-lost', lost.lastNs, out);
    }
    this.#waiting.splice(0, idx + 1);
    const request = w.request;
    let reason: ExchangeIncompleteReason | undefined;
    if (!request.complete) reason = 'request-incomplete';
    else if (!response.complete) reason = 'response-incomplete';
    this.#emit(
      {
        request,
        response,
        interim: w.interim,
        startNs: request.startNs,
        endNs: maxNs(response.endNs, request.endNs),
        complete: reason === undefined,
        ...(reason === undefined ? {} : { incompleteReason: reason }),
      },
      out,
    );
    if (startsTunnel(status, request.head.method)) {
      this.#tunnel = true;
      this.counters.tunnels++;
    }
  }

  #orphan(response: Http1Message, out: Http1Exchange[]): void {
    this.#emit(
      {
        response,
        interim: [],
        startNs: response.startNs,
        endNs: response.endNs,
        complete: false,
        incompleteReason: 'orphan-response',
      },
      out,
    );
  }

  #incomplete(w: Waiting, reason: ExchangeIncompleteReason, endNs: bigint, out: Http1Exchange[]): void {
    this.#emit(
      {
        request: w.request,
        interim: w.interim,
        startNs: w.request.startNs,
        endNs,
        complete: false,
        incompleteReason: reason,
      },
      out,
    );
  }

  #emit(exchange: Http1Exchange, out: Http1Exchange[]): void {
    this.counters.exchanges++;
    if (exchange.complete) this.counters.complete++;
    else if (exchange.incompleteReason !== undefined) {
      const r = exchange.incompleteReason;
      this.counters.incomplete[r] = (this.counters.incomplete[r] ?? 0) + 1;
    }
    out.push(exchange);
  }
}
