/**
 * A small config-spec language: one declaration gives the TypeScript type, the defaults, the validation
 * (errors name the dotted key and say how to fix it) and the documentation (`meshpipe config`).
 *
 * The same specs describe meshpipe's own configuration and every processor's config schema, so a user
 * who writes a processor declares its options exactly like the built-in ones (Redpanda Connect style).
 */
import { ERRORS, MeshpipeError } from '../errors.ts';
import { closest } from './edit-distance.ts';

export interface SpecBase<T> {
  readonly kind: string;
  readonly doc: string;
  /** Environment variable that overrides the value (documented, parsed like the field). */
  readonly env?: string;
  /**
   * Standard variables also read, after `env`, first set wins (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
   * then OTEL_EXPORTER_OTLP_ENDPOINT): tools' own conventions map onto meshpipe's keys.
   */
  readonly envAliases?: readonly string[];
  /** Phantom field carrying the value type. */
  readonly _type?: T;
  readonly default: T;
  /** How the documentation shows a default that depends on the machine (e.g. the host name). */
  readonly defaultDoc?: string;
  /** The allowed values of an enum (or of a list's items), for the documentation. */
  readonly values?: readonly string[];
  /** The spec of a list's items or a record's values, for the documentation. */
  readonly element?: SpecBase<unknown>;
  /** Parses a JSON value (or a string from the environment) into T, or returns an error text. */
  parse(value: unknown, key: string, fromEnv: boolean): T;
}

export type Infer<S> = S extends SpecBase<infer T> ? T : never;
export type Fields = Record<string, SpecBase<unknown>>;
export type InferFields<F extends Fields> = { [K in keyof F]: Infer<F[K]> };

interface Common<T> {
  doc: string;
  default: T;
  /** How the documentation shows a default that depends on the machine (e.g. the host name). */
  defaultDoc?: string;
  env?: string;
  envAliases?: readonly string[];
  /** Extra validation: return an error text for a bad value. */
  check?: (value: T) => string | undefined;
}

export function invalid(key: string, why: string): MeshpipeError {
  return new MeshpipeError(ERRORS.CONFIG_INVALID_VALUE, [key, why]);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

class ParseFailure {
  readonly why: string;
  constructor(why: string) {
    this.why = why;
  }
}

/** A scalar field: `parseValue` returns the value or a ParseFailure saying what was expected. */
function leaf<T>(
  kind: string,
  options: Common<T>,
  parseValue: (v: unknown, fromEnv: boolean) => T | ParseFailure,
): SpecBase<T> {
  return {
    kind,
    doc: options.doc,
    default: options.default,
    ...(options.defaultDoc === undefined ? {} : { defaultDoc: options.defaultDoc }),
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.envAliases === undefined ? {} : { envAliases: options.envAliases }),
    parse(value, key, fromEnv) {
      const parsed = parseValue(value, fromEnv);
      if (parsed instanceof ParseFailure) throw invalid(key, parsed.why);
      const problem = options.check?.(parsed);
      if (problem !== undefined) throw invalid(key, problem);
      return parsed;
    },
  };
}

const fail = (why: string) => new ParseFailure(why);

export const s = {
  string(options: Common<string>): SpecBase<string> {
    return leaf('string', options, (v) =>
      typeof v === 'string' ? v : fail(`expected a string, got ${describe(v)}`),
    );
  },

  optionalString(
    options: Omit<Common<string | null>, 'default'> & { default?: string | null },
  ): SpecBase<string | null> {
    return leaf('string?', { ...options, default: options.default ?? null }, (v) => {
      if (v === null || v === undefined || v === '') return null;
      return typeof v === 'string' ? v : fail(`expected a string, got ${describe(v)}`);
    });
  },

  enumOf<const V extends string>(values: readonly V[], options: Common<V>): SpecBase<V> {
    const spec = leaf('enum', options, (v) =>
      typeof v === 'string' && (values as readonly string[]).includes(v)
        ? (v as V)
        : fail(`expected one of ${values.map((x) => JSON.stringify(x)).join(', ')}, got ${describe(v)}`),
    );
    return { ...spec, values };
  },

  int(options: Common<number> & { min?: number; max?: number }): SpecBase<number> {
    return leaf('int', options, (v, fromEnv) => {
      const n = fromEnv && typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isSafeInteger(n))
        return fail(`expected an integer, got ${describe(v)}`);
      if (options.min !== undefined && n < options.min)
        return fail(`must be at least ${options.min}, got ${n}`);
      if (options.max !== undefined && n > options.max)
        return fail(`must be at most ${options.max}, got ${n}`);
      return n;
    });
  },

  number(options: Common<number> & { min?: number; max?: number }): SpecBase<number> {
    return leaf('number', options, (v, fromEnv) => {
      const n = fromEnv && typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isFinite(n)) return fail(`expected a number, got ${describe(v)}`);
      if (options.min !== undefined && n < options.min)
        return fail(`must be at least ${options.min}, got ${n}`);
      if (options.max !== undefined && n > options.max)
        return fail(`must be at most ${options.max}, got ${n}`);
      return n;
    });
  },

  boolean(options: Common<boolean>): SpecBase<boolean> {
    return leaf('boolean', options, (v, fromEnv) => {
      if (typeof v === 'boolean') return v;
      if (fromEnv && typeof v === 'string') {
        const t = v.trim().toLowerCase();
        if (['1', 'true', 'yes', 'on'].includes(t)) return true;
        if (['0', 'false', 'no', 'off'].includes(t)) return false;
      }
      return fail(`expected true or false, got ${describe(v)}`);
    });
  },

  /** A list; from the environment it is comma-separated. */
  list<T>(item: SpecBase<T>, options: Common<T[]>): SpecBase<T[]> {
    return {
      kind: `list<${item.kind}>`,
      doc: options.doc,
      default: options.default,
      ...(item.values === undefined ? {} : { values: item.values }),
      element: item,
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.envAliases === undefined ? {} : { envAliases: options.envAliases }),
      parse(value, key, fromEnv) {
        let items: unknown[];
        if (fromEnv && typeof value === 'string') {
          items = value
            .split(',')
            .map((x) => x.trim())
            .filter((x) => x !== '');
        } else if (Array.isArray(value)) {
          items = value;
        } else {
          throw invalid(key, `expected a list, got ${describe(value)}`);
        }
        const parsed = items.map((x, i) => item.parse(x, `${key}[${i}]`, fromEnv));
        const problem = options.check?.(parsed);
        if (problem !== undefined) throw invalid(key, problem);
        return parsed;
      },
    };
  },

  /** A map from free-form names to values of one spec (e.g. per-service objectives). */
  record<T>(
    value: SpecBase<T>,
    options: Omit<Common<Record<string, T>>, 'env'>,
  ): SpecBase<Record<string, T>> {
    return {
      kind: `record<${value.kind}>`,
      doc: options.doc,
      default: options.default,
      element: value,
      parse(input, key) {
        if (input === null || typeof input !== 'object' || Array.isArray(input)) {
          throw invalid(key, `expected an object, got ${describe(input)}`);
        }
        const out: Record<string, T> = {};
        for (const [name, v] of Object.entries(input)) out[name] = value.parse(v, `${key}.${name}`, false);
        const problem = options.check?.(out);
        if (problem !== undefined) throw invalid(key, problem);
        return out;
      },
    };
  },

  /**
   * A section with known keys: unknown keys are errors that name the key and suggest the closest one.
   * `finish` sees the parsed section and which environment variable set each field, for rules that
   * span fields (throw `invalid(...)` to refuse a combination).
   */
  object<F extends Fields>(
    fields: F,
    options: { doc: string; finish?: FinishSection<InferFields<F>> },
  ): ObjectSpec<F> {
    return new ObjectSpec(fields, options.doc, options.finish);
  },
};

/** Field name → the environment variable its value came from, for the fields the environment set. */
export type EnvSources = Readonly<Record<string, string>>;
export type FinishSection<T> = (value: T, key: string, sources: EnvSources) => T;

export class ObjectSpec<F extends Fields> implements SpecBase<InferFields<F>> {
  readonly kind = 'object';
  readonly fields: F;
  readonly doc: string;
  readonly #finish: FinishSection<InferFields<F>> | undefined;

  constructor(fields: F, doc: string, finish?: FinishSection<InferFields<F>>) {
    this.fields = fields;
    this.doc = doc;
    this.#finish = finish;
  }

  get default(): InferFields<F> {
    const out: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(this.fields)) out[name] = field.default;
    return out as InferFields<F>;
  }

  parse(value: unknown, key: string): InferFields<F> {
    return this.parseWithEnv(value, key, {});
  }

  /**
   * Parses `value` (from a config file) and applies environment overrides. `key` is the dotted path of
   * this section ('' at the top).
   */
  parseWithEnv(value: unknown, key: string, env: Record<string, string | undefined>): InferFields<F> {
    const input = value ?? {};
    if (typeof input !== 'object' || Array.isArray(input)) {
      throw invalid(key === '' ? '(top level)' : key, `expected an object, got ${describe(input)}`);
    }
    const known = Object.keys(this.fields);
    for (const name of Object.keys(input)) {
      if (!known.includes(name)) {
        const full = key === '' ? name : `${key}.${name}`;
        const near = closest(name, known, Math.max(2, Math.floor(name.length / 3)));
        throw new MeshpipeError(ERRORS.CONFIG_UNKNOWN_KEY, [
          full,
          near === undefined ? '' : `; did you mean "${key === '' ? near : `${key}.${near}`}"?`,
        ]);
      }
    }
    const out: Record<string, unknown> = {};
    const sources: Record<string, string> = {};
    for (const [name, field] of Object.entries(this.fields)) {
      const full = key === '' ? name : `${key}.${name}`;
      const fromFile = (input as Record<string, unknown>)[name];
      if (field instanceof ObjectSpec) {
        out[name] = field.parseWithEnv(fromFile, full, env);
        continue;
      }
      const envName = [field.env, ...(field.envAliases ?? [])].find(
        (n) => n !== undefined && env[n] !== undefined && env[n] !== '',
      );
      if (envName !== undefined) {
        out[name] = field.parse(env[envName], `${full} (from ${envName})`, true);
        sources[name] = envName;
      } else if (fromFile !== undefined) {
        out[name] = field.parse(fromFile, full, false);
      } else {
        out[name] = field.default;
      }
    }
    const parsed = out as InferFields<F>;
    return this.#finish === undefined ? parsed : this.#finish(parsed, key, sources);
  }
}

export interface DocRow {
  key: string;
  kind: string;
  default: unknown;
  /** Set when the default depends on the machine: what to show instead of it. */
  defaultDoc?: string;
  /** The allowed values, for enums and lists of them. */
  values?: readonly string[];
  env?: string;
  /** Standard variables also read, after `env` (OTEL_EXPORTER_OTLP_...). */
  envAliases?: readonly string[];
  doc: string;
}

/**
 * Flattens a spec into documentation rows (dotted keys). The fields of objects inside lists and records
 * follow their row: `sinks.alerts.receivers[].url`, `...slo.objectives.<name>.availability`.
 */
export function documentSpec(spec: ObjectSpec<Fields>, prefix = ''): DocRow[] {
  const rows: DocRow[] = [];
  for (const [name, field] of Object.entries(spec.fields)) {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    if (field instanceof ObjectSpec) {
      rows.push(...documentSpec(field, key));
    } else {
      rows.push({
        key,
        kind: field.kind,
        default: field.default,
        ...(field.defaultDoc === undefined ? {} : { defaultDoc: field.defaultDoc }),
        ...(field.values === undefined ? {} : { values: field.values }),
        ...(field.env === undefined ? {} : { env: field.env }),
        ...(field.envAliases === undefined ? {} : { envAliases: field.envAliases }),
        doc: field.doc,
      });
      if (field.element instanceof ObjectSpec)
        rows.push(
          ...documentSpec(field.element, field.kind.startsWith('list') ? `${key}[]` : `${key}.<name>`),
        );
    }
  }
  return rows;
}
