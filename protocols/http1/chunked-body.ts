/**
 * Chunked transfer coding (RFC 9112 §7.1), read as a byte state machine: chunk-size [ chunk-ext ] CRLF,
 * chunk-data CRLF, ..., last-chunk "0" CRLF, trailer section, CRLF. The framer (framer.ts) gives it the
 * copied bytes of a body; it says where the body ends or where its framing breaks, buffering nothing and
 * skipping chunk data by count. What happens around it — bytes the kernel did not copy, segments,
 * counters, a rejected request — stays in the framer.
 *
 * Bare LF is accepted where CRLF is expected (RFC 9112 §2.2) in responses; in requests (`strict`) it is
 * broken framing, as strict servers read it ("0\n\n" ending a body early is a smuggling probe).
 */

/** Hex digits in a chunk size: 13 keeps every size an exact JavaScript number (16^13 < 2^53). */
export const MAX_CHUNK_SIZE_DIGITS = 13;
/** Bytes of chunk extensions on one chunk-size line (RFC 9112 §7.1.1), and of a trailer section (§7.1.2). */
export const MAX_CHUNK_LINE_BYTES = 4096;

/** Position inside chunked coding. */
export const CHUNK = {
  size: 0,
  ext: 1,
  sizeLf: 2,
  data: 3,
  dataCr: 4,
  dataLf: 5,
  trailerStart: 6,
  trailerLine: 7,
  trailerLf: 8,
} as const;
export type ChunkState = (typeof CHUNK)[keyof typeof CHUNK];

/** Why {@link ChunkedBodyReader.read} stopped. */
export const CHUNKED_STOP = {
  /** The bytes ran out inside the body. */
  more: 0,
  /** The body ended (after the trailer section's final line end). */
  end: 1,
  /** The framing is broken at the returned position. */
  invalid: 2,
} as const;
export type ChunkedStop = (typeof CHUNKED_STOP)[keyof typeof CHUNKED_STOP];

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const SEMICOLON = 0x3b;

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x41 + 10;
  if (b >= 0x61 && b <= 0x66) return b - 0x61 + 10;
  return -1;
}

/** One direction's position in a chunked body, kept across the events the body spans. */
export class ChunkedBodyReader {
  state: ChunkState = CHUNK.size;
  /** Data bytes left in the current chunk. */
  remaining = 0;
  /** Why the last {@link read} stopped. */
  stop: ChunkedStop = CHUNKED_STOP.more;
  #size = 0;
  #digits = 0;
  #lineBytes = 0;

  reset(): void {
    this.state = CHUNK.size;
    this.remaining = 0;
    this.stop = CHUNKED_STOP.more;
    this.#size = 0;
    this.#digits = 0;
    this.#lineBytes = 0;
  }

  /**
   * Reads `bytes[pos, end)`; returns where it stopped and sets {@link stop}: `more` at `end`, `end`
   * just after the body's last byte, `invalid` at the byte that broke the framing. `strict`: a request
   * (bare LF is broken framing).
   */
  read(bytes: Uint8Array, pos: number, end: number, strict: boolean): number {
    while (pos < end) {
      const b = bytes[pos]!;
      switch (this.state) {
        case CHUNK.data: {
          const n = Math.min(this.remaining, end - pos);
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = CHUNK.dataCr;
          continue;
        }
        case CHUNK.size: {
          const h = hexValue(b);
          if (h >= 0) {
            if (++this.#digits > MAX_CHUNK_SIZE_DIGITS) return this.#invalid(pos);
            this.#size = this.#size * 16 + h;
          } else if (this.#digits === 0) {
            return this.#invalid(pos);
          } else if (b === CR) {
            this.state = CHUNK.sizeLf;
          } else if (b === LF) {
            if (strict) return this.#invalid(pos);
            this.#afterSizeLine();
          } else if (b === SEMICOLON || b === SP || b === HT) {
            // chunk-ext, with the BWS RFC 9112 §7.1.1 allows before it.
            this.state = CHUNK.ext;
          } else {
            return this.#invalid(pos);
          }
          pos++;
          continue;
        }
        case CHUNK.ext:
          if (b === CR) this.state = CHUNK.sizeLf;
          else if (b === LF) {
            if (strict) return this.#invalid(pos);
            this.#afterSizeLine();
          } else if (++this.#lineBytes > MAX_CHUNK_LINE_BYTES) return this.#invalid(pos);
          pos++;
          continue;
        case CHUNK.sizeLf:
          if (b !== LF) return this.#invalid(pos);
          this.#afterSizeLine();
          pos++;
          continue;
        case CHUNK.dataCr:
          if (b === CR) this.state = CHUNK.dataLf;
          else if (b === LF && !strict) this.state = CHUNK.size;
          else return this.#invalid(pos);
          pos++;
          continue;
        case CHUNK.dataLf:
          if (b !== LF) return this.#invalid(pos);
          this.state = CHUNK.size;
          pos++;
          continue;
        case CHUNK.trailerStart:
          if (b === LF && strict) return this.#invalid(pos);
          pos++;
          if (b === LF) return this.#end(pos);
          this.state = b === CR ? CHUNK.trailerLf : CHUNK.trailerLine;
          if (b !== CR && ++this.#lineBytes > MAX_CHUNK_LINE_BYTES) return this.#invalid(pos);
          continue;
        case CHUNK.trailerLine: {
          // A trailer field line; its content does not matter for framing.
          const lf = bytes.indexOf(LF, pos);
          const stop = lf === -1 || lf >= end ? end : lf + 1;
          this.#lineBytes += stop - pos;
          if (this.#lineBytes > MAX_CHUNK_LINE_BYTES) return this.#invalid(pos);
          pos = stop;
          if (stop === lf + 1) this.state = CHUNK.trailerStart;
          continue;
        }
        default:
          // trailerLf: the CR of the final empty line was seen.
          if (b !== LF) return this.#invalid(pos);
          return this.#end(pos + 1);
      }
    }
    this.stop = CHUNKED_STOP.more;
    return pos;
  }

  /**
   * `gap` bytes of the body were not copied: true when they are all chunk data, so the reader is still
   * in step; false when they may hold a size line (the caller's body goes blind).
   */
  skip(gap: number): boolean {
    if (this.state !== CHUNK.data || gap > this.remaining) return false;
    this.remaining -= gap;
    if (this.remaining === 0) this.state = CHUNK.dataCr;
    return true;
  }

  #afterSizeLine(): void {
    if (this.#size === 0) {
      // last-chunk: the trailer section follows (RFC 9112 §7.1.2).
      this.state = CHUNK.trailerStart;
    } else {
      this.remaining = this.#size;
      this.state = CHUNK.data;
    }
    this.#size = 0;
    this.#digits = 0;
    this.#lineBytes = 0;
  }

  #end(pos: number): number {
    this.stop = CHUNKED_STOP.end;
    return pos;
  }

  #invalid(pos: number): number {
    this.stop = CHUNKED_STOP.invalid;
    return pos;
  }
}
