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
 * - a block's byte size (negative counts, Avro spec "Complex Types") fits, as does every varint;
 * - a union branch and an enum symbol exist.
 * It allocates nothing and converts nothing: one pass of index arithmetic, about a fifth of what the
 * decode itself costs (bench/codec-bounds).
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

/** A compiled step: checks one value at `pos` of the current buffer, returns the position after it. */
type Step = (pos: number) => number;

const EMPTY = new Uint8Array(0);

// The state of the walk in progress. Checks are synchronous and never nest, so one set is enough.
let buf: Uint8Array = EMPTY;
let end = 0;
/** Array and map items the record may still have (see the file comment). */
let itemsLeft = 0;
/** The value of the varint read last (zig-zag decoded; exact up to 2^53, large beyond that). */
let varintValue = 0;

function fail(what: string, pos: number): never {
  throw new RecordBoundsError(`${what} at byte ${pos}`);
}

/**
 * Reads a zig-zag varint into varintValue; returns the position after it. An int takes at most 5 bytes
 * (32 bits), a long 10 (64 bits): longer, or more bits in the last byte, is not a number of the type
 * (avsc would read it as a number that does not fit).
 */
function readVarint(pos: number, maxBytes: 5 | 10): number {
  let b = pos < end ? buf[pos]! : fail('truncated: a number', pos);
  if (b < 0x80) {
    varintValue = b & 1 ? -(b + 1) / 2 : b / 2;
    return pos + 1;
  }
  let n = b & 0x7f;
  let scale = 128;
  let i = pos + 1;
  for (;;) {
    if (i - pos >= maxBytes) fail(`a number longer than ${maxBytes} bytes`, pos);
    b = i < end ? buf[i]! : fail('truncated: a number', pos);
    n += (b & 0x7f) * scale;
    i++;
    if (b < 0x80) break;
    scale *= 128;
  }
  if (i - pos === maxBytes && b > (maxBytes === 5 ? 0x0f : 0x01))
    fail(`a number wider than ${maxBytes === 5 ? 'an int' : 'a long'}`, pos);
  varintValue = n % 2 === 1 ? -(n + 1) / 2 : n / 2;
  return i;
}

const skipInt: Step = (pos) => readVarint(pos, 5);
const skipLong: Step = (pos) => readVarint(pos, 10);

function fixedSize(size: number, what: string): Step {
  return (pos) => (pos + size <= end ? pos + size : fail(`truncated: ${what}`, pos));
}

/** string and bytes: a length, then that many bytes. */
const skipLengthPrefixed: Step = (pos) => {
  const start = readVarint(pos, 10);
  const length = varintValue;
  if (length < 0) fail(`a negative length (${length})`, pos);
  if (length > end - start) fail(`a length of ${length} with ${end - start} bytes left`, pos);
  return start + length;
};

/** Array and map blocks: `item` is called `count` times per block, until a zero count. */
function blocks(item: Step, what: string): Step {
  return (pos) => {
    for (;;) {
      const at = pos;
      pos = readVarint(pos, 10);
      let count = varintValue;
      if (count === 0) return pos;
      if (count < 0) {
        // A negative count is followed by the block's size in bytes (the Avro spec allows it for skipping).
        count = -count;
        pos = readVarint(pos, 10);
        if (varintValue < 0 || varintValue > end - pos)
          fail(`${what} block of ${varintValue} bytes with ${end - pos} left`, at);
      }
      if (count > end - pos || count > itemsLeft)
        fail(`${what} of ${count} items with ${end - pos} bytes left`, at);
      itemsLeft -= count;
      for (let i = 0; i < count; i++) pos = item(pos);
    }
  };
}

function sequence(steps: readonly Step[]): Step {
  switch (steps.length) {
    case 0:
      return (pos) => pos;
    case 1:
      return steps[0]!;
    default:
      return (pos) => {
        for (let i = 0; i < steps.length; i++) pos = steps[i]!(pos);
        return pos;
      };
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

function compile(type: TypeShape, named: Map<TypeShape, Step>): Step {
  const known = named.get(type);
  if (known !== undefined) return known;
  switch (type.typeName) {
    case 'null':
      return (pos) => pos;
    case 'boolean':
      return fixedSize(1, 'a boolean');
    case 'int':
      return skipInt;
    case 'long':
    case 'abstract:long':
      return skipLong;
    case 'float':
      return fixedSize(4, 'a float');
    case 'double':
      return fixedSize(8, 'a double');
    case 'string':
    case 'bytes':
      return skipLengthPrefixed;
    case 'fixed':
      return fixedSize(type.size!, `a fixed of ${type.size} bytes`);
    case 'enum': {
      const symbols = type.symbols!.length;
      const name = type.name ?? 'enum';
      return (pos) => {
        const next = readVarint(pos, 5);
        if (varintValue < 0 || varintValue >= symbols) fail(`no symbol ${varintValue} in ${name}`, pos);
        return next;
      };
    }
    case 'array':
      return blocks(compile(type.itemsType!, named), 'an array');
    case 'map': {
      const value = compile(type.valuesType!, named);
      return blocks((pos) => value(skipLengthPrefixed(pos)), 'a map');
    }
    case 'union:unwrapped':
    case 'union:wrapped': {
      const branches: Step[] = [];
      const step: Step = (pos) => {
        const next = readVarint(pos, 10);
        const branch = branches[varintValue];
        return branch === undefined ? fail(`no union branch ${varintValue}`, pos) : branch(next);
      };
      for (const t of type.types!) branches.push(compile(t, named));
      return step;
    }
    case 'record':
    case 'error':
    case 'request': {
      // Named and possibly recursive: registered before its fields are compiled, through a cell.
      let body: Step = (pos) => pos;
      const step: Step = (pos) => body(pos);
      named.set(type, step);
      body = sequence(type.fields!.map((f) => compile(f.type, named)));
      return step;
    }
    default:
      if (type.typeName.startsWith('logical:')) return compile(type.underlyingType!, named);
      throw new Error(`record-bounds: no bounds check for Avro type ${type.typeName}`);
  }
}

/** Compiles the bounds check of a schema once (do it per schema, not per record). */
export function compileBoundsCheck(type: AvroType): BoundsCheck {
  const step = compile(type as unknown as TypeShape, new Map());
  return (bytes, pos) => {
    buf = bytes;
    end = bytes.length;
    itemsLeft = end - pos;
    const after = step(pos);
    buf = EMPTY; // not kept alive by the walk (a record can be a view of a whole fetch response)
    return after;
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
