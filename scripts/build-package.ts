/**
 * Builds the npm package into dist/ (git-ignored): JavaScript and .d.ts from the TypeScript sources
 * (tsc -p tsconfig.build.json, relative imports rewritten from .ts to .js), plus the files the modules
 * read beside themselves at run time (Avro schemas). `npm pack` runs it (prepack), and so does the
 * package test (test/package.test.ts).
 *
 *   node scripts/build-package.ts        (or: npm run build)
 *
 * What the package holds besides dist/ is package.json's `files`: scripts/versions.env (the versions the
 * modules read), bpf/ sources (`make -C node_modules/meshpipe/bpf` builds the eBPF loader where the
 * package is installed), docs/ (the pages error hints point at).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DIST = join(ROOT, 'dist');
/** Source folders whose non-TypeScript files the modules read at run time. */
const ASSET_DIRS = ['schemas', 'processors', 'sinks', 'collectors', 'protocols', 'lib', 'demo', 'cli'];
const ASSET = /\.avsc$/;

function* files(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

export function buildPackage(): void {
  rmSync(DIST, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (result.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed (exit ${result.status})`);
  for (const dir of ASSET_DIRS) {
    for (const file of files(join(ROOT, dir))) {
      if (!ASSET.test(file)) continue;
      const target = join(DIST, relative(ROOT, file));
      cpSync(file, target);
    }
  }
  process.stdout.write(`built ${DIST}\n`);
}

if (import.meta.main) buildPackage();
