#!/usr/bin/env node
/**
 * The `meshpipe` command. Finds the command (one word, or two for groups such as `stack start`), parses
 * its options, runs it, and turns MeshpipeErrors into a clear message (code, fix) and an exit code.
 */
// First: sizes libuv's thread pool before any module can start it (see the file).
import './threadpool.ts';
import { readFileSync } from 'node:fs';
import { resolveCollectorConfig } from '../collectors/config.ts';
import { loadConfig } from '../lib/config/load.ts';
import { ERRORS, EXIT, errorMessage, MeshpipeError } from '../lib/errors.ts';
import { createLogger, type Logger } from '../lib/logger.ts';
import { PROJECT_ROOT } from '../lib/paths.ts';
import { checkProcessorSections } from '../processors/runtime/builtin-processors.ts';
import { checkSinkSections } from '../sinks/builtin-sinks.ts';
import { type CommandContext, configOverrides, parseCommandArgs, renderHelp } from './command.ts';
import { COMMANDS } from './commands/index.ts';
import { commandHelp, findCommand, topHelp } from './help.ts';
import { createProgress } from './stack/progress.ts';

function version(): string {
  return (JSON.parse(readFileSync(`${PROJECT_ROOT}/package.json`, 'utf8')) as { version: string }).version;
}

function reportError(err: unknown, json: boolean, logger: Logger | undefined): number {
  if (err instanceof MeshpipeError) {
    if (json) {
      process.stdout.write(
        `${JSON.stringify({ error: { code: err.code, message: err.message, hint: err.hint ?? null } })}\n`,
      );
    }
    process.stderr.write(`meshpipe: ${err.message} [${err.code}]\n`);
    if (err.hint !== undefined) process.stderr.write(`  fix: ${err.hint}\n`);
    return err.exitCode;
  }
  logger?.error({ err }, 'unexpected error');
  process.stderr.write(`meshpipe: unexpected error: ${errorMessage(err)}\n`);
  if (err instanceof Error && err.stack !== undefined && process.env.MESHPIPE_DEBUG === '1')
    process.stderr.write(`${err.stack}\n`);
  return EXIT.software;
}

/** The signals that stop a command: Ctrl-C, a kill, the terminal closing. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Stops the running command (as a signal does) when its output goes away; unset between commands. */
let stopCommand: ((why: string) => void) | undefined;

/** `meshpipe help [<command>]`: the same text as `meshpipe <command> --help`. */
async function help(words: string[]): Promise<number> {
  const found = findCommand(words);
  if (words.length === 0) process.stdout.write(topHelp());
  else if (found === undefined)
    return reportError(new MeshpipeError(ERRORS.CLI_UNKNOWN_COMMAND, [words.join(' ')]), false, undefined);
  else if ('group' in found) process.stdout.write(topHelp(found.group));
  else process.stdout.write(await commandHelp(found.name, found.rest));
  return EXIT.ok;
}

export async function main(argv: string[]): Promise<number> {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  if (major < 22 || (major === 22 && minor < 18)) {
    process.stderr.write(
      `meshpipe needs Node.js 22.18 or newer (it runs its TypeScript sources directly); this is ${process.version}.\n  fix: run ./meshpipe from the checkout (it uses the Node 24 that scripts/setup installs)\n`,
    );
    return EXIT.unavailable;
  }
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(topHelp());
    return EXIT.ok;
  }
  if (argv[0] === 'help') return help(argv.slice(1));
  if (argv[0] === '--version' || argv[0] === '-v') {
    process.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  const wantsJson = argv.includes('--json');
  const found = findCommand(argv);
  if (found === undefined) {
    return reportError(new MeshpipeError(ERRORS.CLI_UNKNOWN_COMMAND, [argv[0]]), wantsJson, undefined);
  }
  if ('group' in found) {
    process.stdout.write(topHelp(found.group));
    return argv.includes('--help') || argv.includes('-h') ? EXIT.ok : EXIT.usage;
  }

  let logger: Logger | undefined;
  try {
    const definition = await COMMANDS[found.name]!.load(found.rest);
    const { values, positionals } = parseCommandArgs(definition, found.rest);
    if (values.help === true) {
      process.stdout.write(renderHelp(definition));
      return EXIT.ok;
    }
    const level = (values['log-level'] as string | undefined) ?? process.env.MESHPIPE_LOG_LEVEL ?? 'info';
    logger = createLogger({ component: `cli/${found.name.replace(' ', '-')}`, level: level as 'info' });
    const controller = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      if (controller.signal.aborted) {
        // Second Ctrl-C: the user insists. Commands that started something keep a last resort for this
        // (process 'exit' handlers: `up` signals its components and services).
        process.exit(130);
      }
      logger?.info({ signal }, 'stopping');
      controller.abort(signal);
    };
    stopCommand = (why) => {
      if (controller.signal.aborted) return;
      logger?.info({ why }, 'stopping');
      controller.abort(why);
    };
    for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
    let loaded: ReturnType<typeof loadConfig> | undefined;
    const json = values.json === true;
    const ctx: CommandContext = {
      values,
      positionals,
      json,
      config: (running) => {
        if (loaded === undefined) {
          loaded = loadConfig({
            file: values.config as string | undefined,
            overrides: configOverrides(values),
          });
          // lib/config leaves the collector's section to the collector (collectors/config.ts): checked
          // here too, so a bad collector key stops any command, as every other bad key does.
          resolveCollectorConfig(loaded.config);
        }
        // Sections of sinks and processors take any name (a user's component is known only when it
        // runs), but one named a typo of a built-in's stops any command — unless it belongs to a
        // component this call says the command runs.
        checkSinkSections(loaded.config, running?.sinks);
        checkProcessorSections(loaded.config, running?.processors);
        return loaded;
      },
      logger,
      progress: createProgress({ enabled: !json || process.stderr.isTTY === true }),
      signal: controller.signal,
      out: (line) => process.stdout.write(`${line}\n`),
      printJson: (value, options) =>
        process.stdout.write(
          `${options?.line === true ? JSON.stringify(value) : JSON.stringify(value, null, 2)}\n`,
        ),
    };
    const code = (await definition.run(ctx)) ?? EXIT.ok;
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
    stopCommand = undefined;
    return code;
  } catch (err) {
    return reportError(err, wantsJson, logger);
  }
}

if (import.meta.main) {
  // `meshpipe tail ... | head`, or `meshpipe up | tee up.log` where Ctrl-C killed tee first: the reader
  // went away (EPIPE), or the terminal did (EIO). Not an error of ours, and not a reason to leave on the
  // spot: the command stops as on a signal, so everything it started is stopped too. Later writes to the
  // dead stream fail the same way and change nothing.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (stopCommand === undefined) process.exit(process.exitCode ?? 0);
      stopCommand(`${stream === process.stdout ? 'stdout' : 'stderr'} closed (${err.code ?? err.message})`);
    });
  }
  const code = await main(process.argv.slice(2));
  // Let stdout drain before exiting (large --json outputs to a pipe).
  process.exitCode = code;
  // Clients (Kafka, Redis, gRPC) can leave sockets or threads behind; once the command is done, nothing else needs to run.
  setTimeout(() => process.exit(code), 50).unref();
}
