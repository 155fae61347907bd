/**
 * meshpipe as compiled JavaScript, as its image and npm package run it (scripts/build-package.ts:
 * dist/, relative imports rewritten to .js, the .avsc files beside the modules that read them).
 *
 * Why the benchmarks run it so: Node runs `.ts` sources by stripping types as it loads them (amaro, a
 * WebAssembly build of swc), and the wasm module and its heap stay resident for the life of the process:
 * measured here, ~30 MiB more RSS and ~25 MiB more private memory for the collector. A DaemonSet runs
 * the image, so that is what the headline figures measure; `--collector-build ts` measures the sources.
 *
 *   node bench/overhead/precompile.ts        builds dist/ and prints the entry point (dist/cli/main.js)
 */
import { join } from 'node:path';
import { buildPackage, DIST } from '../../scripts/build-package.ts';

/** Builds dist/ from the sources; returns the CLI's entry point. */
export function precompile(): string {
  buildPackage();
  return join(DIST, 'cli/main.js');
}

if (import.meta.main) console.log(precompile());
