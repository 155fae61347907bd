/**
 * The collector's per-connection HTTP/1.x framer: captured events in, segments out.
 *
 * For every read/write the kernel reported on one TCP connection (both directions, in capture order) it
 * says which of that event's bytes are message heads, which are bodies and which it could not frame,
 * and where each message ends. Heads leave redacted; body bytes become counts. See README.md for the
 * model (copied bytes versus gaps) and the framing rules with their RFC 9112 sections.
 *
 * Hot path: this runs for every captured event (tens of thousands per second per node). It works on
 * indexes into the event's bytes, skips body bytes by count, parses chunk framing with a byte state
 * machine (chunked-body.ts, no buffering), converts no body to a string, and allocates only the returned segments, plus
 * a head buffer while a head is split across events (bounded, released when the head completes).
 * Nothing here throws on traffic: errors are counted in {@link Http1FramerCounters}.
 */

import {
  type BodyFraming,
  isInterimStatus,
  requestBodyFraming,
  responseBodyFraming,
} from './body-framing.ts';
import { CHUNKED_STOP, ChunkedBodyReader } from './chunked-body.ts';
import {
  detectMessageStart,
  detectStreamMessageStart,
  endsWithChunkTerminator,
  findMessageStartAtLine,
  MESSAGE_START,
  type MessageStart,
  messageStartKind,
} from './detect.ts';
import {
  findHeadEnd,
  HEAD_INVALID_REASON,
  type HeadInvalidReason,
  indexOfByte,
  MAX_LEADING_EMPTY_LINES,
  parseHead,
} from './parse-head.ts';
import { DEFAULT_REDACTION_POLICY, type RedactionPolicy, redactHead } from './redact.ts';
import type { CapturedEvent, Direction, MessageKind, Role, Segment, SegmentKind } from './types.ts';

/**
 * Largest head the framer buffers across events before giving up on it. Must be at least the kernel's
 * per-message copy budget (4 KiB by default), or heads the kernel did copy whole would be cut here.
 */
export const MAX_BUFFERED_HEAD_BYTES = 16384;
/** Requests awaiting a response whose methods are remembered (pipelining depth); older ones are dropped. */
export const MAX_PENDING_REQUESTS = 64;

export interface FramerOptions {
  /** Compiled redaction policy for heads; default: the built-in sensitive headers and query parameters. */
  readonly redaction?: RedactionPolicy;
  /** Ship copied body bytes in body segments' `data` (default false: bodies become lengths only). */
  readonly shipBodies?: boolean;
  /** Default {@link MAX_BUFFERED_HEAD_BYTES}. */
  readonly maxHeadBytes?: number;
  /** Default {@link MAX_PENDING_REQUESTS}. */
  readonly maxPendingRequests?: number;
}

// PROTOCOL-REGISTRY: counters the collector exports as metrics (labelled protocol="http1").
/**
 * What the framer counts; plain numbers, mutated in place, so the collector can export deltas as
 * metrics. The per-event redaction count the raw-event schema carries is the delta of `redactions`
 * across one `push`.
 */
export interface Http1FramerCounters {
  events: number;
  bytes: number;
  requests: number;
  responses: number;
  /** Responses with a 1xx status (interim: they do not end an exchange). */
  interimResponses: number;
  /** Heads that failed to parse, by reason (their bytes went out as `unknown`). */
  invalidHeads: Partial<Record<HeadInvalidReason, number>>;
  /** Heads cut before their end: copy cap, lost events, or a new message start. */
  truncatedHeads: number;
  /** Of those, heads cut by the kernel's copy budget: a truncated capture, nothing lost. */
  headsCutByCapture: number;
  /** Heads longer than the buffer limit. */
  headsTooLarge: number;
  /**
   * Heads over a parse limit (more than 128 fields, a line over 8 KiB): shipped cut at the limit, so
   * their message becomes an incomplete span (`truncated`) instead of vanishing. Counted in
   * `truncatedHeads` too.
   */
  headsOverLimit: number;
  /**
   * Request directions stopped by a request a strict server rejects (a head that does not parse, or
   * broken chunk framing): such a server answers 400 and closes, so nothing after it in that direction
   * is framed (a smuggled request behind it was never run). Its bytes go out as `unknown`.
   */
  rejectedRequests: number;
  /** Bodies that a new message start interrupted (events were lost, or a guessed framing was wrong). */
  interruptedBodies: number;
  /** Times the framer found a message start again after losing sync. */
  resyncs: number;
  /** Bytes at a message boundary that were not a message start (or were not copied). */
  unframedStarts: number;
  /** Bytes shipped as `unknown` (tunnels excluded). */
  unknownBytes: number;
  /** Bytes shipped as `unknown` inside a tunnel (after 101 or CONNECT 2xx). */
  tunnelBytes: number;
  /** Final responses with no outstanding request (capture started mid-connection, request lost). */
  orphanResponses: number;
  /** Chunked bodies whose framing broke (bad size line, missing CRLF, oversized line). */
  invalidChunked: number;
  /** Chunked bodies whose sizes could no longer be followed because bytes were not copied. */
  blindChunked: number;
  /** Blind chunked bodies ended by the terminator at the end of a buffer (kernel flag or copied bytes). */
  chunkEndsByTerminator: number;
  /** Requests whose body length cannot be determined (Transfer-Encoding without final chunked). */
  invalidFraming: number;
  /** Connections switched to a tunnel. */
  tunnels: number;
  /** Pending request methods dropped because the pipeline was deeper than the limit. */
  pendingOverflow: number;
  /** Message starts of the wrong kind for the direction (a request where responses flow). */
  unexpectedKind: number;
  /** Events whose copied bytes exceeded their byte count (clamped), or whose count was unusable. */
  badEvents: number;
  /** Values replaced by the redaction marker. */
  redactions: number;
  /** Events that arrived with the `afterLoss` hint. */
  lossHints: number;
}

export function newFramerCounters(): Http1FramerCounters {
  return {
    events: 0,
    bytes: 0,
    requests: 0,
    responses: 0,
    interimResponses: 0,
    invalidHeads: {},
    truncatedHeads: 0,
    headsCutByCapture: 0,
    headsTooLarge: 0,
    headsOverLimit: 0,
    rejectedRequests: 0,
    interruptedBodies: 0,
    resyncs: 0,
    unframedStarts: 0,
    unknownBytes: 0,
    tunnelBytes: 0,
    orphanResponses: 0,
    invalidChunked: 0,
    blindChunked: 0,
    chunkEndsByTerminator: 0,
    invalidFraming: 0,
    tunnels: 0,
    pendingOverflow: 0,
    unexpectedKind: 0,
    badEvents: 0,
    redactions: 0,
    lossHints: 0,
  };
}

/** Segments released when the connection closes, per direction. */
export interface FramerCloseResult {
  readonly egress: Segment[];
  readonly ingress: Segment[];
}

/** Where a direction's byte stream is. */
const MODE = {
  /** At a message boundary: the next byte should start a message. */
  idle: 0,
  /** Inside a head that started in an earlier event (bytes buffered) or at this position. */
  head: 1,
  /** Inside a Content-Length body; `remaining` bytes to go. */
  length: 2,
  /** Inside a chunked body; `chunk` says where. */
  chunked: 3,
  /** Inside a response body that ends when the connection closes. */
  close: 4,
  /** Not HTTP/1.x any more (after 101 or a 2xx to CONNECT), until the connection closes. */
  tunnel: 5,
  /** Sync lost: bytes are `unknown` until a message start is found. */
  lost: 6,
  /**
   * A request a strict server rejects was sent (see `rejectedRequests`): bytes are `unknown` until the
   * connection closes, with no resynchronisation.
   */
  rejected: 7,
} as const;
type Mode = (typeof MODE)[keyof typeof MODE];

const CR = 0x0d;
const LF = 0x0a;

const EMPTY: Uint8Array = new Uint8Array(0);

/** Parse failures that mean "larger than we read", not "malformed": the head is shipped cut. */
const OVER_LIMIT: ReadonlySet<HeadInvalidReason> = new Set([
  HEAD_INVALID_REASON.tooManyHeaders,
  HEAD_INVALID_REASON.lineTooLong,
  HEAD_INVALID_REASON.headTooLarge,
]);

/**
 * The offset after the empty lines (CRLF or bare LF) at `buf[start]`, at most
 * {@link MAX_LEADING_EMPTY_LINES} + 1 of them (more is left for the parser to reject); -1 when the
 * bytes end on a CR that may still be followed by its LF.
 */
function emptyLinesEnd(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  for (let n = 0; n <= MAX_LEADING_EMPTY_LINES && i < end; n++) {
    const b = buf[i];
    if (b === LF) i++;
    else if (b !== CR) break;
    else if (i + 1 >= end) return -1;
    else if (buf[i + 1] === LF) i += 2;
    else break;
  }
  return i;
}

/** Per-direction stream state. */
class DirectionState {
  mode: Mode = MODE.idle;
  /** Kind of the message whose head is being read; `null` while only a prefix of a start was seen. */
  kind: MessageKind | null = null;
  /** Head bytes carried over from earlier events; allocated only while a head is split. */
  headBuf: Uint8Array | null = null;
  headLen = 0;
  /** Body bytes left (length mode). */
  remaining = 0;
  /** Where a chunked body is (chunked mode). */
  readonly chunk = new ChunkedBodyReader();
  /** Chunked body whose chunk sizes could not be followed (bytes not copied). */
  blind = false;
  /** A head given up on from the other direction's event (tunnel switch); shipped with our next event. */
  pendingFlush: Uint8Array | null = null;
  /**
   * The current message was found by searching copied bytes after a loss of sync, not at a boundary
   * the framer followed or at the start of a buffer: if it does not parse, it may be body bytes that
   * looked like a start, so it is no proof of a request a server rejected. Set by a resync, cleared
   * when the next message starts at a boundary the framer followed.
   */
  foundBySearch = false;
  /** A resync just chose where the next message starts (keeps `foundBySearch` for it). */
  resynced = false;

  resetBody(): void {
    this.remaining = 0;
    this.chunk.reset();
    this.blind = false;
  }

  releaseHead(): void {
    this.headBuf = null;
    this.headLen = 0;
    this.kind = null;
  }

  append(src: Uint8Array, start: number, end: number, cap: number): void {
    const n = end - start;
    const need = this.headLen + n;
    if (this.headBuf === null || this.headBuf.length < need) {
      const size = Math.min(cap, Math.max(512, need * 2));
      const next = new Uint8Array(size);
      if (this.headBuf !== null) next.set(this.headBuf.subarray(0, this.headLen));
      this.headBuf = next;
    }
    this.headBuf.set(src.subarray(start, end), this.headLen);
    this.headLen = need;
  }
}

function segment(kind: SegmentKind, length: number, data: Uint8Array | null, endsMessage: boolean): Segment {
  return { kind, length, data, endsMessage };
}

/**
 * One framer per TCP connection, fed both directions in capture order (response framing depends on
 * the request: RFC 9112 §6.3 item 1 and 2).
 */
export class Http1Framer {
  readonly counters: Http1FramerCounters = newFramerCounters();

  readonly #policy: RedactionPolicy;
  readonly #shipBodies: boolean;
  readonly #maxHeadBytes: number;
  readonly #maxPending: number;
  readonly #egress = new DirectionState();
  readonly #ingress = new DirectionState();
  #role: Role = 'unknown';
  /** Methods of requests still waiting for their final response, oldest first. */
  #pending: string[] = [];

  // The event being framed; set for the duration of push() so the steps need no long parameter lists.
  #copied: Uint8Array = EMPTY;
  #copiedLen = 0;
  #byteCount = 0;
  #chunkTerminator = false;
  #direction: Direction = 'egress';
  #out: Segment[] = [];

  constructor(options: FramerOptions = {}) {
    this.#policy = options.redaction ?? DEFAULT_REDACTION_POLICY;
    this.#shipBodies = options.shipBodies === true;
    this.#maxHeadBytes = Math.max(64, options.maxHeadBytes ?? MAX_BUFFERED_HEAD_BYTES);
    this.#maxPending = Math.max(1, options.maxPendingRequests ?? MAX_PENDING_REQUESTS);
  }

  /** The role in use: as given by events, or inferred from the first message start. */
  get role(): Role {
    return this.#role;
  }

  /** Frames one captured event. The returned segments' lengths add up to `event.byteCount`. */
  push(event: CapturedEvent): Segment[] {
    const out: Segment[] = [];
    const st = event.direction === 'ingress' ? this.#ingress : this.#egress;
    this.counters.events++;
    if (event.role !== 'unknown') this.#role = event.role;
    const byteCount = event.byteCount;
    if (!Number.isSafeInteger(byteCount) || byteCount < 0) {
      this.counters.badEvents++;
      return out;
    }
    this.counters.bytes += byteCount;
    if (st.pendingFlush !== null) {
      out.push(segment('head', 0, st.pendingFlush, false));
      st.pendingFlush = null;
    }
    if (byteCount === 0) return out;
    if (event.copied.length > byteCount) this.counters.badEvents++;

    this.#copied = event.copied;
    this.#copiedLen = Math.min(event.copied.length, byteCount);
    this.#byteCount = byteCount;
    this.#chunkTerminator = event.chunkTerminator;
    this.#direction = event.direction;
    this.#out = out;

    if (event.afterLoss === true) this.#afterLoss(st);
    this.#checkEventStart(st);
    let pos = 0;
    // Every step consumes bytes or moves to a mode that will; the guard turns a bug into a counted
    // `unknown` tail instead of a hung collector.
    let guard = 4 * byteCount + 16;
    while (pos < byteCount) {
      if (--guard < 0) {
        this.counters.badEvents++;
        this.#emitUnknown(byteCount - pos, false);
        st.mode = MODE.lost;
        break;
      }
      switch (st.mode) {
        case MODE.idle:
          pos = this.#idle(st, pos);
          break;
        case MODE.head:
          pos = this.#head(st, pos);
          break;
        case MODE.length:
          pos = this.#lengthBody(st, pos);
          break;
        case MODE.chunked:
          pos = this.#chunkedBody(st, pos);
          break;
        case MODE.close:
          pos = this.#closeBody(pos);
          break;
        case MODE.tunnel:
          this.#emitUnknown(byteCount - pos, true);
          pos = byteCount;
          break;
        case MODE.rejected:
          this.#emitUnknown(byteCount - pos, false);
          pos = byteCount;
          break;
        default:
          pos = this.#lost(st, pos);
      }
    }
    this.#copied = EMPTY;
    this.#out = [];
    return out;
  }

  /**
   * The connection closed: ends a close-delimited response body (RFC 9112 §6.3 item 8) with a zero-length
   * body segment, releases heads still buffered (redacted, as truncated), and resets all state.
   */
  close(): FramerCloseResult {
    const result = {
      egress: this.#closeDirection(this.#egress),
      ingress: this.#closeDirection(this.#ingress),
    };
    this.#pending = [];
    return result;
  }

  #closeDirection(st: DirectionState): Segment[] {
    const out: Segment[] = [];
    if (st.pendingFlush !== null) out.push(segment('head', 0, st.pendingFlush, false));
    if (st.mode === MODE.head && st.headBuf !== null && st.headLen > 0) {
      this.counters.truncatedHeads++;
      const flush = this.#redact(st.headBuf, 0, st.headLen);
      if (flush.length > 0) out.push(segment('head', 0, flush, false));
    } else if (st.mode === MODE.close) {
      out.push(segment('body', 0, null, true));
    }
    st.mode = MODE.idle;
    st.pendingFlush = null;
    st.foundBySearch = false;
    st.resynced = false;
    st.releaseHead();
    st.resetBody();
    return out;
  }

  /** The message kind this direction carries, from the role; `null` while the role is unknown. */
  #expectedKind(direction: Direction): MessageKind | null {
    if (this.#role === 'unknown') return null;
    return (this.#role === 'client') === (direction === 'egress') ? 'request' : 'response';
  }

  /** A decided message start of an acceptable kind at `at` in the copied bytes, or null. */
  #startAt(at: number): MessageKind | null {
    return this.#accepted(detectStreamMessageStart(this.#copied, at, this.#copiedLen));
  }

  /** The kind of a detection if it is a decided start of the kind this direction carries, else null. */
  #accepted(detected: MessageStart): MessageKind | null {
    const kind = messageStartKind(detected);
    if (kind === null) return null;
    const expected = this.#expectedKind(this.#direction);
    if (expected !== null && expected !== kind) {
      this.counters.unexpectedKind++;
      return null;
    }
    return kind;
  }

  #inferRole(kind: MessageKind): void {
    if (this.#role !== 'unknown') return;
    this.#role = (kind === 'request') === (this.#direction === 'egress') ? 'client' : 'server';
  }

  /**
   * A copied buffer that starts with a listed message start begins a message, whatever we thought we were
   * in: the kernel copies exactly such buffers, and when we disagree it is almost always because
   * events were lost (or a response was framed without its request). Tunnels are exempt: their bytes
   * are another protocol and may look like anything; so is a rejected request direction, whose server
   * runs nothing more on this connection.
   */
  #checkEventStart(st: DirectionState): void {
    const mode = st.mode;
    if (this.#copiedLen === 0 || mode === MODE.idle || mode === MODE.tunnel || mode === MODE.rejected) return;
    // Empty lines buffered at a boundary are the start of this very head, not a head to give up.
    if (
      mode === MODE.head &&
      st.kind === null &&
      st.headBuf !== null &&
      emptyLinesEnd(st.headBuf, 0, st.headLen) === st.headLen
    )
      return;
    // The listed starts only: a request line with any method is evidence at a boundary, but the tail of
    // a split start line ("T /b HTTP/1.1") is one too, and must not interrupt the head it continues.
    const kind = this.#accepted(detectMessageStart(this.#copied, 0, this.#copiedLen));
    if (kind === null) return;
    if (st.mode === MODE.head) {
      this.#giveUpHead(st, 0, null, 0, 0);
    } else if (st.mode === MODE.lost) {
      this.counters.resyncs++;
    } else {
      this.counters.interruptedBodies++;
    }
    st.mode = MODE.idle;
    st.releaseHead();
    st.resetBody();
  }

  /**
   * Events may have been lost before this one: whatever count or buffer we held may be wrong. A
   * close-delimited body and a tunnel stay what they are (every byte until close belongs to them).
   */
  #afterLoss(st: DirectionState): void {
    this.counters.lossHints++;
    switch (st.mode) {
      case MODE.head:
        this.#giveUpHead(st, 0, null, 0, 0);
        st.mode = MODE.lost;
        break;
      case MODE.length:
      case MODE.chunked:
        this.counters.interruptedBodies++;
        st.resetBody();
        st.mode = MODE.lost;
        break;
      case MODE.idle:
        st.mode = MODE.lost;
        break;
    }
  }

  #idle(st: DirectionState, pos: number): number {
    if (pos >= this.#copiedLen) {
      // Bytes at a message boundary that the kernel did not copy: a message start we cannot see.
      this.counters.unframedStarts++;
      st.mode = MODE.lost;
      return pos;
    }
    if (st.resynced) st.resynced = false;
    else st.foundBySearch = false;
    // Empty lines before a start line are part of the next head (RFC 9112 §2.2: a server SHOULD
    // ignore at least one; parse-head.ts does), so a stray CRLF after a message keeps the framer in
    // step even when the next start line only arrives in a later event.
    const at = emptyLinesEnd(this.#copied, pos, this.#copiedLen);
    const detected =
      at === -1 ? MESSAGE_START.needsMore : detectStreamMessageStart(this.#copied, at, this.#copiedLen);
    const kind = this.#accepted(detected);
    if (kind !== null) {
      this.#inferRole(kind);
      st.mode = MODE.head;
      st.kind = kind;
      return pos;
    }
    if (detected === MESSAGE_START.needsMore && this.#copiedLen === this.#byteCount) {
      // A prefix of a start ("GE", or empty lines) at the very end of the event: the head continues
      // in the next one.
      st.mode = MODE.head;
      st.kind = null;
      return pos;
    }
    this.counters.unframedStarts++;
    st.mode = MODE.lost;
    return pos;
  }

  #lost(st: DirectionState, pos: number): number {
    const copiedLen = this.#copiedLen;
    if (pos < copiedLen) {
      // Resynchronise on the next line that starts a message (a start right here counts too).
      if ((pos === 0 || this.#copied[pos - 1] === LF) && this.#startAt(pos) !== null) {
        this.counters.resyncs++;
        this.#resyncAt(st, pos);
        return pos;
      }
      const at = findMessageStartAtLine(this.#copied, pos, copiedLen, this.#expectedKind(this.#direction));
      if (at !== -1) {
        this.#emitUnknown(at - pos, false);
        this.counters.resyncs++;
        this.#resyncAt(st, at);
        return at;
      }
      this.#emitUnknown(copiedLen - pos, false);
      pos = copiedLen;
    }
    this.#emitUnknown(this.#byteCount - pos, false);
    return this.#byteCount;
  }

  /** Sync found again at `at`: a message starts there (idle finds it); noted when it is mid-buffer. */
  #resyncAt(st: DirectionState, at: number): void {
    st.mode = MODE.idle;
    st.foundBySearch = at > 0;
    st.resynced = true;
  }

  #head(st: DirectionState, pos: number): number {
    const copiedLen = this.#copiedLen;
    const max = this.#maxHeadBytes;
    if (pos >= copiedLen) {
      // Uncopied bytes while a head is open: the kernel's budget ran out inside the head.
      this.counters.headsCutByCapture++;
      this.#giveUpHead(st, 0, null, 0, 0);
      st.mode = MODE.lost;
      return pos;
    }
    if (st.headLen === 0) {
      // The head starts in this event: parse it in place when it is all here (the common case).
      const end = findHeadEnd(this.#copied, pos, copiedLen);
      if (end !== -1 && end - pos <= max) {
        this.#completeHead(st, this.#copied, pos, end, end - pos);
        return end;
      }
      const available = copiedLen - pos;
      if (available > max || end !== -1) {
        this.counters.headsTooLarge++;
        this.#giveUpHead(st, max, this.#copied, pos, pos + max);
        st.mode = MODE.lost;
        return pos + max;
      }
      if (copiedLen < this.#byteCount) {
        // Cut by the copy cap inside this very event.
        this.counters.headsCutByCapture++;
        this.#giveUpHead(st, available, this.#copied, pos, copiedLen);
        st.mode = MODE.lost;
        return copiedLen;
      }
      st.append(this.#copied, pos, copiedLen, max);
      this.#out.push(segment('head', available, EMPTY, false));
      return copiedLen;
    }

    // The head continues from earlier events.
    const before = st.headLen;
    const take = Math.min(copiedLen - pos, max - before);
    st.append(this.#copied, pos, pos + take, max);
    const buf = st.headBuf!;
    if (st.kind === null) {
      const at = emptyLinesEnd(buf, 0, st.headLen);
      const detected =
        at === -1 || at === st.headLen
          ? MESSAGE_START.needsMore
          : detectStreamMessageStart(buf, at, st.headLen);
      const kind = messageStartKind(detected);
      const expected = this.#expectedKind(this.#direction);
      if (
        detected !== MESSAGE_START.needsMore &&
        (kind === null || (expected !== null && kind !== expected))
      ) {
        // The prefix did not become a message start after all.
        this.counters.unframedStarts++;
        this.#emitUnknown(take, false);
        st.releaseHead();
        st.mode = MODE.lost;
        return pos + take;
      }
      if (kind !== null) {
        this.#inferRole(kind);
        st.kind = kind;
      }
    }
    const end = findHeadEnd(buf, 0, st.headLen, before);
    if (end !== -1) {
      const contribution = end - before;
      this.#completeHead(st, buf, 0, end, contribution);
      return pos + contribution;
    }
    if (take < copiedLen - pos || st.headLen >= max) {
      this.counters.headsTooLarge++;
      this.#giveUpHead(st, take, null, 0, 0);
      st.mode = MODE.lost;
      return pos + take;
    }
    if (copiedLen < this.#byteCount) {
      this.counters.headsCutByCapture++;
      this.#giveUpHead(st, take, null, 0, 0);
      st.mode = MODE.lost;
      return copiedLen;
    }
    this.#out.push(segment('head', take, EMPTY, false));
    return copiedLen;
  }

  /**
   * Gives up on the open head: ships what there is of it, redacted (the redactor's rules for a cut head
   * apply), on a head segment of `length` wire bytes. The head is `src[start..end)` when it lies in
   * this event, else the buffered bytes.
   */
  #giveUpHead(st: DirectionState, length: number, src: Uint8Array | null, start: number, end: number): void {
    this.counters.truncatedHeads++;
    let flush: Uint8Array = EMPTY;
    if (src !== null) flush = this.#redact(src, start, end);
    else if (st.headBuf !== null && st.headLen > 0) flush = this.#redact(st.headBuf, 0, st.headLen);
    st.releaseHead();
    if (length > 0 || flush.length > 0) this.#out.push(segment('head', length, flush, false));
  }

  #redact(src: Uint8Array, start: number, end: number): Uint8Array {
    const r = redactHead(src, this.#policy, start, end);
    this.counters.redactions += r.redactions;
    return r.bytes;
  }

  /** A whole head is in `src[start..end)`; `length` of its bytes are in this event. */
  #completeHead(st: DirectionState, src: Uint8Array, start: number, end: number, length: number): void {
    let parsed = parseHead(src, start, end);
    const expected = this.#expectedKind(this.#direction);
    if (parsed.state === 'invalid' && OVER_LIMIT.has(parsed.reason)) {
      // More fields or a longer line than we read: the message is real (servers take larger heads),
      // so it is shipped cut at the limit and becomes an incomplete span, like a head the copy cap cut.
      // Its framing fields may lie past the cut, so the framer follows no body after it.
      this.counters.headsOverLimit++;
      const cut = parseHead(src, start, end, { allowTruncated: true });
      if (cut.state === 'complete' && (expected === null || cut.head.kind === expected)) {
        if (cut.head.kind === 'request') this.#pushPending(cut.head.method ?? '');
        this.#giveUpHead(st, length, src, start, end);
        st.mode = MODE.lost;
        return;
      }
      parsed = cut;
    }
    if (parsed.state !== 'complete' || (expected !== null && parsed.head.kind !== expected)) {
      const reason = parsed.state === 'invalid' ? parsed.reason : 'bad-start-line';
      this.counters.invalidHeads[reason] = (this.counters.invalidHeads[reason] ?? 0) + 1;
      // A request head that does not parse is one a strict server answers with 400 and a close; when
      // the framer was in step, nothing after it on this connection is a request that server ran.
      if (
        this.#expectedKind(this.#direction) === 'request' &&
        parsed.state === 'invalid' &&
        !st.foundBySearch
      ) {
        this.#rejectHead(st, src, start, end, length);
      } else {
        this.#emitUnknown(length, false);
        st.releaseHead();
        st.mode = MODE.lost;
      }
      return;
    }
    const head = parsed.head;
    const data = this.#redact(src, start, end);
    st.releaseHead();
    st.resetBody();
    let framing: BodyFraming;
    if (head.kind === 'request') {
      this.#pushPending(head.method ?? '');
      framing = requestBodyFraming(head);
    } else {
      this.counters.responses++;
      const status = head.statusCode ?? 0;
      let method: string | null = null;
      if (!isInterimStatus(status)) {
        // A final response answers the oldest outstanding request (RFC 9112 §9.3.2); a 1xx does not.
        const m = this.#pending.shift();
        if (m === undefined) this.counters.orphanResponses++;
        else method = m;
      } else {
        this.counters.interimResponses++;
      }
      framing = responseBodyFraming(head, method);
    }
    switch (framing.kind) {
      case 'none':
        this.#out.push(segment('head', length, data, true));
        st.mode = MODE.idle;
        break;
      case 'length':
        this.#out.push(segment('head', length, data, false));
        st.remaining = framing.length;
        st.mode = MODE.length;
        break;
      case 'chunked':
        this.#out.push(segment('head', length, data, false));
        st.mode = MODE.chunked;
        break;
      case 'close':
        this.#out.push(segment('head', length, data, false));
        st.mode = MODE.close;
        break;
      case 'tunnel':
        this.#out.push(segment('head', length, data, true));
        this.#startTunnel();
        break;
      default:
        this.counters.invalidFraming++;
        this.#out.push(segment('head', length, data, false));
        st.mode = MODE.lost;
    }
  }

  /** A request the framer saw a head of: its method frames the response that answers it. */
  #pushPending(method: string): void {
    this.counters.requests++;
    if (this.#pending.length >= this.#maxPending) {
      this.#pending.shift();
      this.counters.pendingOverflow++;
    }
    this.#pending.push(method);
  }

  /**
   * A request head a strict server rejects, in `src[start..end)`. Its request line, when it has a
   * valid one, is shipped as a cut head: the 400 the server answered pairs with it, so the span shows
   * which request was refused (incomplete, `truncated`). The fields, where the fault is, go out as
   * `unknown` with the rest of the head; then the direction is rejected.
   */
  #rejectHead(st: DirectionState, src: Uint8Array, start: number, end: number, length: number): void {
    const lineStart = emptyLinesEnd(src, start, end);
    const lf = lineStart === -1 ? -1 : indexOfByte(src, LF, lineStart, end);
    // With its CRLF the line is whole (the redactor keeps its last parameter); a bare LF is left out.
    const cut = lf > lineStart && src[lf - 1] === CR ? lf + 1 : lf;
    const line = cut === -1 ? null : parseHead(src, start, cut, { allowTruncated: true });
    st.releaseHead();
    if (
      line !== null &&
      line.state === 'complete' &&
      line.head.kind === 'request' &&
      line.head.target !== null
    ) {
      this.#out.push(segment('head', length, this.#redact(src, start, cut), false));
      this.#pushPending(line.head.method ?? '');
    } else {
      this.#emitUnknown(length, false);
    }
    this.#reject(st);
  }

  /** See `rejectedRequests`. */
  #reject(st: DirectionState): void {
    this.counters.rejectedRequests++;
    st.resetBody();
    st.mode = MODE.rejected;
  }

  /** Both directions stop being HTTP/1.x (RFC 9110 §7.8 after 101; §9.3.6 after CONNECT 2xx). */
  #startTunnel(): void {
    this.counters.tunnels++;
    for (const st of [this.#egress, this.#ingress]) {
      if (st.mode === MODE.head && st.headBuf !== null && st.headLen > 0) {
        // The other direction had a head open; it is tunnel data now, but what was seen of it was
        // shipped as head bytes already, so its (redacted) data still has to be released.
        this.counters.truncatedHeads++;
        const flush = this.#redact(st.headBuf, 0, st.headLen);
        if (flush.length > 0) st.pendingFlush = flush;
      }
      st.releaseHead();
      st.resetBody();
      st.mode = MODE.tunnel;
    }
    this.#pending = [];
  }

  #bodyData(pos: number, n: number): Uint8Array | null {
    if (!this.#shipBodies) return null;
    const end = Math.min(pos + n, this.#copiedLen);
    // A copy: the event's buffer belongs to the ring-buffer reader and is reused.
    return end > pos ? this.#copied.slice(pos, end) : EMPTY;
  }

  #lengthBody(st: DirectionState, pos: number): number {
    const n = Math.min(st.remaining, this.#byteCount - pos);
    st.remaining -= n;
    const ends = st.remaining === 0;
    this.#out.push(segment('body', n, this.#bodyData(pos, n), ends));
    if (ends) st.mode = MODE.idle;
    return pos + n;
  }

  #closeBody(pos: number): number {
    const n = this.#byteCount - pos;
    this.#out.push(segment('body', n, this.#bodyData(pos, n), false));
    return this.#byteCount;
  }

  /**
   * A chunked body (chunked-body.ts reads its framing in the copied bytes). Chunk data the kernel did
   * not copy is skipped by count; when a gap swallows a size line the body goes blind and only a
   * terminator at the end of a buffer (kernel flag, or our own test on a fully copied buffer) ends it.
   */
  #chunkedBody(st: DirectionState, pos: number): number {
    const start = pos;
    const byteCount = this.#byteCount;
    if (!st.blind) {
      const chunk = st.chunk;
      pos = chunk.read(this.#copied, pos, this.#copiedLen, this.#strictLineEnds());
      if (chunk.stop === CHUNKED_STOP.end) return this.#endChunked(st, start, pos);
      if (chunk.stop === CHUNKED_STOP.invalid) return this.#invalidChunk(st, start, pos);
      if (pos >= byteCount) {
        this.#out.push(segment('body', pos - start, this.#bodyData(start, pos - start), false));
        return pos;
      }
      if (chunk.skip(byteCount - pos)) {
        // The uncopied bytes are all chunk data: still in step.
        this.#out.push(segment('body', byteCount - start, this.#bodyData(start, byteCount - start), false));
        return byteCount;
      }
      st.blind = true;
      this.counters.blindChunked++;
    }
    // Blind: the rest of this buffer is body; it ends the message only if the buffer ends with the
    // last-chunk marker (the kernel tells us for uncopied buffers; we can see it in copied ones).
    const copied = this.#copied;
    const ends =
      this.#chunkTerminator ||
      (this.#copiedLen === byteCount && endsWithChunkTerminator(copied, 0, byteCount));
    this.#out.push(segment('body', byteCount - start, this.#bodyData(start, byteCount - start), ends));
    if (ends) {
      this.counters.chunkEndsByTerminator++;
      st.resetBody();
      st.mode = MODE.idle;
    }
    return byteCount;
  }

  #endChunked(st: DirectionState, start: number, pos: number): number {
    this.#out.push(segment('body', pos - start, this.#bodyData(start, pos - start), true));
    st.resetBody();
    st.mode = MODE.idle;
    return pos;
  }

  #invalidChunk(st: DirectionState, start: number, pos: number): number {
    this.counters.invalidChunked++;
    if (pos > start) this.#out.push(segment('body', pos - start, this.#bodyData(start, pos - start), false));
    st.resetBody();
    // A strict server stops reading a request whose chunk framing breaks (and closes).
    if (this.#strictLineEnds() && !st.foundBySearch) this.#reject(st);
    else st.mode = MODE.lost;
    return pos;
  }

  /** This event carries requests, which are read the way strict servers read them (parse-head.ts). */
  #strictLineEnds(): boolean {
    return this.#expectedKind(this.#direction) === 'request';
  }

  #emitUnknown(length: number, tunnel: boolean): void {
    if (length <= 0) return;
    if (tunnel) this.counters.tunnelBytes += length;
    else this.counters.unknownBytes += length;
    const out = this.#out;
    const last = out[out.length - 1];
    if (last !== undefined && last.kind === 'unknown') {
      out[out.length - 1] = segment('unknown', last.length + length, null, false);
    } else {
      out.push(segment('unknown', length, null, false));
    }
  }
}
