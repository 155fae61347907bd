/**
 * The HTTP/2 frame reader: captured events of one direction of one connection in, frames out.
 *
 * Resumable: a frame (its 9-byte header included) may be split across events at any byte, as reads
 * and writes split it; the reader keeps what it needs between events. It reads two layouts of
 * captured bytes (README.md, "What the kernel copies"):
 * - whole: `copied` is the buffer (a small buffer, copied whole);
 * - elided: `copied` is the buffer with every DATA payload cut to its first `dataPrefixBytes`
 *   bytes (counted from the frame's start, across events). Lengths still add up: the event's
 *   `byteCount` is the wire size, and what is missing from `copied` is DATA payload.
 * Header blocks (HEADERS, PUSH_PROMISE, CONTINUATION) and the control frames are always in `copied`.
 *
 * Gaps: when events say their bytes are not all there (`truncated`), when events may have been lost
 * (`afterLoss`), when the bytes do not add up, the reader reports a gap and stops until it can find
 * frames again: at an event the kernel marks `frameStart`, or at a whole event whose frames chain to
 * its end (detect.ts). A gap means a header block may be lost, so HPACK must go unsynced
 * (hpack-decoder.ts). Errors are counted, never thrown.
 */

import { CLIENT_PREFACE, FRAME_HEADER_BYTES, FRAME_TYPE, frameChainEnds } from './detect.ts';
import type { Http2CapturedEvent, Http2Frame, Http2FrameReaderOutput, Http2GapReason } from './types.ts';

/** Default bytes of each DATA payload the kernel copies in elided records: the gRPC message prefix. */
export const DEFAULT_DATA_PREFIX_BYTES = 5;
/**
 * Largest non-DATA frame payload buffered (RFC 9113 §4.2 allows up to 2^24 - 1 once a peer raises
 * SETTINGS_MAX_FRAME_SIZE; the default is 16384). A larger header block fragment is a gap.
 */
export const MAX_BUFFERED_FRAME_BYTES = 1 << 20;
/** Copied DATA payload bytes kept per frame (for the gRPC message prefixes inside it). */
export const MAX_DATA_BYTES_KEPT = 16384;

export interface FrameReaderOptions {
  /** Must equal the loader's `--h2-data-bytes`. Default {@link DEFAULT_DATA_PREFIX_BYTES}. */
  readonly dataPrefixBytes?: number;
  readonly maxFrameBytes?: number;
  readonly maxDataBytesKept?: number;
}

// PROTOCOL-REGISTRY: counters the collector exports as metrics (labelled protocol="http2").
export interface Http2FrameReaderCounters {
  events: number;
  bytes: number;
  frames: number;
  /** Frames by type name. */
  framesByType: Partial<Record<string, number>>;
  /** Gaps by reason: each may have lost a header block. */
  gaps: Partial<Record<Http2GapReason, number>>;
  /** Bytes passed while not knowing where frames were. */
  lostBytes: number;
  /** Times frames were found again after a gap (kernel frame start, or a frame chain). */
  resyncs: number;
  /** Frames of unknown types (§5.5: ignored). */
  unknownTypes: number;
  /** Non-DATA frames larger than the buffer limit (their payload is not kept). */
  oversizeFrames: number;
  /** Client prefaces seen (and bad ones). */
  prefaces: number;
  badPrefaces: number;
}

export function newFrameReaderCounters(): Http2FrameReaderCounters {
  return {
    events: 0,
    bytes: 0,
    frames: 0,
    framesByType: {},
    gaps: {},
    lostBytes: 0,
    resyncs: 0,
    unknownTypes: 0,
    oversizeFrames: 0,
    prefaces: 0,
    badPrefaces: 0,
  };
}

const TYPE_NAMES = [
  'DATA',
  'HEADERS',
  'PRIORITY',
  'RST_STREAM',
  'SETTINGS',
  'PUSH_PROMISE',
  'PING',
  'GOAWAY',
  'WINDOW_UPDATE',
  'CONTINUATION',
];

const MODE = {
  /** Nothing read in this direction yet: a preface or a frame header comes. */
  start: 0,
  preface: 1,
  header: 2,
  payload: 3,
  /** After a gap: waiting for a frame start. */
  lost: 4,
} as const;
type Mode = (typeof MODE)[keyof typeof MODE];

const EMPTY = new Uint8Array(0);

/** The frame being read. */
interface Current {
  type: number;
  flags: number;
  streamId: number;
  length: number;
  /** Payload bytes of the wire consumed so far (copied or not). */
  got: number;
  /** Non-DATA: the payload so far (null when larger than the limit). */
  buf: Uint8Array | null;
  /** DATA: copied pieces. */
  pieces: Array<{ offset: number; bytes: Uint8Array }> | null;
  kept: number;
}

export class Http2FrameReader {
  readonly counters: Http2FrameReaderCounters = newFrameReaderCounters();
  readonly #prefix: number;
  readonly #maxFrame: number;
  readonly #maxData: number;
  #mode: Mode = MODE.start;
  #prefaceHave = 0;
  readonly #hdr = new Uint8Array(FRAME_HEADER_BYTES);
  #hdrHave = 0;
  #cur: Current | null = null;

  constructor(options: FrameReaderOptions = {}) {
    this.#prefix = options.dataPrefixBytes ?? DEFAULT_DATA_PREFIX_BYTES;
    this.#maxFrame = options.maxFrameBytes ?? MAX_BUFFERED_FRAME_BYTES;
    this.#maxData = options.maxDataBytesKept ?? MAX_DATA_BYTES_KEPT;
  }

  /** Waiting for frames to be found again after a gap. */
  get lost(): boolean {
    return this.#mode === MODE.lost;
  }

  /** At a frame boundary (nothing of a frame held). */
  get atBoundary(): boolean {
    return this.#mode === MODE.start || (this.#mode === MODE.header && this.#hdrHave === 0);
  }

  push(ev: Http2CapturedEvent): Http2FrameReaderOutput[] {
    const out: Http2FrameReaderOutput[] = [];
    this.counters.events++;
    this.counters.bytes += ev.byteCount;
    if (ev.afterLoss) this.#gap(out, 'events-lost');
    if (ev.frameStart && !this.atBoundary && this.#mode !== MODE.lost) {
      // The kernel knows a frame starts here: what we were in the middle of is cut short.
      this.#gap(out, 'frame-start-mismatch');
    }
    if (this.#mode === MODE.lost) {
      const whole = !ev.elided && !ev.truncated && ev.copied.length === ev.byteCount;
      if (ev.frameStart || (whole && frameChainEnds(ev.copied))) {
        this.counters.resyncs++;
        this.#mode = MODE.header;
        this.#hdrHave = 0;
      } else {
        this.counters.lostBytes += ev.byteCount;
        return out;
      }
    }
    const copied = ev.copied.length <= ev.byteCount ? ev.copied : ev.copied.subarray(0, ev.byteCount);
    let p = 0;
    let wire = 0;
    if (this.#mode === MODE.start) {
      this.#mode = copied.length > 0 && copied[0] === CLIENT_PREFACE[0] ? MODE.preface : MODE.header;
    }
    for (;;) {
      if (this.#mode === MODE.preface) {
        const take = Math.min(CLIENT_PREFACE.length - this.#prefaceHave, copied.length - p);
        for (let i = 0; i < take; i++) {
          if (copied[p + i] !== CLIENT_PREFACE[this.#prefaceHave + i]) {
            this.counters.badPrefaces++;
            this.#gap(out, 'bad-preface');
            this.counters.lostBytes += ev.byteCount - wire;
            return out;
          }
        }
        p += take;
        wire += take;
        this.#prefaceHave += take;
        if (this.#prefaceHave < CLIENT_PREFACE.length) break;
        this.counters.prefaces++;
        this.#mode = MODE.header;
      } else if (this.#mode === MODE.header) {
        const take = Math.min(FRAME_HEADER_BYTES - this.#hdrHave, copied.length - p);
        this.#hdr.set(copied.subarray(p, p + take), this.#hdrHave);
        this.#hdrHave += take;
        p += take;
        wire += take;
        if (this.#hdrHave < FRAME_HEADER_BYTES) break;
        this.#hdrHave = 0;
        this.#begin(out);
      } else if (this.#mode === MODE.payload) {
        const cur = this.#cur!;
        const remaining = cur.length - cur.got;
        if (cur.type === FRAME_TYPE.DATA && ev.elided) {
          const copyable = Math.max(0, Math.min(this.#prefix, cur.length) - cur.got);
          const k = Math.min(copyable, remaining, copied.length - p);
          this.#keepData(cur, copied, p, k);
          p += k;
          wire += k;
          cur.got += k;
          if (cur.got < cur.length) {
            if (k < copyable) break; // the buffer ended inside the copied prefix
            // The rest of this payload was not copied. If copied bytes follow, the frame ended in
            // this buffer; otherwise the buffer's remaining wire bytes are (part of) it.
            const skip =
              p < copied.length ? cur.length - cur.got : Math.min(cur.length - cur.got, ev.byteCount - wire);
            wire += skip;
            cur.got += skip;
          }
          if (cur.got < cur.length) break;
          this.#finish(out);
        } else {
          const k = Math.min(remaining, copied.length - p);
          if (cur.type === FRAME_TYPE.DATA) this.#keepData(cur, copied, p, k);
          else if (cur.buf !== null) cur.buf.set(copied.subarray(p, p + k), cur.got);
          p += k;
          wire += k;
          cur.got += k;
          if (cur.got < cur.length) break;
          this.#finish(out);
        }
      } else {
        break;
      }
      if (p >= copied.length && this.#mode === MODE.header && this.#hdrHave === 0) break;
    }
    if (ev.truncated || copied.length < ev.copied.length) {
      // The kernel stopped following this buffer: after what was copied, nothing is known.
      this.#gap(out, 'truncated');
      this.counters.lostBytes += Math.max(0, ev.byteCount - wire);
    } else if (wire !== ev.byteCount) {
      this.#gap(out, 'length-mismatch');
      this.counters.lostBytes += Math.max(0, ev.byteCount - wire);
    }
    return out;
  }

  /** The connection closed: a frame still being read is reported as a gap. */
  close(): Http2FrameReaderOutput[] {
    const out: Http2FrameReaderOutput[] = [];
    if (!this.atBoundary && this.#mode !== MODE.lost) this.#gap(out, 'connection-closed');
    return out;
  }

  #begin(out: Http2FrameReaderOutput[]): void {
    const h = this.#hdr;
    const length = (h[0]! << 16) | (h[1]! << 8) | h[2]!;
    const type = h[3]!;
    const cur: Current = {
      type,
      flags: h[4]!,
      streamId: ((h[5]! & 0x7f) << 24) | (h[6]! << 16) | (h[7]! << 8) | h[8]!,
      length,
      got: 0,
      buf: null,
      pieces: null,
      kept: 0,
    };
    if (type === FRAME_TYPE.DATA) cur.pieces = [];
    else if (length <= this.#maxFrame) cur.buf = length === 0 ? EMPTY : new Uint8Array(length);
    this.#cur = cur;
    this.#mode = MODE.payload;
    if (length === 0) this.#finish(out);
  }

  #keepData(cur: Current, src: Uint8Array, at: number, n: number): void {
    const k = Math.min(n, this.#maxData - cur.kept);
    if (k <= 0) return;
    const last = cur.pieces!.at(-1);
    const bytes = src.slice(at, at + k);
    if (last !== undefined && last.offset + last.bytes.length === cur.got) {
      const merged = new Uint8Array(last.bytes.length + k);
      merged.set(last.bytes);
      merged.set(bytes, last.bytes.length);
      last.bytes = merged;
    } else {
      cur.pieces!.push({ offset: cur.got, bytes });
    }
    cur.kept += k;
  }

  #finish(out: Http2FrameReaderOutput[]): void {
    const cur = this.#cur!;
    this.#cur = null;
    this.#mode = MODE.header;
    this.counters.frames++;
    const name = TYPE_NAMES[cur.type];
    if (name === undefined) {
      this.counters.unknownTypes++;
      return; // §5.5: frames of unknown types are ignored
    }
    this.counters.framesByType[name] = (this.counters.framesByType[name] ?? 0) + 1;
    if (cur.type !== FRAME_TYPE.DATA && cur.buf === null) this.counters.oversizeFrames++;
    const frame: Http2Frame = {
      kind: 'frame',
      type: cur.type,
      flags: cur.flags,
      streamId: cur.streamId,
      length: cur.length,
      payload: cur.buf,
      data: cur.pieces,
    };
    out.push(frame);
  }

  #gap(out: Http2FrameReaderOutput[], reason: Http2GapReason): void {
    const cur = this.#cur;
    this.counters.gaps[reason] = (this.counters.gaps[reason] ?? 0) + 1;
    out.push({
      kind: 'gap',
      reason,
      ...(cur === null ? {} : { streamId: cur.streamId, frameType: cur.type }),
    });
    this.#cur = null;
    this.#hdrHave = 0;
    this.#mode = MODE.lost;
  }
}
