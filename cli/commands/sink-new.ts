/**
 * `meshpipe sink new <name>`: scaffolds a sink (cli/sink-scaffold.ts) that runs as generated with
 * `meshpipe sink <dir>/<name>/sink.ts`, and a unit test of its exporter that passes.
 */
import { join, relative, resolve } from 'node:path';
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { BUILTIN_SINKS, RESERVED_SINK_NAMES, SINK_NAME } from '../../sinks/registry.ts';
import type { CommandDefinition } from '../command.ts';
import { importsFor, isInside, writeScaffold } from '../scaffold-files.ts';
import { scaffoldSink } from '../sink-scaffold.ts';

export const command: CommandDefinition = {
  name: 'sink new',
  summary: 'Scaffold a sink that works as generated: it writes what it receives to a JSON-lines file.',
  usage: 'sink new <name> [--dir sinks] [--json]',
  description:
    "Writes <dir>/<name>/ (definition, config spec with the host's keys, exporter) and a unit test of the exporter under test/<dir>/<name>/ (or beside the sink when <dir> is outside the current directory). Inside a meshpipe checkout the files import meshpipe's modules by relative path; anywhere else from 'meshpipe' (npm install meshpipe in that project). The generated sink appends every span to a JSON-lines file; docs/adding-a-sink.md walks through changing it. Nothing is overwritten.",
  options: {
    dir: { type: 'string', value: '<dir>', doc: 'Where sink folders live.', default: 'sinks' },
  },
  positionals: { min: 1, max: 1, names: ['name'] },
  json: true,
  examples: ['meshpipe sink new clickhouse', 'meshpipe sink new my-sink --dir ./my-sinks'],
  async run(ctx) {
    const name = ctx.positionals[0]!;
    if (!SINK_NAME.test(name)) {
      throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, [
        `sink names are kebab-case (lower-case letters, digits, dashes), e.g. clickhouse; got "${name}"`,
      ]);
    }
    if (BUILTIN_SINKS.includes(name) || RESERVED_SINK_NAMES.includes(name)) {
      throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, [
        `"${name}" is the name of a built-in sink or command`,
      ]);
    }
    const cwd = process.cwd();
    const dir = resolve(cwd, ctx.values.dir as string);
    const inside = isInside(dir, cwd);
    // Tests mirror the source tree (CONTRIBUTING.md): sinks/x → test/sinks/x.
    const testDir = inside ? join(cwd, 'test', relative(cwd, dir), name) : join(dir, name, 'test');
    const files = scaffoldSink({ name, dir, testDir, imports: importsFor(dir) });
    const shown = writeScaffold(files, cwd, ERRORS.SINK_SCAFFOLD_EXISTS);
    const sink = shown[0]!;
    const test = shown[shown.length - 1]!;
    if (ctx.json) {
      ctx.printJson({ name, files: shown, sink, test });
      return 0;
    }
    ctx.out(`created sink ${name}:`);
    for (const f of shown) ctx.out(`  ${f}`);
    ctx.out('');
    ctx.out('next:');
    ctx.out(`  node --test ${test}`);
    ctx.out(`  meshpipe sink ${sink} --path spans.jsonl`);
    ctx.out('  docs/adding-a-sink.md explains every part.');
    return 0;
  },
};
