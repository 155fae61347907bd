/**
 * The path of a module beside the caller's, for spawning it or importing it by path: `.ts` when meshpipe
 * runs from its sources (a checkout), `.js` when it runs from the built npm package. tsc rewrites the
 * specifiers of imports (rewriteRelativeImportExtensions), not paths made at run time.
 *
 *   const MAIN = moduleFile('../main.ts', import.meta.url);   // cli/main.ts, or dist/cli/main.js
 */
import { fileURLToPath } from 'node:url';

export function moduleFile(specifier: string, base: string): string {
  const file = fileURLToPath(new URL(specifier, base));
  return base.endsWith('.js') ? file.replace(/\.ts$/, '.js') : file;
}
