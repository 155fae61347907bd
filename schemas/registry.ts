/**
 * The schemas this build knows: every `.avsc` in schemas/ (the current version of each record) and in
 * schemas/history/ (earlier versions, kept so records written by older collectors still decode).
 *
 * A current schema may name a type another current file defines (the batch records of the hot topics
 * name their items: `"items": "dev.meshpipe.v1.Span"`); files are loaded in the order that needs. A
 * history file must be self-contained (what `type.schema()` prints), so that it keeps meaning the
 * version it was written with when the current files move on.
 *
 * Schema ids. Without a Schema Registry a schema's id is its fingerprint (avro-types.ts schemaIdOf): every
 * build computes the same one, nothing to look up. With one (`kafka.schemaRegistry.url`,
 * schema-registry-connection.ts), each schema takes the id the registry assigned to it: that is what
 * records are written with, so any Confluent-compatible consumer can look it up. Ids are known in both
 * directions: records written earlier with fingerprint ids still decode, and ids this process has not
 * seen are fetched from the registry before a batch is decoded (`resolveIds`), then cached.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERRORS, MeshpipeError } from '../lib/errors.ts';
import { type AvroSchema, type AvroType, avroType, namedTypesOf, schemaIdOf } from './avro-types.ts';

export const SCHEMAS_DIR = dirname(fileURLToPath(import.meta.url));

export interface RegisteredSchema {
  /**
   * The id records are written with: the fingerprint, or the Schema Registry's id for this schema once
   * a registry is attached. One object per schema, updated in place, so every codec and encoder that
   * holds it writes the registry's id without knowing about registries.
   */
  id: number;
  /** The schema's own identity (schemaIdOf): the same in every build that has the schema. */
  readonly fingerprint: number;
  /** Full record name, e.g. dev.meshpipe.v1.Span. */
  fullName: string;
  /** File name without extension, e.g. `span` (current versions only). */
  file: string;
  type: AvroType;
  /** True for the current version of the record (a top-level schemas/*.avsc file). */
  current: boolean;
}

/** Where ids this process does not know are looked up (a Schema Registry), see resolveIds. */
export interface SchemaSource {
  /** For messages: where the ids come from, e.g. the registry's URL. */
  readonly name: string;
  /** The schema registered under `id`, or undefined when the source does not have it. */
  schemaById(id: number): Promise<AvroSchema | undefined>;
}

/** How long an id the source did not have is not asked for again. */
const ABSENT_TTL_MS = 60_000;

export class SchemaRegistry {
  readonly #byId = new Map<number, RegisteredSchema>();
  readonly #byFingerprint = new Map<number, RegisteredSchema>();
  readonly #currentByName = new Map<string, RegisteredSchema>();
  readonly #currentByFile = new Map<string, RegisteredSchema>();
  /** Named types of the current schemas, which other current schemas may reference by name. */
  readonly #named = new Map<string, AvroType>();
  #source: SchemaSource | undefined;
  readonly #pending = new Map<number, Promise<void>>();
  readonly #absentUntil = new Map<number, number>();

  /**
   * Adds a schema; returns its registration (idempotent: the same object for the same schema). A current
   * schema, or one registered with `references`, may name the types of the current schemas.
   */
  register(
    schema: AvroSchema,
    options: { file?: string; current?: boolean; references?: boolean } = {},
  ): RegisteredSchema {
    const named = options.current === true || options.references === true ? this.#named : undefined;
    const type = avroType(schema, named);
    const fingerprint = schemaIdOf(type);
    let entry = this.#byFingerprint.get(fingerprint);
    if (entry === undefined) {
      const fullName = type.name ?? String((schema as { name?: string }).name);
      entry = {
        id: fingerprint,
        fingerprint,
        fullName,
        file: options.file ?? fullName,
        type,
        current: options.current ?? false,
      };
      this.#byFingerprint.set(fingerprint, entry);
      this.#byId.set(fingerprint, entry);
    } else {
      if (options.file !== undefined) entry.file = options.file;
      if (options.current !== undefined) entry.current = options.current;
    }
    if (entry.current) {
      this.#currentByName.set(entry.fullName, entry);
      this.#currentByFile.set(entry.file, entry);
      for (const [name, named] of namedTypesOf(entry.type))
        if (!this.#named.has(name)) this.#named.set(name, named);
    }
    return entry;
  }

  /**
   * Records that a Schema Registry knows `schema` as `id`. With `write`, records are written with that
   * id from now on (the schema was registered for a topic); without, it is only read.
   */
  useId(schema: RegisteredSchema, id: number, options: { write: boolean }): void {
    this.#byId.set(id, schema);
    if (options.write) schema.id = id;
  }

  byId(id: number): RegisteredSchema {
    const entry = this.#byId.get(id);
    if (entry === undefined) {
      const source = this.#source;
      throw new MeshpipeError(
        ERRORS.SCHEMA_UNKNOWN_ID,
        [id],
        source === undefined
          ? {}
          : {
              hint: `the Schema Registry (${source.name}) does not have it either: the record was written against another registry, or is not a meshpipe record`,
            },
      );
    }
    return entry;
  }

  has(id: number): boolean {
    return this.#byId.has(id);
  }

  /** The current version of a record, by file name (`span`) or full name (`dev.meshpipe.v1.Span`). */
  current(name: string): RegisteredSchema {
    const entry = this.#currentByFile.get(name) ?? this.#currentByName.get(name);
    if (entry === undefined) throw new Error(`no current schema named ${name}`);
    return entry;
  }

  /** Every schema, once each. */
  all(): RegisteredSchema[] {
    return [...this.#byFingerprint.values()];
  }

  /** Looks up ids this process does not know in `source` (resolveIds). */
  attachSource(source: SchemaSource): void {
    this.#source = source;
  }

  /**
   * Makes the schema ids of these wire-format records (Kafka messages) known before they are decoded: ids missing here
   * are fetched from the attached Schema Registry, once each (decoding is synchronous, so this is the
   * one asynchronous step, per batch). Without a registry, or when every id is known, it costs one map
   * lookup per value. Ids the registry does not have are left unknown (decoding reports
   * SCHEMA_UNKNOWN_ID, and the record is dead-lettered like any undecodable one); a registry that
   * cannot be reached throws SCHEMA_REGISTRY_UNAVAILABLE, so the batch is retried, not dead-lettered.
   */
  async resolveIds(records: Iterable<{ readonly value: Uint8Array | null }>): Promise<void> {
    if (this.#source === undefined) return;
    let missing: number[] | undefined;
    for (const { value } of records) {
      if (value === null || value.length < 5 || value[0] !== 0) continue;
      const id = ((value[1]! << 24) | (value[2]! << 16) | (value[3]! << 8) | value[4]!) >>> 0;
      if (this.#byId.has(id)) continue;
      missing ??= [];
      missing.push(id);
    }
    // #fetch asks once per id, however often it appears.
    if (missing !== undefined) await Promise.all(missing.map((id) => this.#fetch(id)));
  }

  #fetch(id: number): Promise<void> {
    const absentUntil = this.#absentUntil.get(id);
    if (absentUntil !== undefined && absentUntil > Date.now()) return Promise.resolve();
    let pending = this.#pending.get(id);
    if (pending === undefined) {
      const source = this.#source!;
      pending = source
        .schemaById(id)
        .then((schema) => {
          let entry: RegisteredSchema | undefined;
          try {
            entry = schema === undefined ? undefined : this.register(schema);
          } catch {
            // Not an Avro schema this build can use (another format, references): the records
            // cannot be decoded here either way, and are dead-lettered as SCHEMA_UNKNOWN_ID.
            entry = undefined;
          }
          if (entry === undefined) this.#absentUntil.set(id, Date.now() + ABSENT_TTL_MS);
          else this.useId(entry, id, { write: false });
        })
        .finally(() => this.#pending.delete(id));
      this.#pending.set(id, pending);
    }
    return pending;
  }
}

function avscFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names.sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...avscFiles(path));
    else if (name.endsWith('.avsc')) out.push(path);
  }
  return out;
}

/** Loads schemas/*.avsc (current) and schemas/history/**\/*.avsc (earlier versions). */
export function loadSchemaRegistry(dir = SCHEMAS_DIR): SchemaRegistry {
  const registry = new SchemaRegistry();
  for (const path of avscFiles(join(dir, 'history'))) {
    registry.register(JSON.parse(readFileSync(path, 'utf8')) as AvroSchema, { current: false });
  }
  // Current files in name order, each after the files whose types it names: a file that names a type not
  // defined yet waits for the next round.
  let pending = readdirSync(dir)
    .filter((name) => name.endsWith('.avsc'))
    .sort();
  while (pending.length > 0) {
    const waiting: string[] = [];
    let lastError: unknown;
    for (const name of pending) {
      const schema = JSON.parse(readFileSync(join(dir, name), 'utf8')) as AvroSchema;
      try {
        registry.register(schema, { file: basename(name, '.avsc'), current: true });
      } catch (err) {
        if (!/undefined type name/.test((err as Error).message))
          throw new Error(`${name}: ${(err as Error).message}`);
        waiting.push(name);
        lastError = err;
      }
    }
    if (waiting.length === pending.length)
      throw new Error(`${waiting.join(', ')}: ${(lastError as Error).message}`);
    pending = waiting;
  }
  return registry;
}

let shared: SchemaRegistry | undefined;

/** The process-wide registry of this build's schemas (loaded once). */
export function schemaRegistry(): SchemaRegistry {
  shared ??= loadSchemaRegistry();
  return shared;
}
