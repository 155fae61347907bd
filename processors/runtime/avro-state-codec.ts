/**
 * A state codec of a declared Avro type: state values as compact binary records on the changelog,
 * encoded and decoded by avsc's compiled readers and writers, instead of JSON-shaped text.
 *
 * Why: the default codec (state-codec.ts) turns every value into a JSON tree with tagged BigInts and
 * back; for a processor whose state changes with every event (span-assembler: a connection's entry per
 * raw event) that was the largest single cost of its handler (docs/benchmarks.md). A declared type also
 * documents the state, and a changed type is checked like any other schema.
 *
 * Values are written in the Confluent wire format (magic byte, schema id, Avro body) with the schema
 * registered in the process's registry, so a value written by an older version of the processor (an
 * older schema listed in `history`) is read with Avro schema resolution: new fields need defaults. A
 * value that is not in the wire format is handed to `legacy` (the JSON codec a processor used before it
 * declared its type: JSON never begins with the magic byte 0), so a changelog written before still
 * restores.
 *
 * The schema may name types of meshpipe's current schemas (`"dev.meshpipe.v1.Span"`).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AvroSchema } from '../../schemas/avro-types.ts';
import { codecFor, MAGIC_BYTE } from '../../schemas/codec.ts';
import { type SchemaRegistry, schemaRegistry } from '../../schemas/registry.ts';
import type { StateCodec } from './state-codec.ts';

export interface AvroStateCodecOptions<S> {
  /** Earlier versions of the schema, so values they wrote still decode (files or schemas). */
  history?: ReadonlyArray<URL | string | AvroSchema>;
  /** How to read a value that is not in the Avro wire format (written by an earlier codec). */
  legacy?: StateCodec<S>;
  registry?: SchemaRegistry;
}

function load(source: URL | string | AvroSchema): AvroSchema {
  if (source instanceof URL) return JSON.parse(readFileSync(fileURLToPath(source), 'utf8')) as AvroSchema;
  if (typeof source === 'string') return JSON.parse(readFileSync(source, 'utf8')) as AvroSchema;
  return source;
}

/** The codec of state values of the Avro type `schema` (a file, or the schema itself). */
export function avroStateCodec<S>(
  schema: URL | string | AvroSchema,
  options: AvroStateCodecOptions<S> = {},
): StateCodec<S> {
  const registry = options.registry ?? schemaRegistry();
  for (const older of options.history ?? []) registry.register(load(older), { references: true });
  const current = registry.register(load(schema), { references: true });
  const codec = codecFor<S>(current, registry);
  const legacy = options.legacy;
  return {
    encode(value) {
      if (value === undefined) throw new TypeError('state value is undefined: use state.delete(key)');
      return codec.encode(value);
    },
    decode(bytes) {
      if (bytes.length > 0 && bytes[0] !== MAGIC_BYTE && legacy !== undefined) return legacy.decode(bytes);
      return codec.decode(bytes);
    },
  };
}
