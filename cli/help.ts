/**
 * The help texts: the command list (`meshpipe --help`, or a group's: `meshpipe stack --help`) and each
 * command's own (`meshpipe tail --help`, `meshpipe help tail`). docs/cli.md is generated from these
 * (node scripts/gen-cli-docs.ts), and the `meshpipe` launcher prints from that page when the checkout is
 * not set up yet, so help answers at once on a fresh clone too.
 */
import { renderHelp } from './command.ts';
import { COMMANDS } from './commands/index.ts';

/** The groups of two-word commands that are not commands themselves: `stack`, `sink`, `alerts`... */
export function commandGroups(): string[] {
  return [
    ...new Set(
      Object.keys(COMMANDS)
        .filter((n) => n.includes(' '))
        .map((n) => n.split(' ')[0]!),
    ),
  ].filter((group) => COMMANDS[group] === undefined);
}

/** The list of commands, or of one group's commands. */
export function topHelp(group?: string): string {
  const names = Object.keys(COMMANDS).filter((n) => group === undefined || n.startsWith(`${group} `));
  const width = Math.max(...names.map((n) => n.length)) + 2;
  const lines = [
    group === undefined
      ? 'Usage: meshpipe <command> [options]'
      : `Usage: meshpipe ${group} <command> [options]`,
    '',
    'Sidecar-free service-mesh telemetry: eBPF capture of HTTP traffic into Kafka, stream processors for',
    'spans, RED metrics and anomalies, sinks for OTLP, Prometheus and alert webhooks.',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(width)}${COMMANDS[n]!.summary}`),
    '',
    'Every command takes --help (or: meshpipe help <command>); commands that print data take --json.',
    group === undefined ? 'Start here: meshpipe up --demo' : '',
  ];
  return `${lines.join('\n').trimEnd()}\n`;
}

/**
 * What `meshpipe <words>` names: a command (one word, or two for groups such as `stack start`) and the
 * arguments after it, or a group.
 */
export function findCommand(
  argv: string[],
): { name: string; rest: string[] } | { group: string } | undefined {
  const [first, second] = argv;
  if (first === undefined) return undefined;
  if (second !== undefined && COMMANDS[`${first} ${second}`] !== undefined)
    return { name: `${first} ${second}`, rest: argv.slice(2) };
  if (COMMANDS[first] !== undefined) return { name: first, rest: argv.slice(1) };
  if (Object.keys(COMMANDS).some((n) => n.startsWith(`${first} `))) return { group: first };
  return undefined;
}

/** A command's own help (its options, description and examples). */
export async function commandHelp(name: string, args: readonly string[] = []): Promise<string> {
  return renderHelp(await COMMANDS[name]!.load(args));
}
