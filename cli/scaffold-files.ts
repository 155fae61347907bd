/**
 * What `processor new` and `sink new` share: how the generated files import meshpipe, and writing them
 * without overwriting anything.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, relative } from 'node:path';
import { type ErrorSpec, MeshpipeError } from '../lib/errors.ts';
import { IS_CHECKOUT, PROJECT_ROOT } from '../lib/paths.ts';

export interface ScaffoldFile {
  path: string;
  content: string;
}

/** `a` inside `b` (or `b` itself). */
export function isInside(a: string, b: string): boolean {
  const rel = relative(b, a);
  return !rel.startsWith('..') && !isAbsolute(rel);
}

/** Relative imports only inside a meshpipe checkout; anywhere else the npm package's entry points. */
export function importsFor(dir: string): 'checkout' | 'package' {
  return IS_CHECKOUT && isInside(dir, PROJECT_ROOT) ? 'checkout' : 'package';
}

/**
 * Writes every file, or none: a file that exists already fails with `exists` naming it (relative to
 * `cwd`) before anything is written. Returns the paths relative to `cwd`, in order.
 */
export function writeScaffold(files: readonly ScaffoldFile[], cwd: string, exists: ErrorSpec): string[] {
  for (const f of files) {
    if (existsSync(f.path)) throw new MeshpipeError(exists, [relative(cwd, f.path)]);
  }
  for (const f of files) {
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(f.path, f.content, { flag: 'wx' });
  }
  return files.map((f) => relative(cwd, f.path));
}
