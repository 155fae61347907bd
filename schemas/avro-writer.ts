/**
 * A growable Avro binary writer for hot paths that write records field by field (the collector's raw
 * batches, binary state values) instead of through avsc's generic `Type.encode`.
 *
 * Why: avsc writes a `long` through the BigInt long type of avro-types.ts, which allocates an 8-byte
 * Buffer and range-checks a BigInt for every long, and encodes a record into a scratch buffer that is
 * then copied out. Here longs and ints are written with number arithmetic (BigInts only from 2^52 up,
 * split into two exact 32-bit halves), strings straight into the buffer, and nothing is allocated per
 * value. The byte layout is Avro's binary encoding (https://avro.apache.org/docs/1.11.1/specification/#binary-encoding);
 * callers are tested against avsc's decoder.
 */

const MIN_CAPACITY = 4096;

export class AvroWriter {
  buf: Buffer;
  pos = 0;

  constructor(capacity = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(MIN_CAPACITY, capacity));
  }

  /** Room for `n` more bytes (the buffer doubles, keeping what was written). */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Forgets what was written (keeps the buffer). */
  reset(): void {
    this.pos = 0;
  }

  /** The bytes written so far, as a view (valid until the next write or reset). */
  view(start = 0, end = this.pos): Buffer {
    return this.buf.subarray(start, end);
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  boolean(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  /** Avro int or long from a number: zig-zag, then base-128 varint, least significant group first. */
  long(n: number): void {
    this.ensure(10);
    const buf = this.buf;
    if (n >= -0x40000000 && n < 0x40000000) {
      // Fits 31 bits after zig-zag: plain int ops.
      let z = (n << 1) ^ (n >> 31);
      while (z > 0x7f) {
        buf[this.pos++] = (z & 0x7f) | 0x80;
        z >>>= 7;
      }
      buf[this.pos++] = z;
      return;
    }
    // Below 2^52 in magnitude, zig-zag (doubling) stays exact as a double.
    let z = n >= 0 ? n * 2 : -n * 2 - 1;
    while (z >= 0x80) {
      buf[this.pos++] = (z % 0x80) | 0x80;
      z = Math.floor(z / 0x80);
    }
    buf[this.pos++] = z;
  }

  /** Avro long from a BigInt (any 64-bit value). */
  bigLong(value: bigint): void {
    if (value >= -4503599627370496n && value < 4503599627370496n) {
      this.long(Number(value));
      return;
    }
    this.ensure(10);
    const z = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
    let hi = Number(z >> 32n);
    let lo = Number(z & 0xffffffffn);
    const buf = this.buf;
    while (hi !== 0 || lo > 0x7f) {
      buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | ((hi & 0x7f) << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[this.pos++] = lo;
  }

  string(s: string): void {
    // At most 3 bytes per UTF-16 unit: write first, then the length in front when it is not 1 byte.
    const max = s.length * 3;
    if (max < 0x40) {
      this.ensure(1 + max);
      const start = this.pos + 1;
      const n = this.buf.write(s, start, max, 'utf8');
      this.buf[this.pos] = n << 1;
      this.pos = start + n;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.long(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
  }

  bytes(b: Uint8Array): void {
    this.long(b.length);
    this.raw(b);
  }

  /** Bytes already in Avro form (a pre-encoded record), copied as they are. */
  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A `["null", X]` union: the branch index; the caller writes X after `true`. */
  nullable(present: boolean): void {
    this.byte(present ? 2 : 0);
  }
}
