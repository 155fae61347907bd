/**
 * The HTTP/2 stitcher: per-stream events of one connection (one capture side) in, exchanges out.
 *
 * HTTP/2 pairs by stream id, not by order (RFC 9113 §5, §8.1): the client's header block opens a
 * stream, the server answers on the same id with zero or more informational (1xx) blocks, a final
 * header block, DATA, and optionally trailers; a trailers-only response (gRPC errors) is one block
 * with END_STREAM. A stream ends when both sides sent END_STREAM, or with RST_STREAM from either
 * side. Around that, the rules for an imperfect capture:
 * - a server may answer in full before the request ends and then reset the stream with NO_ERROR
 *   (§8.1): that exchange is complete;
 * - GOAWAY from the server names the last stream it processes: open streams above it are emitted
 *   as `goaway`;
 * - a stream whose request was never seen (the capture started after it) ends as an orphan;
 * - a gap in either direction marks every stream open at that moment: its exchange says `gap`;
 * - what is still open leaves at `close(atNs)` (`connection-closed`) or `expire()` (`timeout`).
 * Every stream that was seen ends up in exactly one exchange.
 *
 * State: `toState()` is plain JSON data and `Http2StreamPairer.fromState()` goes on exactly from it,
 * as the span assembler keeps it per connection side in its partition state. Counters are not state.
 * `Http2StreamPairer.adopt(state)` works on a state object in place instead (no copies): for a caller
 * that owns the object and stores it back, as the span assembler's live partition state does.
 */

import { fieldValue, grpcMessage, grpcStatus, isGrpcContentType, parseGrpcPath } from './grpc.ts';
import type {
  Http2Exchange,
  Http2ExchangeIncompleteReason,
  Http2Field,
  Http2Message,
  Http2Sender,
  Http2StreamEvent,
} from './types.ts';

// PROTOCOL-REGISTRY: counters the span assembler exports as metrics (labelled protocol="http2").
export interface Http2PairerCounters {
  exchanges: number;
  complete: number;
  incomplete: Partial<Record<Http2ExchangeIncompleteReason, number>>;
  /** Header blocks whose sender could not be told (no role, no pseudo-header resolved). */
  unattributed: number;
  /** Events for a stream that had already ended. */
  late: number;
}

export function newPairerCounters(): Http2PairerCounters {
  return { exchanges: 0, complete: 0, incomplete: {}, unattributed: 0, late: 0 };
}

/** One side of a stream while it is open; plain data, so it is its own state. */
interface Side {
  headers: Http2Field[] | null;
  informational: Http2Field[][];
  trailers: Http2Field[] | null;
  startNs: string;
  endNs: string;
  dataBytes: number;
  dataFrames: number;
  grpcMessages: number;
  grpcMessagesExact: boolean;
  ended: boolean;
  unresolved: number;
  blocksLost: number;
}

interface OpenStream {
  streamId: number;
  /** The caller's tag of the event that opened the stream (the span assembler: the thread). */
  tag: number | null;
  request: Side | null;
  response: Side | null;
  startNs: string;
  lastNs: string;
  gap: boolean;
}

/** Everything a pairer needs to go on, as plain JSON data. */
export interface Http2PairerState {
  streams: OpenStream[];
  /** Streams that ended recently, so late frames (a RST after END_STREAM) are not new streams. */
  ended: number[];
}

/** Ended stream ids remembered. */
const ENDED_MEMORY = 256;

export class Http2StreamPairer {
  readonly counters: Http2PairerCounters = newPairerCounters();
  #streams = new Map<number, OpenStream>();
  #ended: number[] = [];
  /** Adopted state: kept up to date in place (its `streams` array is rebuilt by `toState`). */
  #adopted: Http2PairerState | null = null;

  static fromState(state: Http2PairerState): Http2StreamPairer {
    const p = new Http2StreamPairer();
    for (const s of state.streams) p.#streams.set(s.streamId, structuredClone({ ...s, tag: s.tag ?? null }));
    p.#ended = [...state.ended];
    return p;
  }

  /**
   * A pairer working on `state` itself: its open streams are the state's objects, changed in place,
   * and `toState()` returns `state` brought up to date. The caller must not use `state` otherwise.
   */
  static adopt(state: Http2PairerState): Http2StreamPairer {
    const p = new Http2StreamPairer();
    for (const s of state.streams) {
      s.tag ??= null;
      p.#streams.set(s.streamId, s);
    }
    p.#ended = state.ended;
    p.#adopted = state;
    return p;
  }

  toState(): Http2PairerState {
    const adopted = this.#adopted;
    if (adopted !== null) {
      adopted.streams = [...this.#streams.values()];
      adopted.ended = this.#ended;
      return adopted;
    }
    return { streams: structuredClone([...this.#streams.values()]), ended: [...this.#ended] };
  }

  /** Nothing open and nothing remembered: the state is empty. */
  get idle(): boolean {
    return this.#streams.size === 0 && this.#ended.length === 0;
  }

  /** Streams open (seen, not yet emitted). */
  get openStreams(): number {
    return this.#streams.size;
  }

  /** `tag`: the caller's, for the event (kept with a stream it opens, given back on its exchange). */
  push(ev: Http2StreamEvent, tag?: number): Http2Exchange[] {
    const out: Http2Exchange[] = [];
    switch (ev.kind) {
      case 'headers': {
        const sender = senderOf(ev.sender, ev.fields);
        if (sender === 'unknown') {
          this.counters.unattributed++;
          break;
        }
        if (ev.promisedStreamId !== undefined) {
          // PUSH_PROMISE: the server opens a stream whose request headers are the promise's.
          const s = this.#open(ev.promisedStreamId, ev.tsNs, tag);
          if (s !== null) {
            s.request = newSide(ev.tsNs);
            addBlock(s.request, ev.fields, ev.unresolved, ev.lost !== null, false);
            s.request.ended = true;
          }
          break;
        }
        const s = this.#open(ev.streamId, ev.tsNs, tag);
        if (s === null) break;
        const side = sideOf(s, sender, ev.tsNs)!;
        addBlock(side, ev.fields, ev.unresolved, ev.lost !== null, sender === 'server');
        this.#touch(s, side, ev.tsNs, ev.endStream);
        this.#maybeDone(s, out);
        break;
      }
      case 'data': {
        const s = this.#streams.get(ev.streamId);
        if (s === undefined) {
          // DATA of a stream whose headers we never saw (mid-way, or after a gap): nothing to pair.
          if (this.#ended.includes(ev.streamId)) this.counters.late++;
          break;
        }
        const side = sideOf(s, ev.sender, ev.tsNs);
        if (side === null) break;
        side.dataBytes += ev.length;
        side.dataFrames++;
        side.grpcMessages += ev.grpcMessages;
        if (!ev.grpcMessagesExact) side.grpcMessagesExact = false;
        this.#touch(s, side, ev.tsNs, ev.endStream);
        this.#maybeDone(s, out);
        break;
      }
      case 'rst-stream': {
        const s = this.#streams.get(ev.streamId);
        if (s === undefined) {
          if (this.#ended.includes(ev.streamId)) this.counters.late++;
          break;
        }
        s.lastNs = ev.tsNs.toString();
        const answered = s.response?.ended === true && s.request !== null;
        // §8.1: a complete response followed by RST_STREAM(NO_ERROR) stops the upload; it is a success.
        if (answered && ev.errorCode === 0) this.#emit(s, undefined, undefined, out);
        else this.#emit(s, 'reset', { by: ev.sender, errorCode: ev.errorCode }, out);
        break;
      }
      case 'goaway':
        if (ev.sender !== 'server') break;
        for (const s of [...this.#streams.values()]) {
          if (s.streamId % 2 === 1 && s.streamId > ev.lastStreamId) this.#emit(s, 'goaway', undefined, out);
        }
        break;
      case 'gap':
        for (const s of this.#streams.values()) s.gap = true;
        break;
    }
    return out;
  }

  /** The connection closed: every open stream leaves as `connection-closed`. */
  close(atNs: bigint): Http2Exchange[] {
    const out: Http2Exchange[] = [];
    for (const s of [...this.#streams.values()]) {
      if (BigInt(s.lastNs) < atNs) s.lastNs = atNs.toString();
      this.#emit(s, 'connection-closed', undefined, out);
    }
    return out;
  }

  /** Streams with nothing new for `timeoutNs` by `nowNs` leave as `timeout`. */
  /**
   * Ends the `count` open streams with the lowest ids as `timeout`: the oldest, since an end opens its
   * streams in increasing id order. For a bound on open streams: concurrent calls sent in one syscall
   * share one time, so a time cut would end all of them.
   */
  expireOldest(count: number): Http2Exchange[] {
    const out: Http2Exchange[] = [];
    if (count <= 0) return out;
    const ids = [...this.#streams.keys()].sort((a, b) => a - b).slice(0, count);
    for (const id of ids) this.#emit(this.#streams.get(id)!, 'timeout', undefined, out);
    return out;
  }

  expire(nowNs: bigint, timeoutNs: bigint): Http2Exchange[] {
    const out: Http2Exchange[] = [];
    for (const s of [...this.#streams.values()]) {
      if (nowNs - BigInt(s.lastNs) >= timeoutNs) this.#emit(s, 'timeout', undefined, out);
    }
    return out;
  }

  #open(streamId: number, tsNs: bigint, tag: number | undefined): OpenStream | null {
    let s = this.#streams.get(streamId);
    if (s !== undefined) return s;
    if (this.#ended.includes(streamId)) {
      this.counters.late++;
      return null;
    }
    s = {
      streamId,
      tag: tag ?? null,
      request: null,
      response: null,
      startNs: tsNs.toString(),
      lastNs: tsNs.toString(),
      gap: false,
    };
    this.#streams.set(streamId, s);
    return s;
  }

  #touch(s: OpenStream, side: Side, tsNs: bigint, endStream: boolean): void {
    const ts = tsNs.toString();
    side.endNs = ts;
    s.lastNs = ts;
    if (endStream) side.ended = true;
  }

  #maybeDone(s: OpenStream, out: Http2Exchange[]): void {
    if (s.response?.ended !== true) return;
    if (s.request === null) {
      this.#emit(s, 'orphan-response', undefined, out);
      return;
    }
    if (s.request.ended) this.#emit(s, undefined, undefined, out);
  }

  #emit(
    s: OpenStream,
    reason: Http2ExchangeIncompleteReason | undefined,
    reset: { by: Http2Sender; errorCode: number } | undefined,
    out: Http2Exchange[],
  ): void {
    this.#streams.delete(s.streamId);
    this.#ended.push(s.streamId);
    if (this.#ended.length > ENDED_MEMORY) this.#ended.shift();
    const finalReason = reason ?? (s.gap ? 'gap' : undefined);
    const request = s.request === null ? null : toMessage(s.request);
    const response = s.response === null ? null : toMessage(s.response);
    const reqHeaders = request?.headers ?? [];
    const path = fieldValue(reqHeaders, ':path');
    const statusText = fieldValue(response?.headers ?? null, ':status');
    const status = statusText !== null && /^\d{3}$/.test(statusText) ? Number(statusText) : null;
    const contentType =
      fieldValue(reqHeaders, 'content-type') ?? fieldValue(response?.headers ?? null, 'content-type');
    let grpc: Http2Exchange['grpc'] = null;
    if (isGrpcContentType(contentType)) {
      const names = parseGrpcPath(path);
      const statusFields = response?.trailers ?? response?.headers ?? null;
      grpc = {
        service: names?.service ?? null,
        method: names?.method ?? null,
        statusCode: grpcStatus(statusFields),
        message: grpcMessage(statusFields),
        requestMessages: request?.grpcMessages ?? 0,
        responseMessages: response?.grpcMessages ?? 0,
        messagesExact: (request?.grpcMessagesExact ?? false) && (response?.grpcMessagesExact ?? false),
      };
    }
    const complete = finalReason === undefined;
    const exchange: Http2Exchange = {
      streamId: s.streamId,
      ...(s.tag === null ? {} : { tag: s.tag }),
      request,
      response,
      startNs: BigInt(s.startNs),
      endNs: BigInt(s.lastNs),
      complete,
      ...(finalReason === undefined ? {} : { incompleteReason: finalReason }),
      ...(reset === undefined ? {} : { reset }),
      method: fieldValue(reqHeaders, ':method'),
      path,
      authority: fieldValue(reqHeaders, ':authority'),
      status,
      grpc,
    };
    this.counters.exchanges++;
    if (complete) this.counters.complete++;
    else this.counters.incomplete[finalReason] = (this.counters.incomplete[finalReason] ?? 0) + 1;
    out.push(exchange);
  }
}

function senderOf(sender: Http2Sender, fields: readonly Http2Field[]): Http2Sender {
  if (sender !== 'unknown') return sender;
  for (const f of fields) {
    if (f.name === ':method') return 'client';
    if (f.name === ':status') return 'server';
  }
  return 'unknown';
}

/** The stream's side a sender writes: the client the request, the server the response. */
function sideOf(s: OpenStream, sender: Http2Sender, tsNs: bigint): Side | null {
  if (sender === 'client') {
    if (s.request === null) s.request = newSide(tsNs);
    return s.request;
  }
  if (sender === 'server') {
    if (s.response === null) s.response = newSide(tsNs);
    return s.response;
  }
  return null;
}

function newSide(tsNs: bigint): Side {
  const ts = tsNs.toString();
  return {
    headers: null,
    informational: [],
    trailers: null,
    startNs: ts,
    endNs: ts,
    dataBytes: 0,
    dataFrames: 0,
    grpcMessages: 0,
    grpcMessagesExact: true,
    ended: false,
    unresolved: 0,
    blocksLost: 0,
  };
}

function addBlock(
  side: Side,
  fields: readonly Http2Field[],
  unresolved: number,
  lost: boolean,
  response: boolean,
): void {
  side.unresolved += unresolved;
  if (lost) side.blocksLost++;
  const list = [...fields];
  if (side.headers === null) {
    const status = fieldValue(list, ':status');
    // 1xx: informational, the final header block is still to come (RFC 9113 §8.1).
    if (response && status !== null && status.length === 3 && status[0] === '1')
      side.informational.push(list);
    else side.headers = list;
  } else {
    side.trailers = list;
  }
}

function toMessage(side: Side): Http2Message {
  return {
    headers: side.headers ?? [],
    informational: side.informational,
    trailers: side.trailers,
    startNs: BigInt(side.startNs),
    endNs: BigInt(side.endNs),
    dataBytes: side.dataBytes,
    dataFrames: side.dataFrames,
    grpcMessages: side.grpcMessages,
    grpcMessagesExact: side.grpcMessagesExact,
    ended: side.ended,
    unresolved: side.unresolved,
    blocksLost: side.blocksLost,
  };
}
