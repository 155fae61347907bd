/**
 * Avro in the Confluent wire format: byte 0 is the magic 0, bytes 1-4 the schema id (big endian), then
 * the Avro binary encoding. Any Confluent-compatible consumer that knows our schemas (or a Schema
 * Registry holding them) can read every meshpipe topic.
 *
 * Reading resolves the writer's schema (found by id) against the reader's: a consumer built with v1 of
 * a record reads records written with a later version that added defaulted fields, and the reverse.
 * Before avsc reads a body, its lengths and counts are checked against its size with the writer's
 * schema (record-bounds.ts): a hostile record is a decode error, not an exhausted heap.
 */
import type { Resolver } from 'avsc';
import { ERRORS, MeshpipeError } from '../lib/errors.ts';
import { boundsCheckOf } from './record-bounds.ts';
import { type RegisteredSchema, type SchemaRegistry, schemaRegistry } from './registry.ts';

export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;

export interface Codec<T> {
  /** The schema records are written with (and read into). */
  readonly schema: RegisteredSchema;
  encode(value: T): Buffer;
  /** Decodes one record value; throws MeshpipeError (SCHEMA_*) on anything that is not a valid record. */
  decode(bytes: Uint8Array): T;
}

/** Reads the schema id of a wire-format record, or throws SCHEMA_NOT_WIRE_FORMAT. */
export function schemaIdOfRecord(bytes: Uint8Array): number {
  if (bytes.length < HEADER_BYTES) {
    throw new MeshpipeError(ERRORS.SCHEMA_NOT_WIRE_FORMAT, [
      `${bytes.length} bytes, shorter than the 5-byte header`,
    ]);
  }
  if (bytes[0] !== MAGIC_BYTE) {
    throw new MeshpipeError(ERRORS.SCHEMA_NOT_WIRE_FORMAT, [`magic byte is ${bytes[0]}, expected 0`]);
  }
  return ((bytes[1]! << 24) | (bytes[2]! << 16) | (bytes[3]! << 8) | bytes[4]!) >>> 0;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// One scratch buffer for encoding: avsc writes into it, and we copy out exactly the bytes used. Grows
// when a record does not fit. Safe because encode() is synchronous.
let scratch = Buffer.allocUnsafe(64 * 1024);

function encodeWith(schema: RegisteredSchema, value: unknown): Buffer {
  for (;;) {
    scratch[0] = MAGIC_BYTE;
    scratch.writeUInt32BE(schema.id, 1);
    let end: number;
    try {
      end = schema.type.encode(value, scratch, HEADER_BYTES);
    } catch (err) {
      throw new MeshpipeError(
        ERRORS.SCHEMA_ENCODE_FAILED,
        [schema.fullName, explainInvalid(schema, value, err)],
        {
          cause: err,
        },
      );
    }
    if (end >= 0) return Buffer.from(scratch.subarray(0, end));
    // A negative result is minus the size needed.
    scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, -end + HEADER_BYTES));
  }
}

function explainInvalid(schema: RegisteredSchema, value: unknown, err: unknown): string {
  const paths: string[] = [];
  schema.type.isValid(value, {
    errorHook: (path: string[], v: unknown) => {
      if (paths.length < 3)
        paths.push(`${path.join('.') || '(root)'}=${typeof v === 'bigint' ? `${v}n` : JSON.stringify(v)}`);
    },
  });
  return paths.length > 0 ? `invalid field ${paths.join(', ')}` : (err as Error).message;
}

/**
 * The codec of a schema: the current version of `schema` (a file or full name), or the registered
 * schema itself (one that is not a topic's, such as a processor's state type).
 */
export function codecFor<T>(
  schema: string | RegisteredSchema,
  registry: SchemaRegistry = schemaRegistry(),
): Codec<T> {
  const reader = typeof schema === 'string' ? registry.current(schema) : schema;
  const resolvers = new Map<number, Resolver | null>();

  function resolverFor(writerId: number): Resolver | null {
    let resolver = resolvers.get(writerId);
    if (resolver !== undefined) return resolver;
    const writer = writerId === reader.id ? reader : registry.byId(writerId);
    // The reader's own schema under another id (its fingerprint, when a Schema Registry assigned it
    // one, or the reverse) needs no resolution.
    if (writer === reader) {
      resolver = null;
    } else {
      try {
        resolver = reader.type.createResolver(writer.type);
      } catch (err) {
        throw new MeshpipeError(ERRORS.SCHEMA_INCOMPATIBLE, [
          reader.fullName,
          `${writer.fullName} (id ${writerId})`,
          (err as Error).message,
        ]);
      }
    }
    resolvers.set(writerId, resolver);
    return resolver;
  }

  return {
    schema: reader,
    encode: (value: T) => encodeWith(reader, value),
    decode(bytes: Uint8Array): T {
      const id = schemaIdOfRecord(bytes);
      const resolver = resolverFor(id);
      return decodeBody(bytes, id, reader, resolver, resolver === null ? reader : registry.byId(id)) as T;
    },
  };
}

function decodeBody(
  bytes: Uint8Array,
  id: number,
  type: RegisteredSchema,
  resolver: Resolver | null,
  writer: RegisteredSchema,
): unknown {
  const buf = asBuffer(bytes);
  let result: { value: unknown; offset: number };
  try {
    boundsCheckOf(writer.type)(buf, HEADER_BYTES);
    result =
      resolver === null ? type.type.decode(buf, HEADER_BYTES) : type.type.decode(buf, HEADER_BYTES, resolver);
  } catch (err) {
    throw new MeshpipeError(ERRORS.SCHEMA_DECODE_FAILED, [
      `${type.fullName} (id ${id})`,
      (err as Error).message,
    ]);
  }
  // avsc signals a truncated buffer with a negative offset; trailing garbage leaves bytes unread.
  if (result.offset < 0) {
    throw new MeshpipeError(ERRORS.SCHEMA_DECODE_FAILED, [
      `${type.fullName} (id ${id})`,
      'record is truncated',
    ]);
  }
  if (result.offset !== buf.length) {
    throw new MeshpipeError(ERRORS.SCHEMA_DECODE_FAILED, [
      `${type.fullName} (id ${id})`,
      `${buf.length - result.offset} unexpected bytes after the record`,
    ]);
  }
  return result.value;
}

/**
 * Decodes a record with its own writer schema, whatever it is (for `meshpipe tail` and generic tools).
 */
export function decodeAny(
  bytes: Uint8Array,
  registry: SchemaRegistry = schemaRegistry(),
): { schema: RegisteredSchema; value: unknown } {
  const id = schemaIdOfRecord(bytes);
  const schema = registry.byId(id);
  return { schema, value: decodeBody(bytes, id, schema, null, schema) };
}

/**
 * A JSON-safe copy of a decoded value: BigInt → decimal string (exact), bytes → base64 string. This is
 * what `--json` outputs print.
 */
export function toJsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array)
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (Array.isArray(value)) return value.map(toJsonSafe);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJsonSafe(v);
    return out;
  }
  return value;
}
