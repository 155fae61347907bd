import { join, relative, resolve } from 'node:path';
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { BUILTIN_PROCESSORS } from '../../processors/runtime/registry.ts';
import type { CommandDefinition } from '../command.ts';
import { scaffoldProcessor } from '../processor-scaffold.ts';
import { importsFor, isInside, writeScaffold } from '../scaffold-files.ts';

const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

export const command: CommandDefinition = {
  name: 'processor new',
  summary: 'Scaffold a processor that works as generated, with a unit test that passes.',
  usage: 'processor new <name> [--dir processors] [--json]',
  description:
    "Writes <dir>/<name>/ (definition, config spec, handler, output topic and its Avro schema) and a unit test under test/<dir>/<name>/ (or beside the processor when <dir> is outside the current directory). Inside a meshpipe checkout the files import meshpipe's modules by relative path; anywhere else from 'meshpipe' and 'meshpipe/testing' (npm install meshpipe in that project). The generated processor reads raw events and emits per-service summaries per window; docs/adding-a-processor.md walks through changing it. Nothing is overwritten.",
  options: {
    dir: { type: 'string', value: '<dir>', doc: 'Where processor folders live.', default: 'processors' },
  },
  positionals: { min: 1, max: 1, names: ['name'] },
  json: true,
  examples: ['meshpipe processor new slow-requests', 'meshpipe processor new my-proc --dir ./my-processors'],
  async run(ctx) {
    const name = ctx.positionals[0]!;
    if (!NAME.test(name)) {
      throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, [
        `processor names are kebab-case (lower-case letters, digits, dashes), e.g. slow-requests; got "${name}"`,
      ]);
    }
    if (BUILTIN_PROCESSORS.includes(name)) {
      throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, [`"${name}" is the name of a built-in processor`]);
    }
    const cwd = process.cwd();
    const dir = resolve(cwd, ctx.values.dir as string);
    const inside = isInside(dir, cwd);
    // Tests mirror the source tree (CONTRIBUTING.md): processors/x → test/processors/x.
    const testDir = inside ? join(cwd, 'test', relative(cwd, dir), name) : join(dir, name, 'test');
    const files = scaffoldProcessor({ name, dir, testDir, imports: importsFor(dir) });
    const shown = writeScaffold(files, cwd, ERRORS.PROCESSOR_SCAFFOLD_EXISTS);
    const index = shown[0]!;
    const test = shown[shown.length - 1]!;
    if (ctx.json) {
      ctx.printJson({ name, files: shown, index, test });
      return 0;
    }
    ctx.out(`created processor ${name}:`);
    for (const f of shown) ctx.out(`  ${f}`);
    ctx.out('');
    ctx.out('next:');
    ctx.out(`  node --test ${test}`);
    ctx.out(`  meshpipe replay capture.avro --processor ${index} --json`);
    ctx.out(`  meshpipe process ${index}`);
    ctx.out('  docs/adding-a-processor.md explains every part.');
    return 0;
  },
};
