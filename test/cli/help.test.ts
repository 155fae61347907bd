/**
 * Help and version answer at once: `meshpipe help <command>` is the command's --help, docs/cli.md is the
 * help of every command as the CLI prints it, and the `meshpipe` launcher answers --help and --version
 * without running the set-up — from the CLI when Node.js and node_modules are there, from docs/cli.md on
 * a checkout that is not set up (no suitable Node at all).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../lib/paths.ts';
import { CLI_PAGE, renderCliPage } from '../../scripts/gen-cli-docs.ts';
import { runCli } from '../helpers/cli.ts';

const LAUNCHER = join(PROJECT_ROOT, 'meshpipe');
const VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string })
  .version;

/** A PATH with the few tools the launcher uses, and no node: a checkout on a machine without Node.js. */
function pathWithoutNode(): string {
  const bin = mkdtempSync(join(tmpdir(), 'meshpipe-nonode-'));
  for (const tool of ['awk', 'sed', 'dirname', 'readlink', 'bash', 'env']) {
    const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(found, join(bin, tool));
  }
  return bin;
}

/** Runs ./meshpipe with a MESHPIPE_HOME that was never set up: any set-up would write into it. */
function launch(args: string[], path: string) {
  const home = mkdtempSync(join(tmpdir(), 'meshpipe-home-'));
  const r = spawnSync(LAUNCHER, args, {
    encoding: 'utf8',
    env: { PATH: path, MESHPIPE_HOME: home, HOME: home },
    timeout: 30_000,
  });
  return { ...r, home, homeFiles: readdirSync(home) };
}

describe('help and version', () => {
  it('docs/cli.md is the help of every command (node scripts/gen-cli-docs.ts regenerates it)', async () => {
    assert.equal(readFileSync(CLI_PAGE, 'utf8'), await renderCliPage());
  });

  it("`meshpipe help <command>` prints that command's help; groups list their commands", async () => {
    const direct = await runCli(['tail', '--help']);
    const viaHelp = await runCli(['help', 'tail']);
    assert.equal(viaHelp.code, 0, viaHelp.stderr);
    assert.equal(viaHelp.stdout, direct.stdout);
    assert.match(viaHelp.stdout, /^Usage: meshpipe tail <topic>/);
    assert.equal(
      (await runCli(['help', 'stack', 'start'])).stdout,
      (await runCli(['stack', 'start', '-h'])).stdout,
    );
    const group = await runCli(['help', 'stack']);
    assert.match(group.stdout, /^Usage: meshpipe stack <command>/);
    assert.match(group.stdout, /stack status/);
    const unknown = await runCli(['help', 'frobnicate']);
    assert.equal(unknown.code, 64);
    assert.match(unknown.stderr, /MESHPIPE_ERR_CLI_UNKNOWN_COMMAND/);
  });

  it('the launcher answers --help, help <command> and --version from the CLI without the set-up', async () => {
    const path = `${dirname(process.execPath)}:/usr/bin:/bin`;
    for (const args of [['--help'], ['help', 'tail'], ['up', '--demo', '--help'], ['--version']]) {
      const r = launch(args, path);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      const expected = args[0] === '--version' ? `${VERSION}\n` : (await runCli(args)).stdout;
      assert.equal(r.stdout, expected, args.join(' '));
      assert.deepEqual(r.homeFiles, [], `${args.join(' ')} ran the set-up (${r.home} is not empty)`);
    }
  });

  it('without Node.js the launcher prints the same help from docs/cli.md, and the version', async () => {
    const path = pathWithoutNode();
    assert.equal(existsSync(join(path, 'node')), false);
    for (const args of [
      ['tail', '--help'],
      ['help', 'stack', 'start'],
      ['sink', '-h'],
      ['sink', 'otlp', '--help'],
      ['demo', 'fault', '--help'],
    ]) {
      const r = launch(args, path);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, (await runCli(args)).stdout, args.join(' '));
      assert.deepEqual(r.homeFiles, [], `${args.join(' ')} ran the set-up`);
    }
    const top = launch(['--help'], path);
    assert.ok(top.stdout.startsWith((await runCli(['--help'])).stdout), top.stdout);
    assert.match(top.stdout, /not set up yet/);
    assert.equal(launch(['--version'], path).stdout, `${VERSION}\n`);
    const unknown = launch(['frobnicate', '--help'], path);
    assert.equal(unknown.status, 64);
    assert.match(unknown.stderr, /MESHPIPE_ERR_CLI_UNKNOWN_COMMAND/);
  });
});
