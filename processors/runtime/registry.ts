/**
 * Which processors exist: the built-in ones, by name, and any module a user points at by path. Both are
 * checked the same way before anything runs, so a broken definition is an error naming the field, not a
 * crash halfway through a rebalance.
 *
 * Adding a built-in processor: create processors/<name>/index.ts whose default export is
 * `defineProcessor({ name: '<name>', ... })`, and add the name to BUILTIN_PROCESSORS
 * (builtin-processors.ts). `meshpipe up` then runs it (unless `processors.<name>.enabled` is false) and
 * `meshpipe processor list` shows it.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ERRORS, errorMessage, MeshpipeError } from '../../lib/errors.ts';
import { moduleFile } from '../../lib/module-file.ts';
import { BUILTIN_PROCESSORS } from './builtin-processors.ts';
import { HOST_KEYS } from './config.ts';
import type { AnyProcessorDefinition } from './definition.ts';
import { storeNamesOf } from './partition-stores.ts';
import { ProcessorTopics } from './processor-topics.ts';

export { BUILTIN_PROCESSORS };

const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

export interface LoadedProcessor {
  definition: AnyProcessorDefinition;
  /** Absolute path of the module. */
  module: string;
  builtin: boolean;
}

export function builtinModulePath(name: string): string {
  return moduleFile(`../${name}/index.ts`, import.meta.url);
}

/** Built-in processors whose module is present. */
export function builtinProcessorNames(): string[] {
  return BUILTIN_PROCESSORS.filter((name) => existsSync(builtinModulePath(name)));
}

/** `./processors/x/index.ts`, `/abs/x.ts`, `x.ts`: a path; `span-assembler`: a name. */
export function isProcessorPath(target: string): boolean {
  return /[/\\]/.test(target) || /\.(ts|mts|js|mjs)$/.test(target);
}

/** Loads a built-in processor by name, or a user processor by path (relative to `cwd`). */
export async function loadProcessor(target: string, cwd: string = process.cwd()): Promise<LoadedProcessor> {
  if (isProcessorPath(target)) {
    const module = isAbsolute(target) ? target : resolve(cwd, target);
    if (!existsSync(module)) {
      throw new MeshpipeError(ERRORS.PROCESSOR_NOT_FOUND, [target, `${module} does not exist`]);
    }
    return { definition: await importDefinition(module), module, builtin: false };
  }
  const known = builtinProcessorNames();
  if (!known.includes(target)) {
    throw new MeshpipeError(ERRORS.PROCESSOR_NOT_FOUND, [
      target,
      known.length > 0
        ? `the built-in processors are ${known.join(', ')}`
        : 'no built-in processor is installed',
    ]);
  }
  const module = builtinModulePath(target);
  const definition = await importDefinition(module);
  if (definition.name !== target) {
    throw new MeshpipeError(ERRORS.PROCESSOR_INVALID_DEFINITION, [
      module,
      `the built-in "${target}" must be named "${target}", not "${definition.name}"`,
    ]);
  }
  return { definition, module, builtin: true };
}

async function importDefinition(module: string): Promise<AnyProcessorDefinition> {
  let exported: unknown;
  try {
    exported = ((await import(pathToFileURL(module).href)) as { default?: unknown }).default;
  } catch (err) {
    throw new MeshpipeError(ERRORS.PROCESSOR_LOAD_FAILED, [module, errorMessage(err)], { cause: err });
  }
  return validateDefinition(exported, module);
}

/** Checks the shape of a definition; throws PROCESSOR_INVALID_DEFINITION naming the first problem. */
export function validateDefinition(value: unknown, where: string): AnyProcessorDefinition {
  const fail = (why: string): never => {
    throw new MeshpipeError(ERRORS.PROCESSOR_INVALID_DEFINITION, [where, why]);
  };
  if (value === null || typeof value !== 'object') {
    return fail('the default export must be defineProcessor({...})');
  }
  const d = value as Partial<Record<keyof AnyProcessorDefinition, unknown>>;
  if (typeof d.name !== 'string' || !NAME.test(d.name)) {
    fail(`name must be kebab-case (e.g. "slow-requests"), got ${JSON.stringify(d.name)}`);
  }
  if (typeof d.description !== 'string' || d.description.trim() === '')
    fail('description must be a sentence');
  if (!Array.isArray(d.inputs) || d.inputs.length === 0) fail('inputs must list at least one topic');
  if (!Array.isArray(d.outputs)) fail('outputs must be a list of topics (possibly empty)');
  const config = d.config as { fields?: unknown; parseWithEnv?: unknown } | undefined;
  if (
    config === undefined ||
    typeof config.fields !== 'object' ||
    typeof config.parseWithEnv !== 'function'
  ) {
    fail('config must be a spec made with s.object({...}, { doc }) from lib/config/spec.ts');
  }
  for (const key of HOST_KEYS) {
    if (Object.hasOwn(config!.fields as object, key)) fail(`config key "${key}" is reserved for the host`);
  }
  if (typeof d.process !== 'function') fail('process must be a function (record, ctx) => void');
  if (d.punctuate !== undefined) {
    const p = d.punctuate as { intervalMs?: unknown; run?: unknown };
    if (!['number', 'function'].includes(typeof p.intervalMs) || typeof p.run !== 'function') {
      fail('punctuate must be { intervalMs: number | (config) => number, run(ctx) }');
    }
  }
  if (d.schemas !== undefined) {
    if (!Array.isArray(d.schemas) || d.schemas.some((x) => !(x instanceof URL) && typeof x !== 'string')) {
      fail('schemas must be a list of .avsc paths or URLs');
    }
  }
  if (d.stores !== undefined) {
    try {
      storeNamesOf(value as AnyProcessorDefinition);
    } catch (err) {
      fail(errorMessage(err).replace(/^invalid processor definition in [^:]+: /, ''));
    }
  }
  if (d.legacyState !== undefined && typeof d.legacyState !== 'function') {
    fail('legacyState must be a function (key, value bytes) => { store, key, value }');
  }
  if (d.startFrom !== undefined && d.startFrom !== 'earliest' && d.startFrom !== 'latest') {
    fail('startFrom must be "earliest" or "latest"');
  }
  if (d.enabledByDefault !== undefined && typeof d.enabledByDefault !== 'boolean') {
    fail('enabledByDefault must be true or false');
  }
  const definition = value as AnyProcessorDefinition;
  // Resolving the topics registers the processor's schemas and checks every topic reference.
  try {
    new ProcessorTopics(definition, 'meshpipe');
  } catch (err) {
    fail(errorMessage(err).replace(/^invalid processor definition in [^:]+: /, ''));
  }
  return definition;
}

/** Every installed built-in processor, loaded and validated. */
export async function loadBuiltinProcessors(): Promise<LoadedProcessor[]> {
  const loaded: LoadedProcessor[] = [];
  for (const name of builtinProcessorNames()) loaded.push(await loadProcessor(name));
  return loaded;
}
