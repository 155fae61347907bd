/**
 * The schemas this build knows: every `.avsc` in schemas/ (the current version of each record) and in
 * schemas/history/ (earlier versions, kept so records written by older collectors still decode).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERRORS, MeshpipeError } from '../lib/errors.ts';
import { type AvroSchema, type AvroType, avroType, schemaIdOf } from './avro-types.ts';

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

  /** Adds a schema; returns its registration (idempotent for the same schema). */
  register(schema: AvroSchema, options: { file?: string; current?: boolean } = {}): RegisteredSchema {
    const type = avroType(schema);
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
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.avsc')) continue;
    const schema = JSON.parse(readFileSync(join(dir, name), 'utf8')) as AvroSchema;
    registry.register(schema, { file: basename(name, '.avsc'), current: true });
  }
  return registry;
}

let shared: SchemaRegistry | undefined;

/** The process-wide registry of this build's schemas (loaded once). */
export function schemaRegistry(): SchemaRegistry {
  shared ??= loadSchemaRegistry();
  return shared;
}
