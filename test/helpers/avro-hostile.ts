/**
 * Hostile Avro bodies for any schema, derived from the schema itself so that every schema (meshpipe's,
 * a processor's, a later version) gets them without a hand-written list:
 *
 * - `poisonBodies(type)`: for every array, map, string, bytes, union and enum the schema can reach, the
 *   shortest valid bytes that lead to it followed by a count or length no buffer can hold (2^28, 2^62,
 *   negative) or an index that does not exist. The 5-byte record of issue 14 is one of them.
 * - `validValue(type)`: a fast-check arbitrary of valid values, to encode and then mutate (fuzzing).
 *
 * And `fuzzRuns()`: how many runs a fuzz property makes — 2,000 in the suite, more from scripts/fuzz
 * (MESHPIPE_FUZZ_RUNS).
 */
import fc from 'fast-check';
import type { AvroType } from '../../schemas/avro-types.ts';
import { codecFor } from '../../schemas/codec.ts';
import type { Span } from '../../schemas/types.ts';

export function fuzzRuns(suiteDefault = 2000): number {
  const configured = Number(process.env.MESHPIPE_FUZZ_RUNS);
  return Number.isSafeInteger(configured) && configured > 0 ? configured : suiteDefault;
}

/** fast-check parameters for a fuzz property: the runs, and a seed from MESHPIPE_FUZZ_SEED to replay one. */
export function fuzzParameters(suiteDefault = 2000): fc.Parameters<unknown> {
  const seed = Number(process.env.MESHPIPE_FUZZ_SEED);
  return {
    numRuns: fuzzRuns(suiteDefault),
    ...(Number.isSafeInteger(seed) ? { seed } : {}),
  };
}

/** Zig-zag varint, as Avro writes int and long. */
export function varint(n: bigint | number): number[] {
  let z = BigInt(n);
  z = z >= 0n ? z * 2n : -z * 2n - 1n;
  const out: number[] = [];
  while (z >= 0x80n) {
    out.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  out.push(Number(z));
  return out;
}

interface TypeShape {
  typeName: string;
  name?: string;
  /** The key of a wrapped union's value for this branch (avsc: the qualified name, or the type's). */
  branchName?: string;
  size?: number;
  symbols?: string[];
  types?: TypeShape[];
  fields?: { name: string; type: TypeShape }[];
  itemsType?: TypeShape;
  valuesType?: TypeShape;
  underlyingType?: TypeShape;
}

const shape = (t: AvroType) => t as unknown as TypeShape;

/** The shortest valid encoding of a value of `type`. */
function minimal(t: TypeShape, seen: ReadonlySet<TypeShape> = new Set()): number[] {
  switch (t.typeName) {
    case 'null':
      return [];
    case 'float':
      return [0, 0, 0, 0];
    case 'double':
      return [0, 0, 0, 0, 0, 0, 0, 0];
    case 'fixed':
      return new Array<number>(t.size!).fill(0);
    case 'union:unwrapped':
    case 'union:wrapped': {
      // The first branch that does not recurse into a record being built.
      const i = t.types!.findIndex((b) => !seen.has(b));
      return [...varint(i), ...minimal(t.types![i]!, seen)];
    }
    case 'record':
    case 'error': {
      const inner = new Set(seen).add(t);
      return t.fields!.flatMap((f) => minimal(f.type, inner));
    }
    default:
      if (t.typeName.startsWith('logical:')) return minimal(t.underlyingType!, seen);
      // boolean, int, long, string, bytes, enum, array, map: a single zero byte.
      return [0];
  }
}

const HUGE = [2n ** 28n, 2n ** 31n - 1n, 2n ** 62n, 2n ** 63n - 1n];

export interface PoisonBody {
  /** What the body claims, e.g. `labels: a map of 268435456 items`. */
  what: string;
  bytes: Buffer;
}

function poisons(
  t: TypeShape,
  path: string,
  seen: ReadonlySet<TypeShape>,
): { what: string; bytes: number[] }[] {
  const out: { what: string; bytes: number[] }[] = [];
  const at = path === '' ? '(root)' : path;
  switch (t.typeName) {
    case 'string':
    case 'bytes':
      for (const n of HUGE) out.push({ what: `${at}: ${t.typeName} of ${n} bytes`, bytes: varint(n) });
      out.push({ what: `${at}: ${t.typeName} of -5 bytes`, bytes: varint(-5) });
      break;
    case 'enum':
      out.push({ what: `${at}: enum symbol ${t.symbols!.length}`, bytes: varint(t.symbols!.length) });
      out.push({ what: `${at}: enum symbol -1`, bytes: varint(-1) });
      break;
    case 'array':
    case 'map': {
      for (const n of HUGE) {
        out.push({ what: `${at}: ${t.typeName} of ${n} items`, bytes: varint(n) });
        // A negative count announces the block's size in bytes.
        out.push({
          what: `${at}: ${t.typeName} block of ${n} items, 1 byte`,
          bytes: [...varint(-n), ...varint(1)],
        });
      }
      out.push({
        what: `${at}: ${t.typeName} block of ${HUGE[2]} bytes`,
        bytes: [...varint(-1), ...varint(HUGE[2]!)],
      });
      // One item whose own contents are hostile.
      const item = t.typeName === 'array' ? t.itemsType! : t.valuesType!;
      const key = t.typeName === 'map' ? [0] : [];
      for (const p of poisons(item, `${path}[]`, seen))
        out.push({ what: p.what, bytes: [...varint(1), ...key, ...p.bytes] });
      break;
    }
    case 'union:unwrapped':
    case 'union:wrapped':
      out.push({ what: `${at}: union branch ${t.types!.length}`, bytes: varint(t.types!.length) });
      out.push({ what: `${at}: union branch -1`, bytes: varint(-1) });
      t.types!.forEach((b, i) => {
        for (const p of poisons(b, path, seen)) out.push({ what: p.what, bytes: [...varint(i), ...p.bytes] });
      });
      break;
    case 'record':
    case 'error': {
      if (seen.has(t)) break;
      const inner = new Set(seen).add(t);
      let prefix: number[] = [];
      for (const f of t.fields!) {
        const name = path === '' ? f.name : `${path}.${f.name}`;
        for (const p of poisons(f.type, name, inner))
          out.push({ what: p.what, bytes: [...prefix, ...p.bytes] });
        prefix = [...prefix, ...minimal(f.type, inner)];
      }
      break;
    }
    default:
      if (t.typeName.startsWith('logical:')) return poisons(t.underlyingType!, path, seen);
  }
  return out;
}

/** Hostile bodies (without the 5-byte wire header) for every count, length and index of `type`. */
export function poisonBodies(type: AvroType): PoisonBody[] {
  return poisons(shape(type), '', new Set()).map((p) => ({ what: p.what, bytes: Buffer.from(p.bytes) }));
}

/** Prefixes an Avro body with the Confluent wire header of schema `id`. */
export function wireRecord(id: number, body: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(id, 1);
  return Buffer.concat([header, body]);
}

/** Valid values of `type` (small arrays and maps, any strings and numbers the type holds). */
export function validValue(type: AvroType): fc.Arbitrary<unknown> {
  return arbitrary(shape(type), 0);
}

function arbitrary(t: TypeShape, depth: number): fc.Arbitrary<unknown> {
  const small = { maxLength: depth > 2 ? 0 : 4 };
  switch (t.typeName) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'int':
      return fc.integer();
    case 'long':
    case 'abstract:long':
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'float':
      return fc.float({ noNaN: true }).map((f) => (Object.is(f, -0) ? 0 : f));
    case 'double':
      return fc.double({ noNaN: true }).map((f) => (Object.is(f, -0) ? 0 : f));
    case 'string':
      return fc.string({ unit: 'grapheme', maxLength: 40 });
    case 'bytes':
      return fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b));
    case 'fixed':
      return fc.uint8Array({ minLength: t.size!, maxLength: t.size! }).map((b) => Buffer.from(b));
    case 'enum':
      return fc.constantFrom(...t.symbols!);
    case 'array':
      return fc.array(arbitrary(t.itemsType!, depth + 1), small);
    case 'map':
      return fc.dictionary(fc.string({ maxLength: 12 }), arbitrary(t.valuesType!, depth + 1), {
        maxKeys: small.maxLength,
        noNullPrototype: true,
      });
    case 'union:unwrapped':
      return fc.oneof(...t.types!.map((b) => arbitrary(b, depth + 1)));
    case 'union:wrapped':
      // A wrapped union's value names its branch: null, or { <branch name>: value }.
      return fc.oneof(
        ...t.types!.map((b) =>
          b.typeName === 'null'
            ? fc.constant(null)
            : arbitrary(b, depth + 1).map((v) => ({ [b.branchName!]: v })),
        ),
      );
    case 'record':
    case 'error': {
      const fields: Record<string, fc.Arbitrary<unknown>> = {};
      for (const f of t.fields!) fields[f.name] = arbitrary(f.type, depth + 1);
      return fc.record(fields, { noNullPrototype: true });
    }
    default:
      if (t.typeName.startsWith('logical:')) return arbitrary(t.underlyingType!, depth);
      throw new Error(`no arbitrary for Avro type ${t.typeName}`);
  }
}

/**
 * A mutation of an encoded record: bytes overwritten, a hostile varint spliced in, a cut, garbage
 * appended — the shapes corrupt and hostile records take.
 */
export function mutated(bytes: Buffer, from = 0): fc.Arbitrary<Buffer> {
  const span = Math.max(1, bytes.length - from);
  const position = fc.integer({ min: from, max: from + span });
  const hostile = fc.oneof(
    fc.constantFrom(...HUGE, -1n, -(2n ** 28n), 2n ** 64n).map((n) => varint(n)),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((n) => varint(n)),
    fc.array(fc.integer({ min: 0x80, max: 0xff }), { minLength: 1, maxLength: 12 }),
  );
  const splice = (at: number, remove: number, insert: number[]) =>
    Buffer.concat([
      bytes.subarray(0, at),
      Buffer.from(insert),
      bytes.subarray(Math.min(bytes.length, at + remove)),
    ]);
  return fc.oneof(
    fc
      .array(fc.tuple(position, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 })
      .map((edits) => {
        const out = Buffer.from(bytes);
        for (const [at, b] of edits) if (at < out.length) out[at] = b;
        return out;
      }),
    fc
      .tuple(position, fc.integer({ min: 0, max: 4 }), hostile)
      .map(([at, remove, insert]) => splice(at, remove, insert)),
    position.map((at) => bytes.subarray(0, at)),
    fc.uint8Array({ minLength: 1, maxLength: 16 }).map((tail) => Buffer.concat([bytes, tail])),
  );
}

/**
 * A span record (wire format) whose `attributes` map claims 2^28 entries in 0 bytes, the fields after it
 * intact: the shape that exhausted every reader's heap before the codec's bounds check.
 */
export function poisonSpan(span: Span): Buffer {
  // attributes {} is one 0 byte; what follows it is the encoding of the fields after it (rpc: null, one
  // 0 byte for its union branch).
  const valid = codecFor<Span>('span').encode({ ...span, attributes: {}, rpc: null });
  const after = 1;
  return Buffer.concat([
    valid.subarray(0, -1 - after),
    Buffer.from(varint(2 ** 28)),
    valid.subarray(valid.length - after),
  ]);
}
