/**
 * scripts/check-layers.ts on small trees written for each case: a cycle (through a type-only import),
 * an upward import (through `import('…')` in a type), bench/ importing test/, a folder no layer names —
 * each fails naming the files; an allowlist entry outliving its import fails too — and this checkout,
 * which passes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  checkLayers,
  importGraph,
  importsOf,
  runsOf,
  sourceFiles,
  staleAllowances,
} from '../../scripts/check-layers.ts';

const SCRIPT = fileURLToPath(new URL('../../scripts/check-layers.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const trees: string[] = [];

/** A scratch tree of the given files (path → source). */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'meshpipe-layers-'));
  trees.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

function run(root: string): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8' });
  return { status: result.status, stderr: result.stderr };
}

after(() => {
  for (const root of trees) rmSync(root, { recursive: true, force: true });
});

describe('check-layers', () => {
  it('reads every kind of import and nothing that only looks like one', () => {
    const source = [
      "import a from './a.ts';",
      "import type { B } from './b.ts';",
      "import { type C, d } from './c.ts';",
      "export { e } from './e.ts';",
      "export type * from './f.ts';",
      "const g = await import('./g.ts');",
      "type H = import('./h.ts').H;",
      "// import x from './comment.ts';",
      'const text = "import y from \'./string.ts\'";',
    ].join('\n');
    assert.deepEqual(importsOf('x.ts', source), [
      './a.ts',
      './b.ts',
      './c.ts',
      './e.ts',
      './f.ts',
      './g.ts',
      './h.ts',
    ]);
  });

  it('reads the modules a file runs by path, not every URL', () => {
    const source = [
      "const FIXTURE = new URL('../test/fixture.ts', import.meta.url).pathname;",
      "const MAIN = moduleFile('../main.ts', import.meta.url);",
      "const PROTO = new URL('./proto/a.proto', import.meta.url);",
      "const SITE = new URL('./page.ts', 'https://example.com/');",
    ].join('\n');
    assert.deepEqual(runsOf('x.ts', source), ['../test/fixture.ts', '../main.ts']);
  });

  it('fails on a cycle, a type-only import closing it, and names the files in order', () => {
    const root = tree({
      'lib/a.ts': "import { b } from './b.ts';\nexport const a = b;\n",
      'lib/b.ts': "import { c } from './c.ts';\nexport const b = c;\n",
      'lib/c.ts': "import type { A } from './d.ts';\nexport const c = 1 as A;\n",
      'lib/d.ts': "import type { a } from './a.ts';\nexport type A = typeof a;\n",
    });
    const problems = checkLayers(root);
    assert.deepEqual(
      problems.map((p) => p.kind),
      ['cycle'],
    );
    assert.deepEqual(problems[0]!.files, ['lib/a.ts', 'lib/b.ts', 'lib/c.ts', 'lib/d.ts']);
    const { status, stderr } = run(root);
    assert.equal(status, 1);
    assert.match(
      stderr,
      /import cycle through 4 file\(s\): lib\/a\.ts → lib\/b\.ts → lib\/c\.ts → lib\/d\.ts → lib\/a\.ts/,
    );
  });

  it('fails on an import from a layer above, even one only in a type', () => {
    const root = tree({
      'lib/config.ts': "export type Config = import('../sinks/config.ts').SinkConfig;\n",
      'sinks/config.ts':
        "import { loadConfig } from '../lib/load.ts';\nexport type SinkConfig = { a: 1 };\nloadConfig;\n",
      'lib/load.ts': 'export function loadConfig() {}\n',
    });
    const { status, stderr } = run(root);
    assert.equal(status, 1);
    assert.match(
      stderr,
      /lib\/config\.ts imports sinks\/config\.ts: lib \(layer 0\) may not import from collectors\/processors\/sinks\/demo \(layer 3\), a layer above it/,
    );
  });

  it('keeps bench/ off test/ and test/ free to use bench/', () => {
    const root = tree({
      'bench/run.ts': "import { helper } from '../test/helpers/helper.ts';\nhelper();\n",
      'test/helpers/helper.ts':
        "import { workload } from '../../bench/workload.ts';\nexport const helper = workload;\n",
      'bench/workload.ts': 'export function workload() {}\n',
    });
    const problems = checkLayers(root);
    assert.deepEqual(
      problems.map((p) => [p.kind, ...p.files]),
      [['layer', 'bench/run.ts', 'test/helpers/helper.ts']],
    );
  });

  it('counts a module a benchmark runs by path, and keeps the SDK modules on lib/ and schemas/', () => {
    const root = tree({
      'bench/run.ts': "export const FIXTURE = new URL('../test/fixture.ts', import.meta.url).pathname;\n",
      'test/fixture.ts': 'export {};\n',
      'sdk/subscribe.ts': "import { host } from '../processors/host.ts';\nhost;\n",
      'sdk/index.ts': "export { host } from '../processors/host.ts';\n",
      'processors/host.ts': 'export const host = 1;\n',
    });
    const { status, stderr } = run(root);
    assert.equal(status, 1);
    assert.match(
      stderr,
      /bench\/run\.ts runs test\/fixture\.ts: bench \(layer 8\) may not run test \(layer 9\)/,
    );
    assert.match(
      stderr,
      /sdk\/subscribe\.ts imports processors\/host\.ts: the SDK's own modules use only lib\/ and schemas\//,
    );
    assert.doesNotMatch(stderr, /sdk\/index\.ts/, 'the entry point re-exports from below');
  });

  it('fails on a folder no layer names, and on a relative import that is not a file', () => {
    const root = tree({
      'tools/x.ts': "import { a } from '../lib/a.ts';\na;\n",
      'lib/a.ts': "import { b } from './missing.ts';\nexport const a = b;\n",
    });
    const { status, stderr } = run(root);
    assert.equal(status, 1);
    assert.match(stderr, /tools\/x\.ts is in tools\/, which no layer names/);
    assert.match(stderr, /lib\/a\.ts imports '\.\/missing\.ts', which is not a file/);
  });

  it('fails once an allowlisted import is gone, so its entry goes too', () => {
    const root = tree({
      'lib/config/meshpipe-config.ts': 'export const config = {};\n',
      'sinks/config.ts': 'export const sinks = {};\n',
    });
    const { graph } = importGraph(root, sourceFiles(root));
    const problems = staleAllowances(graph, [
      { from: 'lib/config/meshpipe-config.ts', to: 'sinks/config.ts' },
    ]);
    assert.deepEqual(
      problems.map((p) => p.message),
      [
        'lib/config/meshpipe-config.ts no longer imports sinks/config.ts: remove its entry from ALLOWED in scripts/check-layers.ts',
      ],
    );
  });

  it('passes on this checkout', () => {
    const { status, stderr } = run(ROOT);
    assert.equal(stderr, '');
    assert.equal(status, 0);
  });
});
