/**
 * A record passed through with a few fields changed, without decoding the rest: `scan` reads the fields
 * a caller asks for and where each top-level field starts, and `splice` writes the record again, the
 * changed fields encoded by avsc and every other field copied as it came.
 *
 * Why: the trace linker reads a handful of a span's fields and changes five (trace id, span id, parent,
 * link, attributes); decoding the whole span (thirty strings, BigInts, nested records) and encoding it
 * again was a fifth of its CPU per span (docs/benchmarks.md, trace-linker).
 *
 * Copying is only exact if decoding and encoding again would give the same bytes. They do for what
 * avsc writes itself, so `scan` accepts a field for copying only in that form: shortest varints, ints
 * within 32 bits, booleans 0 or 1, enum symbols and union branches that exist, strings of valid UTF-8,
 * maps and arrays empty (a non-empty one is only spliced when the caller re-encodes it: object key order
 * and duplicate keys could change it), no NaN. Anything else (a record some other writer made) returns
 * null, and the caller decodes and encodes as before: the bytes out are always what `Codec.encode` of
 * the decoded, changed record would write.
 */
import { isUtf8 } from 'node:buffer';
import type { AvroType } from './avro-types.ts';
import { HEADER_BYTES, MAGIC_BYTE } from './codec.ts';
import { boundsCheckOf } from './record-bounds.ts';
import type { RegisteredSchema } from './registry.ts';

/** What scan found: where each top-level field starts (and, last, where the record ends), and the values asked for. */
export interface ScannedRecord {
  readonly bytes: Buffer;
  readonly starts: readonly number[];
  /** The captured values, in the order of `captures`. */
  readonly values: unknown[];
}

/** Checks (and captures) one value at `pos`; returns where it ends, or -1 when it cannot be copied. */
type Step = (buf: Buffer, pos: number, values: unknown[]) => number;

// The varint read last (zig-zag decoded). Exact below 2^53; steps that need more (a captured long) read again.
let varint = 0;

/** A shortest varint of at most `maxBytes`; -1 otherwise. */
function readVarint(buf: Buffer, pos: number, maxBytes: number): number {
  let n = 0;
  let scale = 1;
  for (let i = 0; i < maxBytes; i++) {
    if (pos >= buf.length) return -1;
    const b = buf[pos++]!;
    n += (b & 0x7f) * scale;
    scale *= 128;
    if ((b & 0x80) === 0) {
      // A last byte of 0 after others is a longer form of a shorter number; the tenth byte holds one bit.
      if ((i > 0 && b === 0) || (i === 9 && b > 1)) return -1;
      varint = n % 2 === 0 ? n / 2 : -(n + 1) / 2;
      return pos;
    }
  }
  return -1;
}

/** The exact value of a shortest long varint ending at `end`, starting at `pos`. */
function bigLong(buf: Buffer, pos: number, end: number): bigint {
  // Up to 7 bytes the number read is exact (below 2^49): one BigInt.
  if (end - pos <= 7) return BigInt(varint);
  // Else the first 7 bytes and the rest as two numbers, joined (as avro-types.ts reads longs).
  let lo = 0;
  let scale = 1;
  for (let p = pos; p < pos + 7; p++, scale *= 128) lo += (buf[p]! & 0x7f) * scale;
  let hi = 0;
  scale = 1;
  for (let p = pos + 7; p < end; p++, scale *= 128) hi += (buf[p]! & 0x7f) * scale;
  const z = (BigInt(hi) << 49n) | BigInt(lo);
  return (z >> 1n) ^ -(z & 1n);
}

function isAscii(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i]! > 0x7f) return false;
  return true;
}

/** A string: its length, then valid UTF-8 (what avsc reads and writes again byte for byte). */
// Whether the string read last was ASCII (then read as latin1: the same string, made faster).
let ascii = true;

function stringEnd(buf: Buffer, pos: number): number {
  const p = readVarint(buf, pos, 10);
  if (p < 0 || varint < 0 || p + varint > buf.length) return -1;
  const end = p + varint;
  ascii = isAscii(buf, p, end);
  if (!ascii && !isUtf8(buf.subarray(p, end))) return -1;
  return end;
}

function compile(type: AvroType, path: string, captures: readonly string[]): Step {
  const slot = captures.indexOf(path);
  const t = type as AvroType & {
    typeName: string;
    fields?: Array<{ name: string; type: AvroType }>;
    types?: AvroType[];
    symbols?: string[];
    size?: number;
  };
  switch (t.typeName) {
    case 'null':
      return (_buf, pos, values) => {
        if (slot >= 0) values[slot] = null;
        return pos;
      };
    case 'boolean':
      return (buf, pos, values) => {
        const b = buf[pos];
        if (b !== 0 && b !== 1) return -1;
        if (slot >= 0) values[slot] = b === 1;
        return pos + 1;
      };
    case 'int':
      return (buf, pos, values) => {
        const end = readVarint(buf, pos, 5);
        if (end < 0 || varint !== (varint | 0)) return -1;
        if (slot >= 0) values[slot] = varint;
        return end;
      };
    case 'long':
    case 'abstract:long':
      return (buf, pos, values) => {
        const end = readVarint(buf, pos, 10);
        if (end >= 0 && slot >= 0) values[slot] = bigLong(buf, pos, end);
        return end;
      };
    case 'float':
    case 'double': {
      const size = t.typeName === 'float' ? 4 : 8;
      return (buf, pos, values) => {
        if (pos + size > buf.length) return -1;
        const v = size === 4 ? buf.readFloatLE(pos) : buf.readDoubleLE(pos);
        if (Number.isNaN(v)) return -1;
        if (slot >= 0) values[slot] = v;
        return pos + size;
      };
    }
    case 'string':
      return (buf, pos, values) => {
        const end = stringEnd(buf, pos);
        if (end >= 0 && slot >= 0) values[slot] = buf.toString(ascii ? 'latin1' : 'utf8', end - varint, end);
        return end;
      };
    case 'bytes':
      if (slot >= 0) throw new Error(`record-splice: capturing bytes (${path}) is not supported`);
      return (buf, pos) => {
        const p = readVarint(buf, pos, 10);
        return p < 0 || varint < 0 || p + varint > buf.length ? -1 : p + varint;
      };
    case 'fixed': {
      const size = t.size!;
      if (slot >= 0) throw new Error(`record-splice: capturing fixed (${path}) is not supported`);
      return (buf, pos) => (pos + size > buf.length ? -1 : pos + size);
    }
    case 'enum': {
      const symbols = t.symbols!;
      return (buf, pos, values) => {
        const end = readVarint(buf, pos, 5);
        if (end < 0 || varint < 0 || varint >= symbols.length) return -1;
        if (slot >= 0) values[slot] = symbols[varint];
        return end;
      };
    }
    case 'array':
    case 'map':
      if (slot >= 0) throw new Error(`record-splice: capturing ${t.typeName}s (${path}) is not supported`);
      // Only an empty one is copied (see the file comment).
      return (buf, pos) => (buf[pos] === 0 ? pos + 1 : -1);
    case 'union:unwrapped': {
      const branches = t.types!.map((b) => compile(b, path, captures));
      return (buf, pos, values) => {
        const p = readVarint(buf, pos, 5);
        if (p < 0 || varint < 0 || varint >= branches.length) return -1;
        return branches[varint]!(buf, p, values);
      };
    }
    case 'record': {
      if (slot >= 0) throw new Error(`record-splice: capturing records (${path}) is not supported`);
      const steps = t.fields!.map((f) =>
        compile(f.type, path === '' ? f.name : `${path}.${f.name}`, captures),
      );
      return (buf, pos, values) => {
        for (let i = 0; i < steps.length && pos >= 0; i++) pos = steps[i]!(buf, pos, values);
        return pos;
      };
    }
    default:
      return () => -1;
  }
}

/** One step of a splice: copy the bytes of fields `from` to `to` (exclusive), or encode a changed field. */
type SplicePart = { copy: true; from: number; to: number } | { copy: false; type: AvroType; value: number };

export interface RecordSplicerOptions {
  /** Dotted paths of the fields whose values `scan` returns (see the constructor). */
  captures: readonly string[];
  /** Top-level fields every `splice` writes anew, in the order `splice` takes their values. */
  changed: readonly string[];
  /**
   * Changed fields `scan` reads with avsc (captured whole when also in `captures`): they need not be in
   * avsc's own form (a non-empty map, say), since they are written anew anyway.
   */
  decoded?: readonly string[];
}

export class RecordSplicer {
  readonly schema: RegisteredSchema;
  readonly #steps: Step[];
  readonly #captures: number;
  readonly #parts: SplicePart[];

  /**
   * Captured values are strings, numbers, longs as BigInt, enums as symbols; a union as its branch's
   * value; a decoded field as avsc decodes it.
   */
  constructor(schema: RegisteredSchema, options: RecordSplicerOptions) {
    this.schema = schema;
    const { captures, changed } = options;
    const decoded = options.decoded ?? [];
    const fields = (schema.type as unknown as { fields: Array<{ name: string; type: AvroType }> }).fields;
    for (const path of [...captures, ...changed, ...decoded]) {
      const top = path.split('.')[0]!;
      if (!fields.some((f) => f.name === top))
        throw new Error(`record-splice: ${schema.fullName} has no field ${path}`);
    }
    for (const name of decoded)
      if (!changed.includes(name)) throw new Error(`record-splice: decoded field ${name} must be changed`);
    this.#steps = fields.map((f) => {
      if (!decoded.includes(f.name)) return compile(f.type, f.name, captures);
      // Decoded by avsc, as the slow path would (after the same bounds walk), and captured if asked.
      const type = f.type;
      const check = boundsCheckOf(type);
      const slot = captures.indexOf(f.name);
      const map = (type as unknown as { typeName: string }).typeName === 'map';
      return (buf, pos, values) => {
        // An empty map (most spans' attributes), as avsc reads it.
        if (map && buf[pos] === 0) {
          if (slot >= 0) values[slot] = {};
          return pos + 1;
        }
        try {
          check(buf, pos);
          const { value, offset } = type.decode(buf, pos);
          if (slot >= 0) values[slot] = value;
          return offset < 0 ? -1 : offset;
        } catch {
          return -1;
        }
      };
    });
    this.#captures = captures.length;
    // The runs of unchanged fields, copied at once, between the changed ones.
    this.#parts = [];
    for (let i = 0; i < fields.length; ) {
      const value = changed.indexOf(fields[i]!.name);
      if (value >= 0) {
        this.#parts.push({ copy: false, type: fields[i]!.type, value });
        i++;
        continue;
      }
      let j = i + 1;
      while (j < fields.length && !changed.includes(fields[j]!.name)) j++;
      this.#parts.push({ copy: true, from: i, to: j });
      i = j;
    }
  }

  /**
   * The fields of a record in the wire format, or null when it is of another schema id (`sameSchema`
   * says which ids are this schema) or not in the form that is copied exactly (file comment).
   */
  scan(bytes: Buffer, sameSchema: (id: number) => boolean): ScannedRecord | null {
    if (bytes.length < HEADER_BYTES || bytes[0] !== MAGIC_BYTE) return null;
    if (!sameSchema(bytes.readUInt32BE(1))) return null;
    const steps = this.#steps;
    const starts: number[] = new Array(steps.length + 1);
    const values = new Array<unknown>(this.#captures);
    let pos = HEADER_BYTES;
    for (let i = 0; i < steps.length; i++) {
      starts[i] = pos;
      pos = steps[i]!(bytes, pos, values);
      if (pos < 0) return null;
    }
    if (pos !== bytes.length) return null;
    starts[steps.length] = pos;
    return { bytes, starts, values };
  }

  /**
   * The record again, the `changed` fields (values in that order) encoded by avsc and every other one
   * copied; in the wire format with the schema's id. Throws what avsc throws on a value that is not of
   * its field's type.
   */
  splice(record: ScannedRecord, values: readonly unknown[]): Buffer {
    const { bytes, starts } = record;
    const parts = this.#parts;
    for (;;) {
      const buf = scratch;
      buf[0] = MAGIC_BYTE;
      buf.writeUInt32BE(this.schema.id, 1);
      let pos = HEADER_BYTES;
      for (let i = 0; i < parts.length && pos >= 0; i++) {
        const part = parts[i]!;
        if (!part.copy) pos = part.type.encode(values[part.value], buf, pos);
        else {
          const from = starts[part.from]!;
          const to = starts[part.to]!;
          if (pos + (to - from) > buf.length) pos = -1;
          else pos += bytes.copy(buf, pos, from, to);
        }
      }
      if (pos >= 0) return Buffer.from(buf.subarray(0, pos));
      scratch = Buffer.allocUnsafe(scratch.length * 2 + bytes.length);
    }
  }
}

// One scratch buffer (splice is synchronous); grows when a record does not fit.
let scratch = Buffer.allocUnsafe(64 * 1024);
