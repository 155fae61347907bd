/**
 * Which sinks exist: the built-in ones, by name, and any module a user points at by path — the same
 * contract either way (sinks/runtime/definition.ts). Both are checked before anything runs, so a broken
 * definition is an error naming the field, and a sink's section of meshpipe.json is validated by that
 * sink's own spec here, with errors naming the full key (`sinks.otlp.endpoint`).
 *
 * Adding a built-in sink: create sinks/<name>/sink.ts whose default export is
 * `defineSink({ name: '<name>', ... })`, and add the name to BUILTIN_SINKS (builtin-sinks.ts).
 * `meshpipe sink <name>` (with the flags it declares), its `up` component, its config section and its
 * documentation follow from it.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { deepMerge, envOverriddenBy } from '../lib/config/load.ts';
import type { MeshpipeConfig } from '../lib/config/meshpipe-config.ts';
import { type Fields, type InferFields, ObjectSpec } from '../lib/config/spec.ts';
import { ERRORS, errorMessage, MeshpipeError } from '../lib/errors.ts';
import { moduleFile } from '../lib/module-file.ts';
import { TOPICS } from '../schemas/topics.ts';
import { BUILTIN_SINKS, checkSinkSections } from './builtin-sinks.ts';
import {
  type AnySinkDefinition,
  type SinkDefinition,
  type SinkHostConfig,
  sinkHostFields,
} from './runtime/definition.ts';

export { BUILTIN_SINKS };

/** Sub-commands of `meshpipe sink`, which no sink can be named. */
export const RESERVED_SINK_NAMES: readonly string[] = ['new'];

export const SINK_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

export interface LoadedSink {
  definition: AnySinkDefinition;
  /** Absolute path of the module. */
  module: string;
  builtin: boolean;
}

export function builtinSinkModule(name: string): string {
  return moduleFile(`./${name}/sink.ts`, import.meta.url);
}

/** `./sinks/x/sink.ts`, `/abs/x.ts`, `x.ts`: a path; `otlp`: a name. */
export function isSinkPath(target: string): boolean {
  return /[/\\]/.test(target) || /\.(ts|mts|js|mjs)$/.test(target);
}

/** Loads a built-in sink by name, or a user sink by path (relative to `cwd`). */
export async function loadSink(target: string, cwd: string = process.cwd()): Promise<LoadedSink> {
  if (isSinkPath(target)) {
    const module = isAbsolute(target) ? target : resolve(cwd, target);
    if (!existsSync(module)) {
      throw new MeshpipeError(ERRORS.SINK_NOT_FOUND, [target, `${module} does not exist`]);
    }
    return { definition: await importDefinition(module), module, builtin: false };
  }
  if (!BUILTIN_SINKS.includes(target)) {
    throw new MeshpipeError(ERRORS.SINK_NOT_FOUND, [
      target,
      `the built-in sinks are ${BUILTIN_SINKS.join(', ')}`,
    ]);
  }
  const module = builtinSinkModule(target);
  const definition = await importDefinition(module);
  if (definition.name !== target) {
    throw new MeshpipeError(ERRORS.SINK_INVALID_DEFINITION, [
      module,
      `the built-in "${target}" must be named "${target}", not "${definition.name}"`,
    ]);
  }
  return { definition, module, builtin: true };
}

/** Every built-in sink, loaded and validated. */
export async function loadBuiltinSinks(): Promise<LoadedSink[]> {
  const loaded: LoadedSink[] = [];
  for (const name of BUILTIN_SINKS) loaded.push(await loadSink(name));
  return loaded;
}

async function importDefinition(module: string): Promise<AnySinkDefinition> {
  let exported: unknown;
  try {
    exported = ((await import(pathToFileURL(module).href)) as { default?: unknown }).default;
  } catch (err) {
    throw new MeshpipeError(ERRORS.SINK_LOAD_FAILED, [module, errorMessage(err)], { cause: err });
  }
  return validateSinkDefinition(exported, module);
}

/** The keys every sink section carries for the host (sinkHostFields()). */
const HOST_KEYS = Object.keys(sinkHostFields());

/** Checks the shape of a definition; throws SINK_INVALID_DEFINITION naming the first problem. */
export function validateSinkDefinition(value: unknown, where: string): AnySinkDefinition {
  const fail = (why: string): never => {
    throw new MeshpipeError(ERRORS.SINK_INVALID_DEFINITION, [where, why]);
  };
  if (value === null || typeof value !== 'object')
    return fail('the default export must be defineSink({...})');
  const d = value as Partial<Record<keyof AnySinkDefinition, unknown>>;
  if (typeof d.name !== 'string' || !SINK_NAME.test(d.name)) {
    fail(`name must be kebab-case (e.g. "clickhouse"), got ${JSON.stringify(d.name)}`);
  }
  if (RESERVED_SINK_NAMES.includes(d.name as string))
    fail(`"${d.name}" is reserved (meshpipe sink ${d.name})`);
  if (typeof d.description !== 'string' || d.description.trim() === '')
    fail('description must be a sentence');
  if (typeof d.input === 'string') {
    if (!Object.hasOwn(TOPICS, d.input)) {
      fail(`input "${d.input}" is not a meshpipe topic (${Object.keys(TOPICS).join(', ')})`);
    }
  } else {
    const topic = d.input as { suffix?: unknown; schema?: unknown } | null | undefined;
    if (typeof topic !== 'object' || topic === null || typeof topic.suffix !== 'string') {
      fail('input must be a meshpipe topic (e.g. "spans") or a TopicDefinition');
    }
  }
  if (!(d.config instanceof ObjectSpec)) {
    fail('config must be a spec made with s.object({ ...sinkHostFields(), ... }, { doc })');
  }
  const fields = (d.config as ObjectSpec<Fields>).fields;
  const missing = HOST_KEYS.filter((key) => !Object.hasOwn(fields, key));
  if (missing.length > 0) {
    fail(
      `config must include the host's keys: spread sinkHostFields() into it (missing ${missing.join(', ')})`,
    );
  }
  if (typeof d.prepare !== 'function')
    fail('prepare must be a function (record, ctx) => what the exporter takes');
  if (typeof d.createExporter !== 'function') fail('createExporter must be a function (ctx) => Exporter');
  if (d.unit !== undefined && typeof d.unit !== 'string') fail('unit must be a word, e.g. "spans"');
  if (d.runInUp !== undefined && typeof d.runInUp !== 'function')
    fail('runInUp must be a function (config) => boolean');
  if (d.needs !== undefined && (!Array.isArray(d.needs) || d.needs.some((n) => n !== 'redis'))) {
    fail('needs must be a list of shared services: ["redis"]');
  }
  if (d.flags !== undefined) {
    if (d.flags === null || typeof d.flags !== 'object')
      fail('flags must be an object: { <flag>: { key, doc } }');
    for (const [flag, spec] of Object.entries(d.flags as Record<string, unknown>)) {
      const f = spec as { key?: unknown; doc?: unknown } | null;
      if (!SINK_NAME.test(flag)) fail(`flag "${flag}" must be kebab-case`);
      if (typeof f?.key !== 'string' || typeof f.doc !== 'string') {
        fail(`flag "${flag}" must be { key: '<key in the section>', doc: '...' }`);
      }
      if (specAt(fields, f!.key as string) === undefined) {
        fail(`flag "${flag}" sets "${f!.key}", which is not a key of the config spec`);
      }
    }
  }
  return value as AnySinkDefinition;
}

function specAt(fields: Fields, dotted: string): unknown {
  let node: unknown = { fields };
  for (const part of dotted.split('.')) {
    node = (node as { fields?: Record<string, unknown> }).fields?.[part];
    if (node === undefined) return undefined;
  }
  return node;
}

/** `{ 'tls.ca': v }` → `{ tls: { ca: v } }`. */
function nest(key: string, value: unknown): Record<string, unknown> {
  return key
    .split('.')
    .reverse()
    .reduce<unknown>((inner, part) => ({ [part]: inner }), value) as Record<string, unknown>;
}

/** Flag values (`--endpoint x`) as a partial section of the sink (`{ endpoint: 'x' }`). */
export function sinkFlagOverrides(
  definition: AnySinkDefinition,
  values: Record<string, unknown>,
): Record<string, unknown> {
  let out: Record<string, unknown> = {};
  for (const [flag, spec] of Object.entries(definition.flags ?? {})) {
    if (typeof values[flag] === 'string') out = deepMerge(out, nest(spec.key, values[flag])) as typeof out;
  }
  return out;
}

/** The validated section of a sink: typed for a built-in, the host's keys and unknowns for any other. */
export type SinkConfigOf<D> =
  D extends SinkDefinition<infer F, infer _I, infer _T> ? InferFields<F> : SinkHostConfig;

export interface ResolveSinkOptions {
  /** Where environment variables are read (default process.env). */
  env?: Record<string, string | undefined>;
  /** From flags: a partial section that wins over the file and the environment. */
  overrides?: Record<string, unknown>;
}

/**
 * Validates `sinks.<definition.name>` of the loaded configuration with the sink's own spec (and its
 * environment variables). Throws CONFIG_UNKNOWN_KEY or CONFIG_INVALID_VALUE naming the full dotted key,
 * or CONFIG_SECTION_MISSPELLED for another sink's section named a typo of a built-in's (builtin-sinks.ts).
 */
export function resolveSinkConfig<D extends AnySinkDefinition>(
  definition: D,
  config: Pick<MeshpipeConfig, 'sinks'>,
  options: ResolveSinkOptions = {},
): SinkConfigOf<D> {
  checkSinkSections(config, [definition.name]);
  const overrides = options.overrides ?? {};
  const section = deepMerge(config.sinks[definition.name] ?? {}, overrides);
  const env = envOverriddenBy(definition.config, overrides, options.env ?? process.env);
  return definition.config.parseWithEnv(section, `sinks.${definition.name}`, env) as SinkConfigOf<D>;
}
