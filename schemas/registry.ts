/**
 * The schemas this build knows: every `.avsc` in schemas/ (the current version of each record) and in
 * schemas/history/ (earlier versions, kept so records written by older collectors still decode).
 *
 * A current schema may name a type another current file defines (the batch records of the hot topics
 * name their items: `"items": "dev.meshpipe.v1.Span"`); files are loaded in the order that needs. A
 * history file must be self-contained (what `type.schema()` prints), so that it keeps meaning the
 * version it was written with when the current files move on.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERRORS, MeshpipeError } from '../lib/errors.ts';
import { type AvroSchema, type AvroType, avroType, namedTypesOf, schemaIdOf } from './avro-types.ts';

export const SCHEMAS_DIR = dirname(fileURLToPath(import.meta.url));

export interface RegisteredSchema {
  /** Schema id used in the wire format. */
  id: number;
  /** Full record name, e.g. dev.meshpipe.v1.Span. */
  fullName: string;
  /** File name without extension, e.g. `span` (current versions only). */
  file: string;
  type: AvroType;
  /** True for the current version of the record (a top-level schemas/*.avsc file). */
  current: boolean;
}

export class SchemaRegistry {
  readonly #byId = new Map<number, RegisteredSchema>();
  readonly #currentByName = new Map<string, RegisteredSchema>();
  readonly #currentByFile = new Map<string, RegisteredSchema>();
  /** Named types of the current schemas, which other current schemas may reference by name. */
  readonly #named = new Map<string, AvroType>();

  /**
   * Adds a schema; returns its registration (idempotent for the same schema). A current schema, or one
   * registered with `references`, may name the types of the current schemas.
   */
  register(
    schema: AvroSchema,
    options: { file?: string; current?: boolean; references?: boolean } = {},
  ): RegisteredSchema {
    const named = options.current === true || options.references === true ? this.#named : undefined;
    const type = avroType(schema, named);
    const id = schemaIdOf(type);
    const existing = this.#byId.get(id);
    const fullName = type.name ?? String((schema as { name?: string }).name);
    const entry: RegisteredSchema = {
      id,
      fullName,
      file: options.file ?? existing?.file ?? fullName,
      type: existing?.type ?? type,
      current: options.current ?? existing?.current ?? false,
    };
    this.#byId.set(id, entry);
    if (entry.current) {
      this.#currentByName.set(fullName, entry);
      this.#currentByFile.set(entry.file, entry);
      for (const [name, named] of namedTypesOf(entry.type))
        if (!this.#named.has(name)) this.#named.set(name, named);
    }
    return entry;
  }

  byId(id: number): RegisteredSchema {
    const entry = this.#byId.get(id);
    if (entry === undefined) throw new MeshpipeError(ERRORS.SCHEMA_UNKNOWN_ID, [id]);
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

  all(): RegisteredSchema[] {
    return [...this.#byId.values()];
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
