import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ERRORS, MeshpipeError } from '../errors.ts';
import { type MeshpipeConfig, meshpipeConfigSpec } from './meshpipe-config.ts';
import type { SpecBase } from './spec.ts';

export interface LoadOptions {
  /** Explicit file (--config); otherwise MESHPIPE_CONFIG, otherwise ./meshpipe.json when present. */
  file?: string | undefined;
  env?: Record<string, string | undefined>;
  /** Values from command-line flags, as a partial config object: they win over file and environment. */
  overrides?: Record<string, unknown>;
  cwd?: string;
}

export interface LoadedConfig {
  config: MeshpipeConfig;
  /** The file that was read, if any. */
  file: string | undefined;
}

/** Defaults of a run laid under the file (a JSON object in the environment): `meshpipe up --demo` sets it. */
export const CONFIG_DEFAULTS_ENV = 'MESHPIPE_CONFIG_DEFAULTS';

/**
 * Loads and validates the configuration. Precedence: flags > environment > file > MESHPIPE_CONFIG_DEFAULTS
 * > the spec's defaults. Any problem throws a MeshpipeError naming the dotted key (CONFIG_UNKNOWN_KEY,
 * CONFIG_INVALID_VALUE...).
 */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  let file = options.file ?? env.MESHPIPE_CONFIG;
  if (file === undefined || file === '') {
    const local = resolve(cwd, 'meshpipe.json');
    file = existsSync(local) ? local : undefined;
  } else {
    file = resolve(cwd, file);
  }

  let fromFile: unknown = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new MeshpipeError(ERRORS.CONFIG_FILE_UNREADABLE, [file, (err as Error).message]);
    }
    try {
      fromFile = JSON.parse(text);
    } catch (err) {
      throw new MeshpipeError(ERRORS.CONFIG_FILE_INVALID_JSON, [file, (err as Error).message]);
    }
  }

  let defaults: unknown = {};
  const defaultsText = env[CONFIG_DEFAULTS_ENV];
  if (defaultsText !== undefined && defaultsText !== '') {
    try {
      defaults = JSON.parse(defaultsText);
    } catch (err) {
      throw new MeshpipeError(ERRORS.CONFIG_INVALID_VALUE, [
        `(${CONFIG_DEFAULTS_ENV})`,
        `not JSON: ${(err as Error).message}`,
      ]);
    }
    if (!isPlainObject(defaults))
      throw new MeshpipeError(ERRORS.CONFIG_INVALID_VALUE, [
        `(${CONFIG_DEFAULTS_ENV})`,
        'must be a JSON object',
      ]);
  }
  // A file that is not an object is reported by the spec below, naming the file's mistake.
  const base = isPlainObject(fromFile) ? deepMerge(defaults, fromFile) : fromFile;
  const merged = deepMerge(base, options.overrides ?? {});
  const effectiveEnv = envOverriddenBy(meshpipeConfigSpec, options.overrides ?? {}, env);
  const config = meshpipeConfigSpec.parseWithEnv(merged, '', effectiveEnv) as MeshpipeConfig;
  return { config, file };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `over` laid on `base`, objects merged key by key (lists and values replaced). */
export function deepMerge(base: unknown, over: Record<string, unknown>): unknown {
  if (!isPlainObject(base)) return base === undefined || base === null ? over : base;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k], v) : v;
  }
  return out;
}

function flattenKeys(obj: Record<string, unknown>, prefix = ''): string[] {
  const keys: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix === '' ? k : `${prefix}.${k}`;
    if (isPlainObject(v)) keys.push(...flattenKeys(v, key));
    else keys.push(key);
  }
  return keys;
}

/**
 * Flags win over the environment: `env` without the variables of the keys `overrides` sets, for parsing
 * `spec` (meshpipe's configuration, or a section parsed on its own such as `sinks.<name>`).
 */
export function envOverriddenBy(
  spec: SpecBase<unknown>,
  overrides: Record<string, unknown>,
  env: Record<string, string | undefined>,
): Record<string, string | undefined> {
  const effective = { ...env };
  for (const key of flattenKeys(overrides)) {
    for (const envName of envNamesOf(spec, key)) delete effective[envName];
  }
  return effective;
}

function envNamesOf(spec: SpecBase<unknown>, dotted: string): string[] {
  // biome-ignore lint/suspicious/noExplicitAny: walking a heterogeneous spec tree by name
  let node: any = spec;
  for (const part of dotted.split('.')) {
    node = node?.fields?.[part];
    if (node === undefined) return [];
  }
  return [node?.env, ...(node?.envAliases ?? [])].filter((n): n is string => typeof n === 'string');
}
