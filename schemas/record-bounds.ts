/**
 * A bounds walk over Avro binary data, run before avsc decodes a record: every length and count the
 * bytes claim is checked against the bytes that are left, so a hostile or corrupt record fails with a
 * reason instead of taking the reader down.
 *
 * Why: avsc trusts the counts. An array count of 2^28 in a 5-byte body makes it allocate an array of
 * 2^28 slots and then read 2^28 items past the end of the buffer (it only checks for a short buffer at
 * the very end), so one poison record exhausts the heap of every processor, sink, `tail` and
 * `subscribe()` that reads it: the process dies before it commits, re-reads the record, and dies again.
 *
 * The walk follows the writer's schema (the layout of the bytes depends on nothing else) and checks:
 * - a string, bytes or fixed length fits in the bytes left (and is not negative);
 * - an array or map block count is at most the bytes left, and the items of a whole record together
 *   are at most its length: every item of every schema meshpipe writes takes at least one byte, so a
 *   valid record always passes, and a record can never make the decoder do more work than its size;
 * - a block's byte size (negative counts, Avro spec "Complex Types") fits, as does every varint, and an
 *   int or long holds no more bits than the type has;
 * - a union branch and an enum symbol exist.
 * It allocates nothing and converts nothing. Like avsc, it compiles each schema into one function of
 * straight-line code (records inlined, one-byte varints read inline), because a walk of small closures
 * cost a quarter of the decode itself; this one costs a small fraction (bench/codec-bounds). Only numbers
 * from the schema (sizes, symbol and branch counts) enter the generated code, never a name: the writer
 * schema of a recording file comes from the file.
 *
 * A schema whose array or map items encode to zero bytes (`null`, an empty record) cannot be bounded by
 * size: its items are limited to the record's length like all others, so an honest array of more nulls
 * than the record has bytes is refused. No meshpipe schema has one.
 */
import type { AvroType } from './avro-types.ts';

/** Checks the encoding of one value starting at `pos`; returns where it ends, or throws RecordBoundsError. */
export type BoundsCheck = (bytes: Uint8Array, pos: number) => number;

/** The bytes do not hold a value of the schema: `message` says what, and at which byte. */
export class RecordBoundsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordBoundsError';
  }
}

function fail(what: string, pos: number): never {
  throw new RecordBoundsError(`${what} at byte ${pos}`);
}

/** What generated code calls for everything but the fast paths (`rt` in the generated source). */
class Runtime {
  /** The value of the varint read last (zig-zag decoded; exact up to 2^53, large beyond that). */
  value = 0;
  /** Array and map items the record may still have (see the file comment). */
  items = 0;
  /** Names of enums, for messages (never in the generated code). */
  readonly enums: string[] = [];
  /** Checks of records that contain themselves, called rather than inlined. */
  readonly records: ((buf: Uint8Array, pos: number, end: number) => number)[] = [];

  /**
   * Reads a zig-zag varint at `pos` into `value`; returns the position after it. An int takes at most 5
   * bytes (32 bits), a long 10 (64 bits): longer, or more bits in the last byte, is not a number of the
   * type (avsc would read it as a number that does not fit).
   */
  varint(buf: Uint8Array, pos: number, end: number, maxBytes: 5 | 10): number {
    let n = 0;
    let scale = 1;
    let i = pos;
    let b: number;
    do {
      if (i - pos >= maxBytes) fail(`a number longer than ${maxBytes} bytes`, pos);
      if (i >= end) fail('truncated: a number', pos);
      b = buf[i++]!;
      n += (b & 0x7f) * scale;
      scale *= 128;
    } while (b >= 0x80);
    if (i - pos === maxBytes && b > (maxBytes === 5 ? 0x0f : 0x01))
      fail(`a number wider than ${maxBytes === 5 ? 'an int' : 'a long'}`, pos);
    this.value = n % 2 === 1 ? -(n + 1) / 2 : n / 2;
    return i;
  }

  /** Skips an int or long of more than one byte: the same checks as varint(), without the value. */
  skip(buf: Uint8Array, pos: number, end: number, maxBytes: 5 | 10): number {
    const last = Math.min(end, pos + maxBytes);
    let i = pos;
    while (i < last && buf[i]! >= 0x80) i++;
    if (i === last) {
      if (last === end && end - pos < maxBytes) fail('truncated: a number', pos);
      fail(`a number longer than ${maxBytes} bytes`, pos);
    }
    if (i - pos === maxBytes - 1 && buf[i]! > (maxBytes === 5 ? 0x0f : 0x01))
      fail(`a number wider than ${maxBytes === 5 ? 'an int' : 'a long'}`, pos);
    return i + 1;
  }

  length(length: number, left: number, at: number): void {
    if (length < 0) fail(`a negative length (${length})`, at);
    if (length > left) fail(`a length of ${length} with ${Math.max(0, left)} bytes left`, at);
  }

  /** A block of `count` items (a negative count was made positive by the caller). */
  block(what: string, count: number, left: number, at: number): void {
    if (count > left || count > this.items)
      fail(`${what} of ${count} items with ${Math.max(0, left)} bytes left`, at);
    this.items -= count;
  }

  blockSize(what: string, size: number, left: number, at: number): void {
    if (size < 0 || size > left) fail(`${what} block of ${size} bytes with ${Math.max(0, left)} left`, at);
  }

  symbol(enumIndex: number, symbol: number, at: number): never {
    return fail(`no symbol ${symbol} in ${this.enums[enumIndex]}`, at);
  }

  branch(branch: number, at: number): never {
    return fail(`no union branch ${branch}`, at);
  }

  truncated(what: string, at: number): never {
    return fail(`truncated: ${what}`, at);
  }
}

interface TypeShape {
  typeName: string;
  name?: string;
  size?: number;
  symbols?: string[];
  types?: TypeShape[];
  fields?: { type: TypeShape }[];
  itemsType?: TypeShape;
  valuesType?: TypeShape;
  underlyingType?: TypeShape;
}

/** Generates the body of a check; `p` is the position, `b`/`n`/`a` scratch, loops get numbered names. */
class Generator {
  readonly rt: Runtime;
  readonly #recordIndex = new Map<TypeShape, number>();
  readonly #stack = new Set<TypeShape>();
  #loops = 0;

  constructor(rt: Runtime) {
    this.rt = rt;
  }

  /** Reads a varint into `n` (one byte inline, longer through rt.varint). */
  #varint(maxBytes: 5 | 10): string {
    return `b = buf[p];
if (b < 0x80) { n = (b >>> 1) ^ -(b & 1); p++; }
else { p = rt.varint(buf, p, end, ${maxBytes}); n = rt.value; }
`;
  }

  /** Skips an int or long: only its end matters, and a one-byte one is most of them. */
  #skipNumber(maxBytes: 5 | 10): string {
    return `if (buf[p] < 0x80) p++; else p = rt.skip(buf, p, end, ${maxBytes});\n`;
  }

  #fixed(size: number, what: string): string {
    if (!Number.isSafeInteger(size) || size < 0) throw new Error(`record-bounds: bad size ${size}`);
    return `if (p + ${size} > end) rt.truncated(${JSON.stringify(what)}, p);\np += ${size};\n`;
  }

  code(t: TypeShape): string {
    switch (t.typeName) {
      case 'null':
        return '';
      case 'boolean':
        return this.#fixed(1, 'a boolean');
      case 'int':
        return this.#skipNumber(5);
      case 'long':
      case 'abstract:long':
        return this.#skipNumber(10);
      case 'float':
        return this.#fixed(4, 'a float');
      case 'double':
        return this.#fixed(8, 'a double');
      case 'fixed':
        return this.#fixed(t.size!, 'a fixed');
      case 'string':
      case 'bytes':
        return `a = p;\n${this.#varint(10)}rt.length(n, end - p, a);\np += n;\n`;
      case 'enum': {
        const symbols = t.symbols!.length;
        this.rt.enums.push(t.name ?? 'enum');
        return `a = p;\n${this.#varint(5)}if (n < 0 || n >= ${symbols}) rt.symbol(${this.rt.enums.length - 1}, n, a);\n`;
      }
      case 'array':
        return this.#blocks('an array', this.code(t.itemsType!));
      case 'map':
        return this.#blocks('a map', this.code({ typeName: 'string' }) + this.code(t.valuesType!));
      case 'union:unwrapped':
      case 'union:wrapped': {
        const branches = t.types!.map((b, i) => `case ${i}: {\n${this.code(b)}break;\n}\n`).join('');
        return `a = p;\n${this.#varint(10)}switch (n) {\n${branches}default: rt.branch(n, a);\n}\n`;
      }
      case 'record':
      case 'error':
      case 'request': {
        if (this.#stack.has(t)) return `p = rt.records[${this.#recursive(t)}](buf, p, end);\n`;
        this.#stack.add(t);
        const body = t.fields!.map((f) => this.code(f.type)).join('');
        this.#stack.delete(t);
        return body;
      }
      default:
        if (t.typeName.startsWith('logical:')) return this.code(t.underlyingType!);
        throw new Error(`record-bounds: no bounds check for Avro type ${t.typeName}`);
    }
  }

  /** Array and map blocks until a zero count; a negative count is followed by the block's byte size. */
  #blocks(what: string, item: string): string {
    const k = this.#loops++;
    const w = JSON.stringify(what);
    return `for (;;) {
a = p;
${this.#varint(10)}if (n === 0) break;
let c${k} = n;
if (c${k} < 0) {
c${k} = -c${k};
${this.#varint(10)}rt.blockSize(${w}, n, end - p, a);
}
rt.block(${w}, c${k}, end - p, a);
for (let i${k} = 0; i${k} < c${k}; i${k}++) {
${item}}
}
`;
  }

  /** A record that contains itself: a function of its own, filled in once generated. */
  #recursive(t: TypeShape): number {
    let index = this.#recordIndex.get(t);
    if (index === undefined) {
      index = this.rt.records.length;
      this.#recordIndex.set(t, index);
      this.rt.records.push(() => 0);
      const inner = new Generator(this.rt);
      inner.#loops = this.#loops + 1000;
      for (const [k, v] of this.#recordIndex) inner.#recordIndex.set(k, v);
      inner.#stack.add(t);
      const body = t.fields!.map((f) => inner.code(f.type)).join('');
      this.rt.records[index] = assemble(this.rt, body);
    }
    return index;
  }
}

function assemble(rt: Runtime, body: string): (buf: Uint8Array, pos: number, end: number) => number {
  const source = `return function check(buf, p, end) {
let a = 0, b = 0, n = 0;
${body}if (p > end) rt.truncated('the record', end);
return p;
};`;
  return new Function('rt', source)(rt) as (buf: Uint8Array, pos: number, end: number) => number;
}

/** Compiles the bounds check of a schema once (do it per schema, not per record). */
export function compileBoundsCheck(type: AvroType): BoundsCheck {
  const rt = new Runtime();
  const check = assemble(rt, new Generator(rt).code(type as unknown as TypeShape));
  return (bytes, pos) => {
    rt.items = bytes.length - pos;
    return check(bytes, pos, bytes.length);
  };
}

const compiled = new WeakMap<AvroType, BoundsCheck>();

/** The bounds check of a schema, compiled on first use and kept with the type. */
export function boundsCheckOf(type: AvroType): BoundsCheck {
  let check = compiled.get(type);
  if (check === undefined) {
    check = compileBoundsCheck(type);
    compiled.set(type, check);
  }
  return check;
}
