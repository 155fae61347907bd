/**
 * The types of a processor's state stores: what a store's values are, and so how they are written to the
 * changelog. A definition declares its stores by name (definition.ts `stores`):
 *
 *   stores: {
 *     pending: avroStore<PendingSpan>(new URL('./pending-span.avsc', import.meta.url)),
 *     seen: jsonStore<number>(),
 *   },
 *
 * and its handlers get `ctx.stores.pending`, whose `get` returns a `PendingSpan` (no casts). The
 * TypeScript type and the Avro type are declared side by side and checked against each other at
 * runtime: a value that does not fit the schema fails its `set` (copy access) or its transaction's
 * encoding (live access), which dead-letters the call that made it.
 *
 * `avroStore` writes compact binary values of a declared type (avro-state-codec.ts), read back by
 * Avro schema resolution when the type changes (keep the older schemas in `history`). `jsonStore` is
 * JSON extended with BigInt, bytes, Map and Set (state-codec.ts): no schema to keep, larger and slower.
 */
import type { AvroSchema } from '../../schemas/avro-types.ts';
import { type AvroStateCodecOptions, avroStateCodec } from './avro-state-codec.ts';
import { jsonStateCodec, type StateCodec } from './state-codec.ts';

export interface StoreType<T> {
  /** How values are written: Avro of a declared schema, or extended JSON. */
  readonly format: 'avro' | 'json';
  /** The codec of the store's values (made once, on first use, and shared by every partition). */
  codec(): StateCodec<T>;
  /** Carries the value type; never set. */
  readonly value?: T;
}

// biome-ignore lint/suspicious/noExplicitAny: a map of stores of any value types
export type StoreTypes = Record<string, StoreType<any>>;

/** The value type of a store type. */
export type StoreValue<X> = X extends StoreType<infer T> ? T : never;

function once<T>(make: () => StateCodec<T>): () => StateCodec<T> {
  let codec: StateCodec<T> | undefined;
  return () => {
    codec ??= make();
    return codec;
  };
}

/**
 * A store of values of the Avro type `schema` (a .avsc file, or the schema). The schema may name types
 * of meshpipe's schemas (`"dev.meshpipe.v1.Span"`).
 */
export function avroStore<T>(
  schema: URL | string | AvroSchema,
  options: AvroStateCodecOptions<T> = {},
): StoreType<T> {
  return { format: 'avro', codec: once(() => avroStateCodec<T>(schema, options)) };
}

/** A store of values written as extended JSON (state-codec.ts). */
export function jsonStore<T>(): StoreType<T> {
  return { format: 'json', codec: once(() => jsonStateCodec<T>()) };
}
