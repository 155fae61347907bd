/**
 * Avro type construction shared by every meshpipe schema.
 *
 * Avro `long` becomes a JavaScript BigInt: kernel timestamps (nanoseconds since the epoch, ~1.8e18) are
 * far above Number.MAX_SAFE_INTEGER (2^53), and a float would silently round them by hundreds of
 * nanoseconds. avsc lets us swap the long implementation (LongType.__with); it hands us the 8-byte
 * two's-complement value after decoding the zig-zag varint.
 */
import avro from 'avsc';

export type AvroType = avro.Type;
export type AvroSchema = avro.Schema;

const bigintLong = avro.types.LongType.__with({
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
