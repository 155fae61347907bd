/**
 * The span assembler's side: rebuilds HTTP messages from the segments the collector shipped, for one
 * connection and one direction.
 *
 * It trusts the collector's framing (`endsMessage`): the collector saw the real bytes, chunk sizes
 * included, and the request methods that decide response framing. What it cannot trust is
 * completeness: records may be missing, heads may be cut, bytes may be unknown. The rules:
 * - a head's redacted bytes arrive once, on the head segment that completes or gives up on it (earlier
 *   head segments of the same head carry no data; see types.ts); a head that does not parse to its
 *   empty line is a cut head: parsed as far as it goes, the message marked `truncatedHead`;
 * - a new head while a message is open ends that message as `interrupted` (events were lost);
 * - `unknown` bytes end the open message as `unknown-bytes` and mark the next message `resync`;
 * - body bytes without a head are counted and skipped (the capture started mid-body);
 * - a head that does not parse at all is counted and its message dropped (nothing to report it by);
 * - at close, a response whose body is delimited by the close (RFC 9112 §6.3 item 8) is complete;
 *   anything else still open is `connection-closed`; `expire` ends a message idle past a timeout.
 * Nothing here throws on bad input.
 *
 * State: `toState()` is everything the reader needs to go on (the open message, the lost-sync mark) as
 * plain JSON data, and `Http1MessageReader.fromState(state)` a reader that continues exactly where that
 * one was. The span assembler keeps this per connection side in its partition state, so a restarted or
 * rebalanced processor resumes mid-message, and no event is ever parsed twice. Counters are not state:
 * they count what one instance did.
 */

import { responseBodyFraming } from './body-framing.ts';
import { type HeadInvalidReason, parseHead } from './parse-head.ts';
import type { Http1Message, MessageIncompleteReason, ParsedHead, Segment } from './types.ts';

// PROTOCOL-REGISTRY: counters the span assembler exports as metrics (labelled protocol="http1").
export interface Http1ReaderCounters {
  messages: number;
  requests: number;
  responses: number;
  /** Messages emitted with `complete: false`, by reason. */
  incomplete: Partial<Record<MessageIncompleteReason, number>>;
  /** Heads that did not parse even as cut heads, by reason; their messages were dropped. */
  invalidHeads: Partial<Record<HeadInvalidReason, number>>;
  /** Heads whose bytes never arrived (records lost between the collector and here). */
  headsLost: number;
  /** Body bytes that belonged to no message seen here. */
  orphanBodyBytes: number;
  /** Bytes the collector shipped as `unknown`. */
  unknownBytes: number;
}

export function newReaderCounters(): Http1ReaderCounters {
  return {
    messages: 0,
    requests: 0,
    responses: 0,
    incomplete: {},
    invalidHeads: {},
    headsLost: 0,
    orphanBodyBytes: 0,
    unknownBytes: 0,
  };
}

interface OpenMessage {
  /** Null until the head's bytes arrive. */
  head: ParsedHead | null;
  startNs: bigint;
  lastNs: bigint;
  wireBytes: number;
  bodyBytes: number;
  resync: boolean;
  /** The tag of the event whose head segment opened the message. */
  tag: number | undefined;
}

/** The open message of a reader, as plain data (timestamps as decimal strings). */
export interface Http1OpenMessageState {
  head: ParsedHead | null;
  startNs: string;
  lastNs: string;
  wireBytes: number;
  bodyBytes: number;
  resync: boolean;
  tag: number | null;
}

/** Everything a reader needs to go on, as plain JSON data (`toState`, `fromState`). */
export interface Http1ReaderState {
  /** The message being read, `null` between messages. */
  open: Http1OpenMessageState | null;
  /** Sync was lost since the last message began: the next message is marked `resync`. */
  resync: boolean;
}

/** One reader per connection and direction. */
export class Http1MessageReader {
  readonly counters: Http1ReaderCounters = newReaderCounters();
  #open: OpenMessage | null = null;
  /** Sync was lost since the last message began: the next one is marked `resync`. */
  #resync = false;

  /** A reader that goes on from `state` (from `toState()`, possibly through JSON). Counters start at zero. */
  static fromState(state: Http1ReaderState): Http1MessageReader {
    const reader = new Http1MessageReader();
    const o = state.open;
    reader.#resync = state.resync;
    reader.#open =
      o === null
        ? null
        : {
            head: o.head,
            startNs: BigInt(o.startNs),
            lastNs: BigInt(o.lastNs),
            wireBytes: o.wireBytes,
            bodyBytes: o.bodyBytes,
            resync: o.resync,
            tag: o.tag ?? undefined,
          };
    return reader;
  }

  /** The reader's state as plain JSON data; `fromState` continues from it exactly. */
  toState(): Http1ReaderState {
    const o = this.#open;
    return {
      open:
        o === null
          ? null
          : {
              head: o.head,
              startNs: o.startNs.toString(),
              lastNs: o.lastNs.toString(),
              wireBytes: o.wireBytes,
              bodyBytes: o.bodyBytes,
              resync: o.resync,
              tag: o.tag ?? null,
            },
      resync: this.#resync,
    };
  }

  /** Nothing open and sync not lost: the state of a new reader (a caller may keep no state at all). */
  get idle(): boolean {
    return this.#open === null && !this.#resync;
  }

  /** Timestamp of the last bytes of the open message, `null` when none is open. */
  get openSinceNs(): bigint | null {
    return this.#open?.lastNs ?? null;
  }

  /** Sync was lost since the last message began: the next message will be marked `resync`. */
  get syncLost(): boolean {
    return this.#resync;
  }

  /**
   * Consumes the segments of one shipped event (timestamp `tsNs`); returns the messages that ended.
   * `tag` is the caller's, for the event (the span assembler passes the thread that made the syscall):
   * a message carries the tag of the event whose head segment opened it.
   */
  push(tsNs: bigint, segments: readonly Segment[], tag?: number): Http1Message[] {
    const out: Http1Message[] = [];
    for (const seg of segments) {
      const length = Number.isSafeInteger(seg.length) && seg.length > 0 ? seg.length : 0;
      switch (seg.kind) {
        case 'head':
          this.#head(tsNs, seg, length, out, tag);
          break;
        case 'body':
          this.#body(tsNs, seg, length, out);
          break;
        default:
          this.counters.unknownBytes += length;
          this.#end(out, 'unknown-bytes');
          this.#resync = true;
      }
    }
    return out;
  }

  /** The connection closed at `atNs`. */
  close(atNs: bigint): Http1Message[] {
    const out: Http1Message[] = [];
    const open = this.#open;
    if (open !== null && open.head !== null && !open.head.truncated && isCloseDelimited(open.head)) {
      open.lastNs = atNs;
      out.push(this.#emit(open, true, undefined));
      this.#open = null;
    } else {
      if (open !== null) open.lastNs = atNs;
      this.#end(out, 'connection-closed');
    }
    this.#resync = false;
    return out;
  }

  /** Ends the open message if its last bytes are at least `timeoutNs` older than `nowNs`. */
  expire(nowNs: bigint, timeoutNs: bigint): Http1Message[] {
    const out: Http1Message[] = [];
    if (this.#open !== null && nowNs - this.#open.lastNs >= timeoutNs) this.#end(out, 'timeout');
    return out;
  }

  #head(tsNs: bigint, seg: Segment, length: number, out: Http1Message[], tag: number | undefined): void {
    let open = this.#open;
    // A head segment continues the open message only while that message still waits for its head bytes.
    if (open === null || open.head !== null) {
      if (open !== null) this.#end(out, 'interrupted');
      open = {
        head: null,
        startNs: tsNs,
        lastNs: tsNs,
        wireBytes: 0,
        bodyBytes: 0,
        resync: this.#resync,
        tag,
      };
      this.#resync = false;
      this.#open = open;
    }
    open.wireBytes += length;
    open.lastNs = tsNs;
    const data = seg.data;
    if (data === null || data.length === 0) return;
    const parsed = parseHead(data, 0, data.length, { allowTruncated: true });
    if (parsed.state !== 'complete') {
      const reason = parsed.state === 'invalid' ? parsed.reason : 'bad-start-line';
      this.counters.invalidHeads[reason] = (this.counters.invalidHeads[reason] ?? 0) + 1;
      this.#open = null;
      this.#resync = true;
      return;
    }
    open.head = parsed.head;
    if (seg.endsMessage && !parsed.head.truncated) {
      out.push(this.#emit(open, true, undefined));
      this.#open = null;
    }
  }

  #body(tsNs: bigint, seg: Segment, length: number, out: Http1Message[]): void {
    const open = this.#open;
    if (open === null || open.head === null) {
      if (open !== null) {
        // Head segments came, but their bytes never did.
        this.counters.headsLost++;
        this.#open = null;
      }
      this.counters.orphanBodyBytes += length;
      this.#resync = true;
      return;
    }
    open.bodyBytes += length;
    open.wireBytes += length;
    open.lastNs = tsNs;
    if (seg.endsMessage && !open.head.truncated) {
      out.push(this.#emit(open, true, undefined));
      this.#open = null;
    }
  }

  /** Ends the open message, if any, as incomplete. */
  #end(out: Http1Message[], reason: MessageIncompleteReason): void {
    const open = this.#open;
    this.#open = null;
    if (open === null) return;
    if (open.head === null) {
      this.counters.headsLost++;
      return;
    }
    out.push(this.#emit(open, false, open.head.truncated ? 'truncated-head' : reason));
  }

  #emit(open: OpenMessage, complete: boolean, reason: MessageIncompleteReason | undefined): Http1Message {
    const head = open.head!;
    this.counters.messages++;
    if (head.kind === 'request') this.counters.requests++;
    else this.counters.responses++;
    if (reason !== undefined) this.counters.incomplete[reason] = (this.counters.incomplete[reason] ?? 0) + 1;
    const message: Http1Message = {
      kind: head.kind,
      head,
      startNs: open.startNs,
      endNs: open.lastNs,
      wireBytes: open.wireBytes,
      bodyBytes: open.bodyBytes,
      complete,
      truncatedHead: head.truncated,
      resync: open.resync,
      ...(open.tag === undefined ? {} : { tag: open.tag }),
    };
    return reason === undefined ? message : { ...message, incompleteReason: reason };
  }
}

/**
 * A response whose body runs to the close. The request method is not known here; a response to HEAD
 * never reaches this point open, because the collector ended it at its head.
 */
function isCloseDelimited(head: ParsedHead): boolean {
  return head.kind === 'response' && responseBodyFraming(head, null).kind === 'close';
}
