/**
 * The collector's per-connection HTTP/2 decoder: captured events of both directions in, per-stream
 * events out (decoded and redacted header blocks, DATA lengths with gRPC message counts, resets,
 * GOAWAY, gaps).
 *
 * HPACK decoding happens here, and only here, because it needs every header block of a connection
 * and direction in order, which one node sees for its own end of a connection; and because header
 * values must be redacted before anything leaves the node, which needs them decoded. Per direction
 * it keeps a frame reader, an HPACK decoder, the header block being assembled (HEADERS or
 * PUSH_PROMISE plus CONTINUATIONs, RFC 9113 §6.10) and a gRPC message counter per stream.
 *
 * Losses are reported, never papered over: a gap in a direction makes its HPACK decoder unsynced
 * (hpack-decoder.ts) and emits a `gap` event; a block that could not be read is emitted as a
 * `headers` event with `lost` set and no fields. Nothing here throws on traffic.
 */

import { FRAME_FLAG, FRAME_TYPE } from './detect.ts';
import { type FrameReaderOptions, Http2FrameReader } from './frame-reader.ts';
import { GrpcMessageCounter } from './grpc.ts';
import { HpackDecoder } from './hpack-decoder.ts';
import { type Http2RedactionOptions, redactFields } from './redact.ts';
import type {
  Direction,
  Http2BlockLoss,
  Http2CapturedEvent,
  Http2Frame,
  Http2Gap,
  Http2Sender,
  Http2StreamEvent,
  Role,
} from './types.ts';

/** Bytes of one header block (all its fragments) kept before it is given up as oversize. */
export const MAX_HEADER_BLOCK_BYTES = 256 * 1024;
/** Streams whose gRPC message counters are kept per direction (closed streams leave at once). */
export const MAX_COUNTED_STREAMS = 1024;

export interface ConnectionDecoderOptions extends FrameReaderOptions, Http2RedactionOptions {
  /** The connection was open before the capture (the kernel's PREEXISTING flag): start unsynced. */
  readonly midway?: boolean;
  readonly maxHeaderBlockBytes?: number;
}

interface OpenBlock {
  readonly type: number;
  readonly streamId: number;
  readonly endStream: boolean;
  readonly promisedStreamId?: number;
  readonly tsNs: bigint;
  readonly parts: Uint8Array[];
  size: number;
  lost: Http2BlockLoss | null;
}

class Side {
  readonly reader: Http2FrameReader;
  readonly hpack: HpackDecoder;
  block: OpenBlock | null = null;
  readonly counters = new Map<number, GrpcMessageCounter>();
  constructor(options: ConnectionDecoderOptions) {
    this.reader = new Http2FrameReader(options);
    this.hpack = new HpackDecoder({ synced: !options.midway });
  }
}

const DIRECTIONS: readonly Direction[] = ['egress', 'ingress'];

export class Http2ConnectionDecoder {
  readonly #options: ConnectionDecoderOptions;
  readonly #maxBlock: number;
  readonly #sides: Record<Direction, Side>;
  /** Who sends on each direction; learnt from the role, or from the first decoded pseudo-headers. */
  #sender: Record<Direction, Http2Sender> = { egress: 'unknown', ingress: 'unknown' };

  constructor(role: Role, options: ConnectionDecoderOptions = {}) {
    this.#options = options;
    this.#maxBlock = options.maxHeaderBlockBytes ?? MAX_HEADER_BLOCK_BYTES;
    this.#sides = { egress: new Side(options), ingress: new Side(options) };
    if (role !== 'unknown') this.#setSender('egress', role);
  }

  /** Per-direction frame readers and HPACK decoders, for their counters. */
  side(direction: Direction): { readonly reader: Http2FrameReader; readonly hpack: HpackDecoder } {
    return this.#sides[direction];
  }

  /** Who sends on a direction: from the role, or learnt from the first decoded pseudo-headers. */
  senderOf(direction: Direction): Http2Sender {
    return this.#sender[direction];
  }

  push(tsNs: bigint, ev: Http2CapturedEvent): Http2StreamEvent[] {
    const out: Http2StreamEvent[] = [];
    const side = this.#sides[ev.direction];
    for (const item of side.reader.push(ev)) {
      if (item.kind === 'gap') this.#gap(tsNs, ev.direction, side, item, out);
      else this.#frame(tsNs, ev.direction, side, item, out);
    }
    return out;
  }

  /** The connection closed: frames cut short are gaps. */
  close(tsNs: bigint): Http2StreamEvent[] {
    const out: Http2StreamEvent[] = [];
    for (const d of DIRECTIONS) {
      const side = this.#sides[d];
      for (const item of side.reader.close()) if (item.kind === 'gap') this.#gap(tsNs, d, side, item, out);
    }
    return out;
  }

  #setSender(direction: Direction, sender: 'client' | 'server'): void {
    const other: Direction = direction === 'egress' ? 'ingress' : 'egress';
    this.#sender[direction] = sender;
    this.#sender[other] = sender === 'client' ? 'server' : 'client';
  }

  #gap(tsNs: bigint, d: Direction, side: Side, gap: Http2Gap, out: Http2StreamEvent[]): void {
    if (side.block !== null) this.#loseBlock(side, 'capture-gap', out, d);
    side.hpack.loseSync();
    // Message boundaries of streams open in this direction can no longer be followed.
    side.counters.clear();
    out.push({ kind: 'gap', tsNs, direction: d, sender: this.#sender[d], reason: gap.reason });
  }

  #frame(tsNs: bigint, d: Direction, side: Side, f: Http2Frame, out: Http2StreamEvent[]): void {
    if (side.block !== null && f.type !== FRAME_TYPE.CONTINUATION) {
      // RFC 9113 §6.10: nothing may come between a block's frames.
      this.#loseBlock(side, 'bad-continuation', out, d);
    }
    switch (f.type) {
      case FRAME_TYPE.HEADERS:
      case FRAME_TYPE.PUSH_PROMISE:
        this.#startBlock(tsNs, d, side, f, out);
        break;
      case FRAME_TYPE.CONTINUATION: {
        const block = side.block;
        if (block === null || block.streamId !== f.streamId) {
          if (block !== null) this.#loseBlock(side, 'bad-continuation', out, d);
          side.hpack.loseSync();
          this.#emitLost(tsNs, d, f.streamId, false, 'bad-continuation', out);
          break;
        }
        this.#append(block, f.payload);
        if (f.flags & FRAME_FLAG.END_HEADERS) this.#endBlock(d, side, out);
        break;
      }
      case FRAME_TYPE.DATA:
        this.#data(tsNs, d, side, f, out);
        break;
      case FRAME_TYPE.RST_STREAM:
        side.counters.delete(f.streamId);
        this.#sides[d === 'egress' ? 'ingress' : 'egress'].counters.delete(f.streamId);
        out.push({
          kind: 'rst-stream',
          tsNs,
          direction: d,
          sender: this.#sender[d],
          streamId: f.streamId,
          errorCode: u32(f.payload, 0) ?? 0,
        });
        break;
      case FRAME_TYPE.GOAWAY:
        out.push({
          kind: 'goaway',
          tsNs,
          direction: d,
          sender: this.#sender[d],
          lastStreamId: (u32(f.payload, 0) ?? 0) & 0x7fffffff,
          errorCode: u32(f.payload, 4) ?? 0,
        });
        break;
      case FRAME_TYPE.SETTINGS:
        if ((f.flags & FRAME_FLAG.ACK) === 0 && f.payload !== null) {
          // SETTINGS_HEADER_TABLE_SIZE (0x1) bounds the table of the peer's encoder, whose blocks
          // travel the other way.
          for (let i = 0; i + 6 <= f.payload.length; i += 6) {
            if (((f.payload[i]! << 8) | f.payload[i + 1]!) === 0x1) {
              this.#sides[d === 'egress' ? 'ingress' : 'egress'].hpack.settingsLimit(
                u32(f.payload, i + 2) ?? 0,
              );
            }
          }
        }
        break;
      default:
        // PRIORITY, PING, WINDOW_UPDATE: nothing a span needs (the reader counts them).
        break;
    }
  }

  #startBlock(tsNs: bigint, d: Direction, side: Side, f: Http2Frame, out: Http2StreamEvent[]): void {
    const p = f.payload;
    const endStream = f.type === FRAME_TYPE.HEADERS && (f.flags & FRAME_FLAG.END_STREAM) !== 0;
    const block: OpenBlock = {
      type: f.type,
      streamId: f.streamId,
      endStream,
      tsNs,
      parts: [],
      size: 0,
      lost: null,
    };
    if (p === null) {
      block.lost = 'oversize';
    } else {
      // Strip padding (§6.2, §6.6), priority (§6.2) and the promised stream id (§6.6).
      let start = 0;
      let end = p.length;
      if (f.flags & FRAME_FLAG.PADDED) {
        start = 1;
        end -= p[0] ?? 0;
      }
      if (f.type === FRAME_TYPE.HEADERS && f.flags & FRAME_FLAG.PRIORITY) start += 5;
      if (f.type === FRAME_TYPE.PUSH_PROMISE) {
        Object.assign(block, { promisedStreamId: (u32(p, start) ?? 0) & 0x7fffffff });
        start += 4;
      }
      if (start > end) block.lost = 'oversize';
      else this.#append(block, p.subarray(start, end));
    }
    side.block = block;
    if (f.flags & FRAME_FLAG.END_HEADERS) this.#endBlock(d, side, out);
  }

  #append(block: OpenBlock, fragment: Uint8Array | null): void {
    if (block.lost !== null) return;
    if (fragment === null || block.size + fragment.length > this.#maxBlock) {
      block.lost = 'oversize';
      block.parts.length = 0;
      return;
    }
    block.parts.push(fragment);
    block.size += fragment.length;
  }

  #endBlock(d: Direction, side: Side, out: Http2StreamEvent[]): void {
    const block = side.block!;
    side.block = null;
    if (block.lost !== null) {
      side.hpack.loseSync();
      this.#emitLost(block.tsNs, d, block.streamId, block.endStream, block.lost, out);
      return;
    }
    const bytes = block.parts.length === 1 ? block.parts[0]! : concat(block.parts, block.size);
    const decoded = side.hpack.decode(bytes);
    if (this.#sender[d] === 'unknown') {
      for (const field of decoded.fields) {
        if (field.name === ':method') this.#setSender(d, 'client');
        else if (field.name === ':status') this.#setSender(d, 'server');
      }
    }
    const redacted = redactFields(decoded.fields, this.#options);
    out.push({
      kind: 'headers',
      tsNs: block.tsNs,
      direction: d,
      sender: this.#sender[d],
      streamId: block.streamId,
      endStream: block.endStream,
      fields: redacted.fields,
      unresolved: decoded.unresolved,
      hpackError: decoded.error,
      lost: null,
      redactions: redacted.redactions,
      ...(block.promisedStreamId === undefined ? {} : { promisedStreamId: block.promisedStreamId }),
    });
    if (block.type === FRAME_TYPE.HEADERS) this.#countFrom(side, block.streamId, block.endStream);
  }

  #loseBlock(side: Side, reason: Http2BlockLoss, out: Http2StreamEvent[], d: Direction): void {
    const block = side.block!;
    side.block = null;
    side.hpack.loseSync();
    this.#emitLost(block.tsNs, d, block.streamId, block.endStream, reason, out);
  }

  #emitLost(
    tsNs: bigint,
    d: Direction,
    streamId: number,
    endStream: boolean,
    lost: Http2BlockLoss,
    out: Http2StreamEvent[],
  ): void {
    out.push({
      kind: 'headers',
      tsNs,
      direction: d,
      sender: this.#sender[d],
      streamId,
      endStream,
      fields: [],
      unresolved: 0,
      hpackError: null,
      lost,
      redactions: 0,
    });
    this.#countFrom(this.#sides[d], streamId, endStream);
  }

  #data(tsNs: bigint, d: Direction, side: Side, f: Http2Frame, out: Http2StreamEvent[]): void {
    // A counter exists from the stream's header block on; DATA of a stream whose header block was
    // not seen (a mid-way start, or a gap since) cannot be split into messages: inexact, no count.
    const counter = side.counters.get(f.streamId);
    const started = counter === undefined ? 0 : counter.frame(f.length, f.flags, f.data ?? []);
    const endStream = (f.flags & FRAME_FLAG.END_STREAM) !== 0;
    out.push({
      kind: 'data',
      tsNs,
      direction: d,
      sender: this.#sender[d],
      streamId: f.streamId,
      length: f.length,
      endStream,
      grpcMessages: started,
      grpcMessagesExact: counter?.exact ?? false,
    });
    if (endStream) side.counters.delete(f.streamId);
  }

  /** A header block that does not end the stream: its DATA follows, message boundaries known. */
  #countFrom(side: Side, streamId: number, endStream: boolean): void {
    if (endStream) {
      side.counters.delete(streamId);
      return;
    }
    if (side.counters.has(streamId)) return; // trailers-to-be, or a 1xx before the final headers
    if (side.counters.size >= MAX_COUNTED_STREAMS) side.counters.delete(side.counters.keys().next().value!);
    side.counters.set(streamId, new GrpcMessageCounter());
  }
}

function u32(p: Uint8Array | null, at: number): number | null {
  if (p === null || at + 4 > p.length) return null;
  return ((p[at]! << 24) | (p[at + 1]! << 16) | (p[at + 2]! << 8) | p[at + 3]!) >>> 0;
}

function concat(parts: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
