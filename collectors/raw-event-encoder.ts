/**
 * The raw-event encoder of the hot path: Confluent wire format (magic byte, schema id, Avro binary),
 * byte for byte what schemas/codec.ts writes, at a fraction of the cost.
 *
 * Why not the codec: its Avro longs are BigInts through avsc's abstract long type, which allocates an
 * 8-byte Buffer and range-checks the BigInt for every long written — ten per raw event — and each
 * encoded record is copied out of a scratch buffer into its own Buffer. Profiled at ~20K events/s, that
 * was a sixth of the agent's busy time plus much of its garbage (bench/collector/).
 *
 * So this writer is compiled from the very schema the codec uses (the registry's current
 * `l7-raw-event`, walked as avsc types: records, enums, strings, bytes, int, long, boolean, null|X
 * unions, arrays), writes longs with number arithmetic (BigInts only from 2^52 up, split into two 32-bit
 * halves), and writes into slabs: each record is a view of a 64 KiB slab shared with its neighbours,
 * not an allocation of its own. A schema change needs no code change here; a schema feature it does
 * not know makes `createRawEventEncoder` return null and the collector uses the codec. Values are not
 * validated (the builder makes them; a test compares the bytes with the codec's on real and on
 * generated events).
 */
import type { Type } from 'avsc';
import { MAGIC_BYTE } from '../schemas/codec.ts';
import { type SchemaRegistry, schemaRegistry } from '../schemas/registry.ts';
import type { L7RawEvent } from '../schemas/types.ts';

const SLAB_BYTES = 64 * 1024;

/** A bump allocator over slabs: records are contiguous views; a full slab is left to the GC. */
class SlabWriter {
  buf = Buffer.allocUnsafe(SLAB_BYTES);
  start = 0;
  pos = 0;

  /** Room for `n` more bytes of the current record (moving it to a fresh, larger slab if needed). */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const used = this.pos - this.start;
    const next = Buffer.allocUnsafe(Math.max(SLAB_BYTES, (used + n) * 2));
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = used;
  }

  /** The record written since the last `finish`, as a view; the next record starts after it. */
  finish(): Buffer {
    const out = this.buf.subarray(this.start, this.pos);
    this.start = this.pos;
    if (this.buf.length - this.pos < 512) {
      this.buf = Buffer.allocUnsafe(SLAB_BYTES);
      this.start = 0;
      this.pos = 0;
    }
    return out;
  }

  /** Forgets a record being written (an error midway). */
  abandon(): void {
    this.pos = this.start;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Avro long/int: zig-zag, then base-128 varint (least significant group first). */
  long(value: number | bigint): void {
    this.ensure(10);
    if (typeof value === 'bigint') {
      // Zig-zag doubles the magnitude: below 2^52 the result is still exact as a double.
      if (value >= -4503599627370496n && value < 4503599627370496n) {
        this.#varint(Number(value));
        return;
      }
      // Zig-zag in 64 bits, then the varint from two exact 32-bit halves.
      const z = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
      this.#varint64(Number(z >> 32n), Number(z & 0xffffffffn));
      return;
    }
    this.#varint(value);
  }

  /** -2^52 <= n < 2^52: zig-zag with arithmetic (the result stays below 2^53, exact as a double). */
  #varint(n: number): void {
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
    let z = n >= 0 ? n * 2 : -n * 2 - 1;
    while (z >= 0x80) {
      buf[this.pos++] = (z % 0x80) | 0x80;
      z = Math.floor(z / 0x80);
    }
    buf[this.pos++] = z;
  }

  #varint64(hi: number, lo: number): void {
    const buf = this.buf;
    // 64 bits in groups of 7: shift the pair right by 7 each round.
    while (hi !== 0 || lo > 0x7f) {
      buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | ((hi & 0x7f) << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[this.pos++] = lo;
  }

  string(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.long(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
  }

  bytes(b: Uint8Array): void {
    this.long(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

type Write = (w: SlabWriter, value: unknown) => void;

/** Thrown while compiling: the schema uses something this writer does not implement. */
class Unsupported extends Error {}

function compile(type: Type): Write {
  const t = type as Type & {
    typeName: string;
    fields?: Array<{ name: string; type: Type }>;
    symbols?: string[];
    types?: Type[];
    itemsType?: Type;
  };
  switch (t.typeName) {
    case 'record': {
      const fields = t.fields!.map((f) => ({ name: f.name, write: compile(f.type) }));
      return (w, value) => {
        const record = value as Record<string, unknown>;
        for (let i = 0; i < fields.length; i++) fields[i]!.write(w, record[fields[i]!.name]);
      };
    }
    case 'enum': {
      const index = new Map(t.symbols!.map((s, i) => [s, i]));
      return (w, value) => {
        const i = index.get(value as string);
        if (i === undefined) throw new TypeError(`${String(value)} is not a symbol of ${t.name}`);
        w.long(i);
      };
    }
    case 'string':
      return (w, value) => w.string(value as string);
    case 'bytes':
      return (w, value) => w.bytes(value as Uint8Array);
    case 'int':
    case 'long':
    case 'abstract:long':
      return (w, value) => w.long(value as number | bigint);
    case 'boolean':
      return (w, value) => w.byte(value === true ? 1 : 0);
    case 'union:unwrapped': {
      const branches = t.types!;
      const nullIndex = branches.findIndex((b) => (b as Type & { typeName: string }).typeName === 'null');
      if (branches.length !== 2 || nullIndex === -1) throw new Unsupported('only null|X unions');
      const other = 1 - nullIndex;
      const write = compile(branches[other]!);
      return (w, value) => {
        if (value === null || value === undefined) {
          w.long(nullIndex);
        } else {
          w.long(other);
          write(w, value);
        }
      };
    }
    case 'array': {
      const write = compile(t.itemsType!);
      // One block with its count, then the end marker: what avsc writes.
      return (w, value) => {
        const items = value as unknown[];
        if (items.length > 0) {
          w.long(items.length);
          for (let i = 0; i < items.length; i++) write(w, items[i]);
        }
        w.long(0);
      };
    }
    default:
      throw new Unsupported(`Avro type ${t.typeName}`);
  }
}

export interface RawEventEncoder {
  /** Schema id written in every record's header. */
  readonly schemaId: number;
  /** The event in the Confluent wire format, as a view of a shared slab (never reused). */
  encode(event: L7RawEvent): Buffer;
}

/** The fast encoder for the current l7-raw-event schema, or null when the schema needs the codec. */
export function createRawEventEncoder(registry: SchemaRegistry = schemaRegistry()): RawEventEncoder | null {
  const schema = registry.current('l7-raw-event');
  let write: Write;
  try {
    write = compile(schema.type);
  } catch (err) {
    if (err instanceof Unsupported) return null;
    throw err;
  }
  const w = new SlabWriter();
  const id = schema.id;
  return {
    schemaId: id,
    encode(event) {
      w.ensure(5);
      const buf = w.buf;
      buf[w.pos] = MAGIC_BYTE;
      buf.writeUInt32BE(id, w.pos + 1);
      w.pos += 5;
      try {
        write(w, event);
      } catch (err) {
        w.abandon();
        throw err;
      }
      return w.finish();
    },
  };
}
