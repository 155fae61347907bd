/**
 * meshpipe as precompiled JavaScript, for measuring what running from TypeScript sources costs.
 *
 * Node runs the `.ts` sources by stripping types as it loads them (amaro, a WebAssembly build of swc):
 * measured here, that adds ~12 MiB of private memory and ~17 MiB RSS to a bare `node` (the wasm module
 * and its heap stay resident for the life of the process). `tsc` with `rewriteRelativeImportExtensions`
 * emits the same modules as `.js` with `.js` imports, so nothing is stripped at run time.
 *
 * The output mirrors the source tree under .local/bench/js/ (git-ignored), with the non-TypeScript files
 * the code reads next to it (schemas' .avsc files, bpf/build through a symlink), so the paths the code
 * derives from import.meta.url stay valid; packages resolve from the checkout's node_modules above it.
 *
 *   node bench/overhead/precompile.ts        prints the entry point (cli/main.js)
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const JS_DIR = join(ROOT, '.local/bench/js');

/** Compiles cli/main.ts and everything it imports to .local/bench/js/; returns the entry point. */
export function precompile(): string {
  rmSync(JS_DIR, { recursive: true, force: true });
  mkdirSync(JS_DIR, { recursive: true });
  const tsconfig = join(ROOT, '.local/bench/tsconfig.precompile.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.json'),
      compilerOptions: {
        noEmit: false,
        outDir: JS_DIR,
        rootDir: ROOT,
        rewriteRelativeImportExtensions: true,
        sourceMap: false,
        declaration: false,
        // Types are checked by `npm run typecheck`; here only the emit matters.
        noEmitOnError: false,
        skipLibCheck: true,
      },
      files: [join(ROOT, 'cli/main.ts')],
      include: [],
    }),
  );
  try {
    execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', tsconfig], { stdio: 'pipe' });
  } catch (err) {
    // Type errors in a checkout being edited must not stop the emit (noEmitOnError is off).
    if (!existsSync(join(JS_DIR, 'cli/main.js'))) throw err;
  }
  for (const dir of ['schemas', 'processors/anomaly-detector']) {
    for (const file of readdirSync(join(ROOT, dir), { recursive: true }) as string[]) {
      if (!file.endsWith('.avsc')) continue;
      mkdirSync(join(JS_DIR, dir, file, '..'), { recursive: true });
      cpSync(join(ROOT, dir, file), join(JS_DIR, dir, file));
    }
  }
  mkdirSync(join(JS_DIR, 'bpf'), { recursive: true });
  symlinkSync(join(ROOT, 'bpf/build'), join(JS_DIR, 'bpf/build'));
  // scripts/versions.env (the Kafka version), read by lib/local-stack.
  if (!existsSync(join(JS_DIR, 'scripts'))) symlinkSync(join(ROOT, 'scripts'), join(JS_DIR, 'scripts'));
  return join(JS_DIR, 'cli/main.js');
}

if (import.meta.main) console.log(precompile());
