/**
 * What a `meshpipe` command is: a name, a one-line summary, its options (which are also its --help), and
 * an async run function that returns an exit code. One file per command under cli/commands/.
 */
import { parseArgs } from 'node:util';
import type { LoadedConfig } from '../lib/config/load.ts';
import { ERRORS, MeshpipeError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { Progress } from './stack/progress.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Shown in --help. */
  doc: string;
  /** Placeholder shown in --help for string options, e.g. `<n>`. */
  value?: string;
  default?: string | boolean;
}

export interface CommandContext {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** --json was given: print data as JSON on stdout (one document, or JSON lines for streams). */
  json: boolean;
  /**
   * Loads and validates configuration (file, environment, flags such as --brokers). `running` names the
   * sinks and processors this command runs: their sections are theirs whatever their names, where any
   * other section named a typo of a built-in's stops the command (lib/config/section-names.ts).
   */
  config(running?: RunningComponents): LoadedConfig;
  logger: Logger;
  progress: Progress;
  /** Aborted on SIGINT / SIGTERM: long-running commands stop cleanly when it fires. */
  signal: AbortSignal;
  /** Writes a line to stdout. */
  out(line: string): void;
  /** Writes a JSON document (or one JSON line with `line: true`) to stdout. */
  printJson(value: unknown, options?: { line?: boolean }): void;
}

/** The components a command runs, by name (a user's, loaded from a path, included). */
export interface RunningComponents {
  sinks?: readonly string[];
  processors?: readonly string[];
}

export interface CommandDefinition {
  /** `tail`, or two words for sub-commands: `processor new`. */
  name: string;
  summary: string;
  /** Usage line without the leading `meshpipe `, e.g. `tail <topic> [options]`. */
  usage: string;
  description?: string;
  options: Record<string, OptionSpec>;
  /** Allowed positional count. */
  positionals?: { min: number; max: number; names?: string[] };
  /** Whether --json changes the output (documented in --help). */
  json?: boolean;
  examples?: string[];
  run(ctx: CommandContext): Promise<number | undefined>;
}

/** Options every command understands. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  help: { type: 'boolean', short: 'h', doc: 'Show this help.' },
  json: { type: 'boolean', doc: 'Print data as JSON on stdout (logs stay on stderr).' },
  config: {
    type: 'string',
    value: '<file>',
    doc: 'Configuration file (default: ./meshpipe.json, or $MESHPIPE_CONFIG).',
  },
  'log-level': { type: 'string', value: '<level>', doc: 'fatal, error, warn, info, debug, trace or silent.' },
};

/** Options shared by commands that talk to Kafka. */
export const KAFKA_OPTIONS: Record<string, OptionSpec> = {
  brokers: {
    type: 'string',
    value: '<host:port,...>',
    doc: 'Kafka bootstrap servers (default: kafka.brokers, $MESHPIPE_KAFKA_BROKERS, else the local broker).',
  },
};

export function parseCommandArgs(definition: CommandDefinition, argv: string[]) {
  const options = { ...GLOBAL_OPTIONS, ...definition.options };
  const parseOptions: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(options)) {
    parseOptions[name] = {
      type: spec.type,
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
    };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: parseOptions, allowPositionals: true, strict: true });
  } catch (err) {
    throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, [
      `${(err as Error).message.split('\n')[0]} (see meshpipe ${definition.name} --help)`,
    ]);
  }
  const values = parsed.values as CommandContext['values'];
  for (const [name, spec] of Object.entries(options)) {
    if (values[name] === undefined && spec.default !== undefined) values[name] = spec.default;
  }
  const limits = definition.positionals ?? { min: 0, max: 0 };
  if (
    values.help !== true &&
    (parsed.positionals.length < limits.min || parsed.positionals.length > limits.max)
  ) {
    const expected = limits.min === limits.max ? `${limits.min}` : `${limits.min} to ${limits.max}`;
    throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, [
      `meshpipe ${definition.name} takes ${expected} argument(s), got ${parsed.positionals.length}: usage: meshpipe ${definition.usage}`,
    ]);
  }
  return { values, positionals: parsed.positionals };
}

export function renderHelp(definition: CommandDefinition): string {
  const lines = [`Usage: meshpipe ${definition.usage}`, '', definition.summary];
  if (definition.description !== undefined) lines.push('', definition.description);
  const rows: Array<[string, string]> = [];
  const all = { ...definition.options, ...GLOBAL_OPTIONS };
  for (const [name, spec] of Object.entries(all)) {
    if (name === 'json' && definition.json !== true) continue;
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.type === 'string' ? ` ${spec.value ?? '<value>'}` : ''}`;
    const def = spec.default !== undefined && spec.default !== false ? ` (default: ${spec.default})` : '';
    rows.push([flag, `${spec.doc}${def}`]);
  }
  const width = Math.min(34, Math.max(...rows.map(([f]) => f.length)) + 2);
  lines.push('', 'Options:');
  for (const [flag, doc] of rows) lines.push(`  ${flag.padEnd(width)}${doc}`);
  if (definition.examples !== undefined && definition.examples.length > 0) {
    lines.push('', 'Examples:');
    for (const example of definition.examples) lines.push(`  ${example}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Flag values that map onto configuration keys, shared by Kafka-using commands. */
export function configOverrides(values: CommandContext['values']): Record<string, unknown> {
  const overrides: Record<string, Record<string, unknown>> = {};
  if (typeof values.brokers === 'string') {
    overrides.kafka = {
      brokers: values.brokers
        .split(',')
        .map((b) => b.trim())
        .filter((b) => b !== ''),
    };
  }
  if (typeof values['log-level'] === 'string') overrides.log = { level: values['log-level'] };
  return overrides;
}
