/**
 * The data model of the HTTP/2 protocol folder: what the kernel hands the collector (a captured event),
 * what the frame reader makes of it (frames and gaps), what the collector's connection decoder emits
 * per stream (decoded, redacted header blocks; DATA lengths; resets), and what the stream pairer builds
 * from those (exchanges). Types only; the behaviour lives in one file per concept beside this one.
 */

import type { Direction, Role } from '../http1/types.ts';
import type { HpackError } from './hpack-decoder.ts';

export type { Direction, Role };

/**
 * One read/write on an HTTP/2 connection as the kernel reported it (bpf/lib/h2.h): flags of the
 * DATA record decide the layout of `copied` (README.md, "What the kernel copies").
 */
export interface Http2CapturedEvent {
  readonly direction: Direction;
  readonly role: Role;
  /** The copied bytes: the buffer whole, or (elided) with DATA payloads cut to their prefix. */
  readonly copied: Uint8Array;
  /** Bytes the syscall moved on the wire. */
  readonly byteCount: number;
  /** DATA payloads past their first `dataPrefixBytes` are missing from `copied` (MP_F_H2_ELIDED). */
  readonly elided: boolean;
  /** The buffer begins at a frame boundary as the kernel followed it (MP_F_H2_FRAME_START). */
  readonly frameStart: boolean;
  /** After `copied`, the rest of the buffer is unknown (MP_F_TRUNCATED, MP_F_READ_FAILED). */
  readonly truncated: boolean;
  /** Events of this direction may have been lost just before this one (ring-buffer loss). */
  readonly afterLoss?: boolean;
}

/** One frame (RFC 9113 §4.1). */
export interface Http2Frame {
  readonly kind: 'frame';
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  /** Payload length on the wire. */
  readonly length: number;
  /** Every frame but DATA: the whole payload; `null` when it was larger than the reader keeps. */
  readonly payload: Uint8Array | null;
  /** DATA: the copied pieces of the payload by offset (with elided records, its first bytes). */
  readonly data: ReadonlyArray<{ readonly offset: number; bytes: Uint8Array }> | null;
}

/** Why the frame reader lost track of frames in one direction. */
export type Http2GapReason =
  | 'truncated'
  | 'events-lost'
  | 'length-mismatch'
  | 'frame-start-mismatch'
  | 'bad-preface'
  | 'connection-closed';

/** Bytes the reader could not follow: a header block may have been among them. */
export interface Http2Gap {
  readonly kind: 'gap';
  readonly reason: Http2GapReason;
  /** The frame being read when the gap came, if any. */
  readonly streamId?: number;
  readonly frameType?: number;
}

export type Http2FrameReaderOutput = Http2Frame | Http2Gap;

/** Which end of the connection sent something: the client sends requests (RFC 9113 §8.1). */
export type Http2Sender = 'client' | 'server' | 'unknown';

/** A header field after decoding and redaction. `null`: a table reference that could not be resolved. */
export interface Http2Field {
  readonly name: string | null;
  readonly value: string | null;
}

/** Why a header block could not be decoded at all. */
export type Http2BlockLoss =
  /** A gap in the capture cut the block (or the frames before it). */
  | 'capture-gap'
  /** A fragment larger than the reader keeps. */
  | 'oversize'
  /** CONTINUATION without a block, or another frame inside a block (RFC 9113 §6.10). */
  | 'bad-continuation';

/**
 * A header block on a stream (HEADERS + CONTINUATION, or PUSH_PROMISE), decoded and redacted by the
 * collector: the first one of a side is its headers, a later one its trailers (RFC 9113 §8.1).
 */
export interface Http2HeadersEvent {
  readonly kind: 'headers';
  readonly tsNs: bigint;
  readonly direction: Direction;
  readonly sender: Http2Sender;
  readonly streamId: number;
  readonly endStream: boolean;
  /** Decoded fields, redacted. Empty when the block was lost. */
  readonly fields: readonly Http2Field[];
  /** Fields whose name or value refers to a table entry this decoder never saw (mid-way start, gap). */
  readonly unresolved: number;
  /** The block was malformed (fields hold what came before the error). */
  readonly hpackError: HpackError | null;
  /** The block was not decodable at all. */
  readonly lost: Http2BlockLoss | null;
  /** Values replaced by the redaction marker. */
  readonly redactions: number;
  /** PUSH_PROMISE: the stream the server promised (its request headers are these fields). */
  readonly promisedStreamId?: number;
}

/** A DATA frame: its length and what the gRPC message framing inside it says. */
export interface Http2DataEvent {
  readonly kind: 'data';
  readonly tsNs: bigint;
  readonly direction: Direction;
  readonly sender: Http2Sender;
  readonly streamId: number;
  /** Payload bytes on the wire (padding included). */
  readonly length: number;
  readonly endStream: boolean;
  /** gRPC messages whose 5-byte prefix starts in this frame. */
  readonly grpcMessages: number;
  /** False once a message prefix of this stream and direction fell in bytes that were not copied. */
  readonly grpcMessagesExact: boolean;
}

export interface Http2ResetEvent {
  readonly kind: 'rst-stream';
  readonly tsNs: bigint;
  readonly direction: Direction;
  readonly sender: Http2Sender;
  readonly streamId: number;
  /** RFC 9113 §7 error code (0x8 CANCEL, ...). */
  readonly errorCode: number;
}

export interface Http2GoawayEvent {
  readonly kind: 'goaway';
  readonly tsNs: bigint;
  readonly direction: Direction;
  readonly sender: Http2Sender;
  readonly lastStreamId: number;
  readonly errorCode: number;
}

/** The frame reader lost frames in one direction: streams open in it may miss events. */
export interface Http2GapEvent {
  readonly kind: 'gap';
  readonly tsNs: bigint;
  readonly direction: Direction;
  readonly sender: Http2Sender;
  readonly reason: Http2GapReason;
}

// PROTOCOL-REGISTRY: what the collector emits per HTTP/2 connection; mirrored by the `Http2Event` record
// of schemas/l7-raw-event.avsc (collectors/build/http2-connection.ts writes it, the span assembler's
// h2-side.ts reads it back). Keep them in sync.
export type Http2StreamEvent =
  | Http2HeadersEvent
  | Http2DataEvent
  | Http2ResetEvent
  | Http2GoawayEvent
  | Http2GapEvent;

/** One side of a stream: the request (client) or the response (server). */
export interface Http2Message {
  /** The first header block (pseudo-headers included); empty when it was lost or never seen. */
  readonly headers: readonly Http2Field[];
  /** Informational (1xx) response header blocks before the final one (RFC 9113 §8.1). */
  readonly informational: ReadonlyArray<readonly Http2Field[]>;
  /** A trailing header block (gRPC status lives here), `null` when none. */
  readonly trailers: readonly Http2Field[] | null;
  readonly startNs: bigint;
  readonly endNs: bigint;
  /** DATA payload bytes (padding included) and frames. */
  readonly dataBytes: number;
  readonly dataFrames: number;
  readonly grpcMessages: number;
  readonly grpcMessagesExact: boolean;
  /** END_STREAM was seen. */
  readonly ended: boolean;
  /** Unresolved references in its header blocks, and blocks that were lost. */
  readonly unresolved: number;
  readonly blocksLost: number;
}

export type Http2ExchangeIncompleteReason =
  /** RST_STREAM ended the stream (cancel, deadline, refused...). */
  | 'reset'
  /** GOAWAY said the stream was not (or may not have been) processed. */
  | 'goaway'
  | 'connection-closed'
  | 'timeout'
  /** A response whose request was never seen (capture started after it). */
  | 'orphan-response'
  /** A gap in the capture fell inside the stream. */
  | 'gap';

/** A request paired with its response on one stream (RFC 9113 §8.1). */
export interface Http2Exchange {
  readonly streamId: number;
  /** The caller's tag of the event that opened the stream (`Http2StreamPairer.push`), when it gave one. */
  readonly tag?: number;
  readonly request: Http2Message | null;
  readonly response: Http2Message | null;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly complete: boolean;
  readonly incompleteReason?: Http2ExchangeIncompleteReason;
  /** Who reset the stream, and with which code. */
  readonly reset?: { readonly by: Http2Sender; readonly errorCode: number };
  /** Convenience from the request's pseudo-headers; `null` when absent or unresolved. */
  readonly method: string | null;
  readonly path: string | null;
  readonly authority: string | null;
  /** The final response's `:status`. */
  readonly status: number | null;
  /** gRPC (content-type application/grpc*): names from `:path`, status from trailers. */
  readonly grpc: GrpcCall | null;
}

export interface GrpcCall {
  /** `package.Service` from `/package.Service/Method`. */
  readonly service: string | null;
  readonly method: string | null;
  /** `grpc-status` (0 OK .. 16), from the trailers or a trailers-only response; `null` when absent. */
  readonly statusCode: number | null;
  /** `grpc-message`, percent-decoded. */
  readonly message: string | null;
  readonly requestMessages: number;
  readonly responseMessages: number;
  /** Both counts are exact (every message prefix was among the copied bytes). */
  readonly messagesExact: boolean;
}
