/**
 * How the records of one topic become values and back: one value per record, or — on the hot topics
 * (topics.ts `batch`) — many values per record. Every reader goes through `decodeRecord`, which gives
 * the values a record carries whatever form it has: a batch's items, or the single value of a record
 * written with the item schema (tools, replays and tests write those), so batching is invisible above
 * this module: handlers, sinks, `subscribe()` and `meshpipe tail` see one value at a time.
 *
 * Batches come in two shapes:
 * - a record with one array field of items (`SpanBatch`, `TraceLinkingBatch`): written from item
 *   records already encoded (`batchFromEncoded`: the processor runtime encodes each emit when it is made,
 *   so a value that does not match its schema fails the handler call that made it, and the batch is
 *   then only the items' bytes between an array header and its end);
 * - the compact raw batch (`L7RawBatch`, raw-batch.ts), written by the collector.
 */
import { ERRORS, MeshpipeError } from '../lib/errors.ts';
import { partitionOfKey } from '../lib/key-partition.ts';
import { type Codec, codecFor, decodeAny, HEADER_BYTES, MAGIC_BYTE, schemaIdOfRecord } from './codec.ts';
import { expandRawBatch, packRawBatches } from './raw-batch.ts';
import { type RegisteredSchema, type SchemaRegistry, schemaRegistry } from './registry.ts';
import { TOPICS, type TopicDefinition } from './topics.ts';
import type { L7RawBatch, L7RawEvent } from './types.ts';

export interface TopicCodec<T> {
  readonly definition: TopicDefinition;
  /** The codec of one value (the batch item, or the record for a topic without batches). */
  readonly item: Codec<T>;
  /** The batch record's schema; null for a topic without batches. */
  readonly batchSchema: RegisteredSchema | null;
  /** The values of one record, in order. Throws MeshpipeError (SCHEMA_*) when the bytes do not decode. */
  decodeRecord(bytes: Uint8Array): T[];
  /** A value's key as a record of its own (batched topics; null otherwise: the record key is the key). */
  keyOf(value: T): string | null;
  /** Batch records (wire format) holding these values, in order (a batched topic; see `batchFromEncoded`). */
  encodeBatches(values: readonly T[]): Buffer[];
  /**
   * One batch record from values already encoded with `item` (wire format each), in order: only their
   * bytes are copied. Array batches only (the raw topic's batches are the collector's to write).
   */
  batchFromEncoded(items: readonly Uint8Array[]): Buffer;
}

const RAW_BATCH = 'dev.meshpipe.v1.L7RawBatch';

function keyReader(path: string): (value: unknown) => string | null {
  const parts = path.split('.');
  return (value) => {
    let v = value as Record<string, unknown> | null | undefined;
    for (const p of parts) v = v?.[p] as Record<string, unknown> | null | undefined;
    return v === null || v === undefined ? null : String(v);
  };
}

/** The name of the array field of an array batch, checked against the item schema. */
function arrayFieldOf(batch: RegisteredSchema, item: RegisteredSchema): string {
  const fields = (
    batch.type as unknown as {
      fields: Array<{ name: string; type: { typeName: string; itemsType?: { name?: string } } }>;
    }
  ).fields;
  const field = fields.length === 1 ? fields[0]! : undefined;
  if (
    field === undefined ||
    field.type.typeName !== 'array' ||
    field.type.itemsType?.name !== item.fullName
  ) {
    throw new Error(
      `batch schema ${batch.fullName} must be a record with one field, an array of ${item.fullName}`,
    );
  }
  return field.name;
}

/** Avro long/int: zig-zag varint of a non-negative count (array block counts). */
function writeCount(buf: Buffer, pos: number, n: number): number {
  let z = n * 2;
  while (z >= 0x80) {
    buf[pos++] = (z % 0x80) | 0x80;
    z = Math.floor(z / 0x80);
  }
  buf[pos++] = z;
  return pos;
}

const codecs = new WeakMap<SchemaRegistry, Map<TopicDefinition, TopicCodec<unknown>>>();

/** The codec of a topic (memoized per definition). */
export function topicCodec<T>(
  definition: TopicDefinition,
  registry: SchemaRegistry = schemaRegistry(),
): TopicCodec<T> {
  let byDefinition = codecs.get(registry);
  if (byDefinition === undefined) {
    byDefinition = new Map();
    codecs.set(registry, byDefinition);
  }
  let codec = byDefinition.get(definition);
  if (codec === undefined) {
    codec = createTopicCodec(definition, registry);
    byDefinition.set(definition, codec);
  }
  return codec as TopicCodec<T>;
}

function createTopicCodec(definition: TopicDefinition, registry: SchemaRegistry): TopicCodec<unknown> {
  if (definition.batch === undefined) {
    const item = codecFor<unknown>(definition.schema, registry);
    return {
      definition,
      item,
      batchSchema: null,
      decodeRecord: (bytes) => [item.decode(bytes)],
      keyOf: () => null,
      encodeBatches: () => {
        throw new Error(`topic ${definition.suffix} carries one value per record`);
      },
      batchFromEncoded: () => {
        throw new Error(`topic ${definition.suffix} carries one value per record`);
      },
    };
  }
  const item = codecFor<unknown>(definition.batch.item, registry);
  const batch = codecFor<Record<string, unknown>>(definition.schema, registry);
  const batchSchema = batch.schema;
  const keyOf = keyReader(definition.batch.key);
  const isBatch = (id: number) =>
    id === batchSchema.id || (registry.has(id) && registry.byId(id).fullName === batchSchema.fullName);

  if (batchSchema.fullName === RAW_BATCH) {
    return {
      definition,
      item,
      batchSchema,
      decodeRecord(bytes) {
        if (!isBatch(schemaIdOfRecord(bytes))) return [item.decode(bytes)];
        return expandRawBatch(batch.decode(bytes) as unknown as L7RawBatch);
      },
      keyOf,
      encodeBatches: (values) =>
        packRawBatches(values as L7RawEvent[]).map((b) =>
          batch.encode(b as unknown as Record<string, unknown>),
        ),
      batchFromEncoded() {
        throw new Error('raw batches are written from events (encodeBatches), not from encoded events');
      },
    };
  }

  const field = arrayFieldOf(batchSchema, item.schema);
  return {
    definition,
    item,
    batchSchema,
    decodeRecord(bytes) {
      if (!isBatch(schemaIdOfRecord(bytes))) return [item.decode(bytes)];
      return batch.decode(bytes)[field] as unknown[];
    },
    keyOf,
    encodeBatches: (values) => [batch.encode({ [field]: values })],
    batchFromEncoded(items) {
      let size = HEADER_BYTES + 10 + 1;
      for (const it of items) size += it.length - HEADER_BYTES;
      const out = Buffer.allocUnsafe(size);
      out[0] = MAGIC_BYTE;
      out.writeUInt32BE(batchSchema.id, 1);
      let pos = HEADER_BYTES;
      if (items.length > 0) pos = writeCount(out, pos, items.length);
      for (const it of items) {
        const id = schemaIdOfRecord(it);
        if (id !== item.schema.id) {
          // Written with another version of the item schema: bytes of another layout cannot be spliced.
          throw new MeshpipeError(ERRORS.SCHEMA_ENCODE_FAILED, [
            batchSchema.fullName,
            `an item was encoded with schema id ${id}, the batch holds ${item.schema.fullName} (id ${item.schema.id})`,
          ]);
        }
        out.set(it.subarray(HEADER_BYTES), pos);
        pos += it.length - HEADER_BYTES;
      }
      out[pos++] = 0; // end of the array
      return out.subarray(0, pos);
    },
  };
}

/**
 * The values of a record of any schema this build knows (for `meshpipe tail` and generic tools): a
 * batch record of one of meshpipe's batched topics gives its items, any other record its one value.
 * `schema` is the schema of the values (the item schema for a batch).
 */
export function decodeAnyRecord(
  bytes: Uint8Array,
  registry: SchemaRegistry = schemaRegistry(),
): { schema: RegisteredSchema; values: unknown[]; batched: boolean } {
  const writer = registry.byId(schemaIdOfRecord(bytes));
  for (const definition of Object.values(TOPICS) as TopicDefinition[]) {
    if (definition.batch === undefined) continue;
    const codec = topicCodec(definition, registry);
    if (codec.batchSchema?.fullName === writer.fullName)
      return { schema: codec.item.schema, values: codec.decodeRecord(bytes), batched: true };
  }
  const { schema, value } = decodeAny(bytes, registry);
  return { schema, values: [value], batched: false };
}

/**
 * Values as the batch records a producer writes (tools, replays, benchmarks, tests): grouped by the
 * partition their keys hash to among `partitions`, order kept within each.
 */
export function batchRecordsOf<T>(
  codec: TopicCodec<T>,
  values: readonly T[],
  partitions: number,
): Array<{ partition: number; value: Buffer }> {
  const byPartition = new Map<number, T[]>();
  for (const v of values) {
    const partition = partitionOfKey(codec.keyOf(v) ?? '', partitions);
    let list = byPartition.get(partition);
    if (list === undefined) {
      list = [];
      byPartition.set(partition, list);
    }
    list.push(v);
  }
  const out: Array<{ partition: number; value: Buffer }> = [];
  for (const [partition, list] of byPartition) {
    for (const value of codec.encodeBatches(list)) out.push({ partition, value });
  }
  return out;
}
