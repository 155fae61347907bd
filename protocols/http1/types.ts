/**
 * The data model of the HTTP/1.x protocol folder: what the kernel hands the collector (a captured
 * event), what the collector ships (segments), and what the span assembler builds from them (messages,
 * exchanges). Types only; the behaviour lives in one file per concept beside this one.
 */

/** Which way the bytes went, seen from the traced process: `egress` = write/send, `ingress` = read/recv. */
export type Direction = 'egress' | 'ingress';

/**
 * The traced process's end of the TCP connection: `client` if it called connect(), `server` if it
 * accepted. `unknown` when the capture attached to an already open connection; the framer then infers
 * the role from the first message start it recognises (a request flows client → server).
 */
export type Role = 'client' | 'server' | 'unknown';

/** An HTTP/1.x message is a request or a response (RFC 9112 §2.1). */
export type MessageKind = 'request' | 'response';

/**
 * One read/write syscall on a TCP socket as the kernel reported it.
 *
 * The kernel copies the bytes of a buffer that starts an HTTP/1.x message (see detect.ts), up to a cap,
 * and keeps copying the buffers that follow until a per-message budget is spent; after that only the
 * byte count travels. So `copied` is always a prefix of the buffer and may be shorter than `byteCount`,
 * or empty (a "gap").
 */
export interface CapturedEvent {
  readonly direction: Direction;
  readonly role: Role;
  /** The copied prefix of the buffer; `copied.length <= byteCount`. Not retained by the framer. */
  readonly copied: Uint8Array;
  /** The syscall's byte count: how many bytes went over the wire in this buffer. */
  readonly byteCount: number;
  /**
   * Set by the kernel for a buffer whose bytes were not copied when it ends with the last-chunk marker
   * of chunked coding ("\r\n0\r\n\r\n", or is exactly "0\r\n\r\n"; RFC 9112 §7.1). Lets the framer end a
   * chunked body it can no longer follow chunk by chunk.
   */
  readonly chunkTerminator: boolean;
  /**
   * Optional: events of this connection and direction may have been lost just before this one (the
   * collector saw ring-buffer loss since the connection's previous event, or a per-socket sequence
   * number jumped). The framer then stops trusting what it was in the middle of: a buffered head is
   * released as cut (so bytes after the loss are never spliced into it, where they could land in a
   * field that is not redacted), and a body whose length it was counting is abandoned.
   */
  readonly afterLoss?: boolean;
}

/** What a run of wire bytes is: part of a message head, part of a message body, or not understood. */
export type SegmentKind = 'head' | 'body' | 'unknown';

/**
 * A run of one event's bytes, as the collector ships it. The segments of one event cover its bytes
 * exactly: their `length`s add up to the event's `byteCount`. (A segment of length 0 can carry data
 * or an end: see below.)
 *
 * `data`:
 * - `head`: the REDACTED head bytes released at this point. A head split over several events is
 *   released whole, once, by the segment that completes it (or gives up on it: a head cut by the
 *   kernel's copy cap, by lost events, or by the framer's own buffer limit); the earlier head segments
 *   of the same head carry an empty array. So every head yields exactly one non-empty `data`, and the
 *   consumer never has to stitch redacted fragments.
 * - `body`: `null`, or the copied body bytes (wire form, chunk framing included; possibly fewer than
 *   `length` when bytes were not copied) when the collector is configured to ship bodies.
 * - `unknown`: always `null`. Unknown bytes may be a head that failed to parse, so they are never
 *   shipped, whatever the body setting.
 *
 * `endsMessage`: the message ends with this segment's last byte (Content-Length satisfied, last chunk
 * seen or flagged by the kernel, a head that has no body, or the connection closed under a
 * close-delimited body). Never set on `unknown` segments.
 */
// PROTOCOL-REGISTRY: the shipped segment; mirrored by the `PayloadSegment` record of
// schemas/l7-raw-event.avsc (kind HEAD/BODY/UNKNOWN, length, data, endsMessage). Keep them in sync.
export interface Segment {
  readonly kind: SegmentKind;
  readonly length: number;
  readonly data: Uint8Array | null;
  readonly endsMessage: boolean;
}

/** A parsed request or response head (RFC 9112 §3, §4, §5). Field values are Latin-1 decoded. */
export interface ParsedHead {
  readonly kind: MessageKind;
  /** Request method (case-sensitive, RFC 9110 §9.1); `null` for a response. */
  readonly method: string | null;
  /** The request-target as sent (RFC 9112 §3.2); `null` for a response. */
  readonly target: string | null;
  /** The path of an origin-form or absolute-form target, `*` for asterisk-form, `null` otherwise. */
  readonly path: string | null;
  /** The query of the target without the `?`, `null` when there is none. */
  readonly query: string | null;
  /** `1.0`, `1.1` (the digits of HTTP-version, RFC 9112 §2.3); `null` when a truncated start line cut it. */
  readonly version: string | null;
  /** Status code of a response (RFC 9110 §15); `null` for a request. */
  readonly statusCode: number | null;
  /** Reason phrase of a response (may be empty); `null` for a request. */
  readonly reason: string | null;
  /** Header fields in wire order, names as sent, values trimmed of OWS (RFC 9112 §5.1). */
  readonly headers: ReadonlyArray<readonly [name: string, value: string]>;
  /** `headers[i][0]` lower-cased, same index: field names are case-insensitive (RFC 9110 §5.1). */
  readonly lowerNames: readonly string[];
  /** The Content-Length (RFC 9110 §8.6), `null` when absent. */
  readonly contentLength: number | null;
  /** The raw Transfer-Encoding value (all lines joined with ", "), `null` when absent. */
  readonly transferEncoding: string | null;
  /** Transfer-Encoding is present and its final coding is `chunked` (RFC 9112 §6.1). */
  readonly chunked: boolean;
  /** The sender will close after this message (RFC 9112 §9.3: `Connection: close`, or HTTP/1.0 without keep-alive). */
  readonly connectionClose: boolean;
  /** The Upgrade field value (RFC 9110 §7.8), `null` when absent. */
  readonly upgrade: string | null;
  /** `Expect: 100-continue` (RFC 9110 §10.1.1). */
  readonly expectContinue: boolean;
  /** Bytes of the head, start line to the empty line inclusive (leading empty lines included). */
  readonly headBytes: number;
  /** The head was cut before its empty line (only when parsed with `allowTruncated`). */
  readonly truncated: boolean;
}

/** Why the span assembler could not see a message to its end. */
export type MessageIncompleteReason =
  /** The head was cut (copy cap, lost events); the framing and the rest of the message are unknown. */
  | 'truncated-head'
  /** A new head started in the same direction before this message ended (events were lost). */
  | 'interrupted'
  /** Bytes the collector could not frame followed; the end of this message is among them. */
  | 'unknown-bytes'
  /** The connection closed before the message's framing was satisfied. */
  | 'connection-closed'
  /** No bytes for this message arrived within the timeout. */
  | 'timeout';

/** One HTTP message as the span assembler reconstructs it from shipped segments. */
export interface Http1Message {
  readonly kind: MessageKind;
  readonly head: ParsedHead;
  /** Timestamp of the event that carried the first head bytes. */
  readonly startNs: bigint;
  /** Timestamp of the event that ended the message (or of its last bytes, when incomplete). */
  readonly endNs: bigint;
  /** Wire bytes of the message seen so far: head plus body. */
  readonly wireBytes: number;
  /** Wire bytes of the body (chunk framing included). */
  readonly bodyBytes: number;
  /** The message's framing was satisfied (or a close-delimited body ended with the connection). */
  readonly complete: boolean;
  /** The head was cut: `head` holds what was there, its last field value may be cut too. */
  readonly truncatedHead: boolean;
  /**
   * Sync was lost in this direction just before this message (unknown bytes, an unusable head, body
   * bytes without a head): messages before it may be missing. The pairer uses this to stop trusting
   * FIFO order for a response.
   */
  readonly resync: boolean;
  readonly incompleteReason?: MessageIncompleteReason;
  /** The caller's tag of the event that opened the message (`Http1MessageReader.push`), when it gave one. */
  readonly tag?: number;
}

/** Why an exchange is not a complete request/response pair. */
export type ExchangeIncompleteReason =
  /** A response with no request (the capture started mid-connection, or the request was lost). */
  | 'orphan-response'
  /** The connection closed while the request waited for its response. */
  | 'connection-closed'
  /** The request waited longer than the timeout for its response. */
  | 'timeout'
  /** A later response was paired with a later request after a loss of sync: this one's was lost. */
  | 'response-lost'
  /** Paired, but the request message itself is incomplete. */
  | 'request-incomplete'
  /** Paired, but the response message itself is incomplete. */
  | 'response-incomplete';

/** A request paired with its final response, plus any interim (1xx) responses in between. */
export interface Http1Exchange {
  readonly request?: Http1Message;
  readonly response?: Http1Message;
  /** Interim responses (1xx other than 101, RFC 9110 §15.2) received before the final one. */
  readonly interim: readonly Http1Message[];
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly complete: boolean;
  readonly incompleteReason?: ExchangeIncompleteReason;
}
