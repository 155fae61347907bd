/**
 * Avro type construction shared by every meshpipe schema.
 *
 * Avro `long` becomes a JavaScript BigInt: kernel timestamps (nanoseconds since the epoch, ~1.8e18) are
 * far above Number.MAX_SAFE_INTEGER (2^53), and a float would silently round them by hundreds of
 * nanoseconds. avsc lets us swap the long implementation (LongType.__with); its generic path hands the
 * value over as an 8-byte two's-complement Buffer, allocated for every long read or written. Longs are
 * on every hot path (a span has several, a raw event ten), so the type's `_read` and `_write` are
 * replaced below by zig-zag varint code working on the tap's buffer directly: number arithmetic where
 * the value fits 52 bits, two exact 32-bit halves beyond, no allocation but the BigInt itself.
 */
import avro from 'avsc';

export type AvroType = avro.Type;
export type AvroSchema = avro.Schema;

const genericBigintLong = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const buf = Buffer.allocUnsafe(8);
    buf.writeBigInt64LE(n);
    return buf;
  },
  fromJSON: (n: unknown) => BigInt(n as string | number | bigint),
  toJSON: (n: bigint) =>
    n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString(),
  isValid: (n: unknown) => typeof n === 'bigint' && n >= -(2n ** 63n) && n < 2n ** 63n,
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

/** avsc's Tap: the buffer and position its generated readers and writers share. */
interface Tap {
  buf: Buffer;
  pos: number;
  writeLong(n: number): void;
}

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

/** Reads a zig-zag varint long as a BigInt (a malformed varint leaves the tap past its end, as avsc's own reads do). */
function readLong(tap: Tap): bigint {
  const buf = tap.buf;
  let pos = tap.pos;
  // Up to 7 bytes (49 bits) in number arithmetic.
  let b = buf[pos++]!;
  let n = b & 0x7f;
  let shift = 128;
  let i = 1;
  while (b & 0x80 && i < 7) {
    b = buf[pos++]!;
    n += (b & 0x7f) * shift;
    shift *= 128;
    i++;
  }
  if (!(b & 0x80)) {
    tap.pos = pos;
    // Zig-zag: n even → n/2, odd → -(n+1)/2, exact below 2^53.
    return BigInt(n % 2 === 0 ? n / 2 : -(n + 1) / 2);
  }
  // Longer: the next bytes above bit 49, as a second number, then joined as BigInts.
  let hi = 0;
  let hiShift = 1;
  do {
    b = buf[pos++]!;
    hi += (b & 0x7f) * hiShift;
    hiShift *= 128;
    i++;
  } while (b & 0x80 && i < 10);
  tap.pos = pos;
  const z = BigInt.asUintN(64, (BigInt(hi) << 49n) | BigInt(n));
  return (z >> 1n) ^ -(z & 1n);
}

function writeLong(tap: Tap, value: bigint): void {
  if (value >= -4503599627370496n && value < 4503599627370496n) {
    tap.writeLong(Number(value));
    return;
  }
  const z = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
  let hi = Number(z >> 32n);
  let lo = Number(z & 0xffffffffn);
  const buf = tap.buf;
  while (hi !== 0 || lo > 0x7f) {
    buf[tap.pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | ((hi & 0x7f) << 25)) >>> 0;
    hi >>>= 7;
  }
  buf[tap.pos++] = lo;
}

// avsc freezes the type __with returns; an object inheriting from it takes the two replacements.
const bigintLong: typeof genericBigintLong = Object.create(genericBigintLong);
Object.assign(bigintLong as unknown as Record<string, unknown>, {
  _read: readLong,
  _write(tap: Tap, value: unknown) {
    if (typeof value !== 'bigint' || value < LONG_MIN || value > LONG_MAX) {
      throw new Error(`invalid "long": ${typeof value === 'bigint' ? `${value}n` : JSON.stringify(value)}`);
    }
    writeLong(tap, value);
  },
});

/**
 * Builds an avsc Type whose longs are BigInts. Unions of null and one type decode unwrapped.
 *
 * `named` are types defined by other schema files (by full name), which this schema may reference by
 * name: a batch record names the type of its items (`"items": "dev.meshpipe.v1.Span"`) rather than
 * repeating it, so the two cannot drift. A name the schema defines itself wins over `named`.
 */
export function avroType(schema: AvroSchema, named?: ReadonlyMap<string, AvroType>): AvroType {
  const options: Parameters<typeof avro.Type.forSchema>[1] = {
    registry: { long: bigintLong },
    wrapUnions: 'auto',
  };
  if (named !== undefined && named.size > 0) {
    options.typeHook = (s, opts) => {
      if (typeof s !== 'string') return undefined;
      const name =
        s.includes('.') || opts.namespace === undefined || opts.namespace === ''
          ? s
          : `${opts.namespace}.${s}`;
      if ((opts.registry as Record<string, unknown>)[name] !== undefined) return undefined;
      return named.get(name);
    };
  }
  return avro.Type.forSchema(schema, options);
}

/** The named types (records, enums, fixed) a type defines or uses, by full name. */
export function namedTypesOf(type: AvroType, into = new Map<string, AvroType>()): Map<string, AvroType> {
  const t = type as AvroType & {
    name?: string;
    fields?: Array<{ type: AvroType }>;
    types?: AvroType[];
    itemsType?: AvroType;
    valuesType?: AvroType;
  };
  if (t.name !== undefined) {
    if (into.has(t.name)) return into;
    into.set(t.name, t);
  }
  for (const f of t.fields ?? []) namedTypesOf(f.type, into);
  for (const b of t.types ?? []) namedTypesOf(b, into);
  if (t.itemsType !== undefined) namedTypesOf(t.itemsType, into);
  if (t.valuesType !== undefined) namedTypesOf(t.valuesType, into);
  return into;
}

/**
 * Schema id for the Confluent wire format, derived from the schema itself: the first 31 bits of the
 * SHA-256 of its Parsing Canonical Form. Every build that has the schema file computes the same id, no
 * registry service is needed to read any meshpipe topic, and a changed schema gets a new id. Docs and
 * defaults are not part of the canonical form (they do not change how bytes are written).
 */
export function schemaIdOf(type: AvroType): number {
  return type.fingerprint('sha256').readUInt32BE(0) & 0x7fffffff;
}
