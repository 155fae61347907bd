/**
 * The few protobuf encodings the OTLP span encoder needs (https://protobuf.dev/programming-guides/encoding/):
 * varints, fixed-width integers, doubles, and length-delimited strings, bytes and messages, written
 * into one growing buffer that is reused from span to span. A nested message reserves one byte for its
 * length and moves its content only in the rare case it is 128 bytes or longer — the technique of the
 * OpenTelemetry serializer (otlp-transformer ProtobufWriter), so the bytes come out identical.
 */

export const WIRE = { varint: 0, fixed64: 1, lengthDelimited: 2, fixed32: 5 } as const;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

export class ProtobufWriter {
  buf: Buffer;
  pos = 0;
  #view: DataView;

  constructor(initialSize = 4096) {
    this.buf = Buffer.allocUnsafe(initialSize);
    this.#view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  reset(): void {
    this.pos = 0;
  }

  ensure(more: number): void {
    const needed = this.pos + more;
    if (needed <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < needed) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
    this.#view = new DataView(grown.buffer, grown.byteOffset, grown.byteLength);
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  /** A non-negative integer up to 2^53, or a negative one as its 64-bit two's complement (10 bytes). */
  varint(n: number): void {
    this.ensure(10);
    const buf = this.buf;
    if (n >= 0 && n <= 0xffffffff) {
      let v = n >>> 0;
      while (v > 127) {
        buf[this.pos++] = (v & 127) | 128;
        v >>>= 7;
      }
      buf[this.pos++] = v;
      return;
    }
    let v = BigInt.asUintN(64, BigInt(n));
    while (v > 127n) {
      buf[this.pos++] = Number(v & 127n) | 128;
      v >>= 7n;
    }
    buf[this.pos++] = Number(v);
  }

  fixed32(n: number): void {
    this.ensure(4);
    this.pos = this.buf.writeUInt32LE(n >>> 0, this.pos);
  }

  fixed64(n: bigint): void {
    this.ensure(8);
    // DataView: several times cheaper than Buffer#writeBigUInt64LE per call.
    this.#view.setBigUint64(this.pos, BigInt.asUintN(64, n), true);
    this.pos += 8;
  }

  double(n: number): void {
    this.ensure(8);
    this.pos = this.buf.writeDoubleLE(n, this.pos);
  }

  /** A length-delimited UTF-8 string (lone surrogates become U+FFFD, as TextEncoder does). */
  string(s: string): void {
    // At most 3 bytes per UTF-16 unit, plus the length.
    this.ensure(s.length * 3 + 5);
    const start = this.pos;
    const written = this.buf.write(s, start + 1, 'utf8');
    this.#lengthAt(start, written);
  }

  /** A length-delimited byte string from lowercase hex (trace and span ids). */
  hexBytes(hex: string): void {
    const length = hex.length >>> 1;
    this.ensure(length + 1);
    this.buf[this.pos] = length; // ids are 8 or 16 bytes: a one-byte length
    this.pos += 1 + this.buf.write(hex, this.pos + 1, 'hex');
  }

  /** Raw bytes, no length (an already encoded message body). */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Starts a nested message: returns where its length goes; `end` writes it. */
  begin(): number {
    this.ensure(1);
    return this.pos++;
  }

  end(start: number): void {
    this.#lengthAt(start, this.pos - start - 1);
  }

  /** The bytes written since `reset`, copied out. */
  copy(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  /** Writes `length` as a varint at `start`, where one byte was reserved before `length` bytes of content. */
  #lengthAt(start: number, length: number): void {
    const size = varintSize(length);
    this.pos = start + 1 + length;
    if (size > 1) {
      this.ensure(size - 1);
      this.buf.copyWithin(start + size, start + 1, start + 1 + length);
    }
    let v = length;
    let p = start;
    while (v > 127) {
      this.buf[p++] = (v & 127) | 128;
      v >>>= 7;
    }
    this.buf[p] = v;
    this.pos = start + size + length;
  }
}
