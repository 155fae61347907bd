import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { scaffoldProcessor } from '../../cli/processor-scaffold.ts';
import { PROJECT_ROOT } from '../../lib/paths.ts';
import { rawEvent } from '../../processors/runtime/test-events.ts';
import { createRecordingWriter } from '../../sdk/recording.ts';
import { CLI, jsonLines } from '../helpers/cli.ts';

/**
 * This checkout's library as the 'meshpipe' package of a scratch project, without a build: what
 * `npm link` does (test/package.test.ts installs the real, built package).
 */
function linkMeshpipe(project: string): void {
  const dir = join(project, 'node_modules', 'meshpipe');
  mkdirSync(dir, { recursive: true });
  const exports = { '.': './index.js', './testing': './testing.js' };
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'meshpipe', type: 'module', exports }));
  for (const entry of ['index', 'testing']) {
    const source = pathToFileURL(join(PROJECT_ROOT, 'sdk', `${entry}.ts`)).href;
    writeFileSync(join(dir, `${entry}.js`), `export * from ${JSON.stringify(source)};\n`);
  }
}

/** `node --test <file>` in `cwd`, reporting as TAP. */
function nodeTest(file: string, cwd: string) {
  // Without NODE_TEST_CONTEXT (set by the runner running this file) the child reports normally.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return spawnSync(process.execPath, ['--test', '--test-reporter=tap', file], {
    cwd,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

function meshpipe(args: string[], cwd: string) {
  return spawnSync(process.execPath, [CLI, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, MESHPIPE_LOG_LEVEL: 'warn' },
    timeout: 60_000,
  });
}

describe('meshpipe processor new', () => {
  it('outside the checkout: imports from meshpipe, its own test passes as generated, and it replays a recording', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'meshpipe-new-'));
    linkMeshpipe(cwd);
    const created = meshpipe(['processor', 'new', 'web-traffic', '--json'], cwd);
    assert.equal(created.status, 0, created.stderr);
    const { files, index, test } = JSON.parse(created.stdout) as {
      files: string[];
      index: string;
      test: string;
    };
    assert.deepEqual(files, [
      'processors/web-traffic/index.ts',
      'processors/web-traffic/config.ts',
      'processors/web-traffic/topics.ts',
      'processors/web-traffic/handler.ts',
      'processors/web-traffic/web-traffic.avsc',
      'processors/web-traffic/traffic.avsc',
      'test/processors/web-traffic/handler.test.ts',
    ]);

    assert.match(readFileSync(join(cwd, index), 'utf8'), /^import \{ defineProcessor \} from 'meshpipe';$/m);
    assert.match(
      readFileSync(join(cwd, test), 'utf8'),
      /^import \{ rawEvent, testProcessor \} from 'meshpipe\/testing';$/m,
    );
    for (const file of files)
      assert.doesNotMatch(
        readFileSync(join(cwd, file), 'utf8'),
        /\.\.\/processors\/runtime|lib\/config/,
        file,
      );

    const tested = nodeTest(test, cwd);
    assert.equal(tested.status, 0, tested.stdout + tested.stderr);
    assert.match(tested.stdout, /# pass 1/);

    const recording = join(cwd, 'capture.avro');
    const writer = createRecordingWriter(recording);
    writer.write(rawEvent({ service: 'orders', direction: 'INGRESS', head: 'GET / HTTP/1.1\r\n\r\n' }));
    await writer.close();
    const replayed = meshpipe(['replay', recording, '--processor', index, '--json'], cwd);
    assert.equal(replayed.status, 0, replayed.stderr);
    const [summary] = jsonLines(replayed.stdout) as Array<{
      topic: string;
      value: { service: string; messages: string };
    }>;
    assert.equal(summary!.topic, 'meshpipe.web-traffic.v1');
    assert.deepEqual([summary!.value.service, summary!.value.messages], ['orders', '1']);
  });

  it('in a checkout: relative imports of the modules, and its test passes as generated', () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshpipe-new-checkout-'));
    const files = scaffoldProcessor({
      name: 'in-tree',
      dir: join(dir, 'processors'),
      testDir: join(dir, 'test', 'in-tree'),
      imports: 'checkout',
    });
    for (const f of files) {
      mkdirSync(dirname(f.path), { recursive: true });
      writeFileSync(f.path, f.content);
    }
    const index = readFileSync(join(dir, 'processors', 'in-tree', 'index.ts'), 'utf8');
    assert.match(
      index,
      /^import \{ defineProcessor \} from '(\.\.\/)+.*processors\/runtime\/definition\.ts';$/m,
    );
    const tested = nodeTest(files.at(-1)!.path, dir);
    assert.equal(tested.status, 0, tested.stdout + tested.stderr);
    assert.match(tested.stdout, /# pass 1/);
  });

  it('never overwrites, and refuses names that are not kebab-case', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'meshpipe-new-'));
    assert.equal(meshpipe(['processor', 'new', 'twice'], cwd).status, 0);
    const before = readFileSync(join(cwd, 'processors/twice/handler.ts'), 'utf8');
    const again = meshpipe(['processor', 'new', 'twice'], cwd);
    assert.equal(again.status, 73);
    assert.match(again.stderr, /MESHPIPE_ERR_PROCESSOR_SCAFFOLD_EXISTS/);
    assert.equal(readFileSync(join(cwd, 'processors/twice/handler.ts'), 'utf8'), before);
    const bad = meshpipe(['processor', 'new', 'My_Proc'], cwd);
    assert.equal(bad.status, 64);
    assert.equal(existsSync(join(cwd, 'processors/My_Proc')), false);
  });
});
