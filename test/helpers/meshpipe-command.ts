/**
 * Checks that a container's `args` are a real `meshpipe` command with flags that parse: shared by the
 * tests of the Kubernetes manifests, the Helm chart and the compose file.
 */
import assert from 'node:assert/strict';
import { parseCommandArgs } from '../../cli/command.ts';
import { COMMANDS } from '../../cli/commands/index.ts';

/** Checks that `meshpipe <args>` names a command and that its flags parse; returns the command name. */
export async function assertRealCommand(args: string[], where: string): Promise<string> {
  const name = COMMANDS[`${args[0]} ${args[1]}`] !== undefined ? `${args[0]} ${args[1]}` : args[0]!;
  const entry = COMMANDS[name];
  assert.ok(entry, `${where}: "meshpipe ${args.join(' ')}" is not a command`);
  const rest = args.slice(name.split(' ').length);
  const definition = await entry.load(rest);
  parseCommandArgs(definition, rest);
  return name;
}
