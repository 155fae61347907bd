/**
 * The layering check `npm run lint` runs: every relative import (type-only imports, re-exports and
 * `import('…')` included — a type import is a dependency too) must point to its own layer or one below,
 * and the import graph must have no cycle. It fails naming the files.
 *
 *   node scripts/check-layers.ts [root]   (part of npm run lint; root: this checkout)
 *
 * Layers, bottom to top (CONTRIBUTING.md#layers): a top-level folder belongs to exactly one. A file in a
 * folder no layer names fails the check, so a new folder has to be placed on purpose.
 *
 * Modules run by path (`new URL('./x.ts', import.meta.url)`, `moduleFile(…)`: a forked child) count
 * for the layers too. The SDK's own modules have a narrower rule (RESTRICTED).
 *
 * The imports are read with the TypeScript parser (already a dev dependency), not regular expressions,
 * so comments, strings and template literals that look like imports are not counted.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Bottom to top. A file may import its own layer and the ones before it. */
export const LAYERS: readonly (readonly string[])[] = [
  ['lib'],
  ['schemas', 'protocols'],
  ['runtime'],
  ['collectors', 'processors', 'sinks', 'demo'],
  ['sdk'],
  ['cli'],
  // Build and generation tools (scripts/, infra/'s dashboard builder).
  ['scripts', 'infra'],
  // Real servers, traffic and reference implementations that benchmarks and tests share.
  ['testkit'],
  // bench/ below test/: a test may reuse a benchmark's workload, a benchmark never imports a test, and
  // nothing else imports either.
  ['bench'],
  ['test'],
];

/**
 * Known edges allowed to break the rules for now, each with the reason and who removes it. Keep this
 * list empty: an entry is a debt with a name on it, and the check fails once its import is gone so the
 * entry goes with it.
 */
export const ALLOWED: readonly { from: string; to: string; why: string }[] = [];

const SKIP = new Set(['node_modules', '.local', 'dist', '.git', 'build']);

export interface Problem {
  kind: 'cycle' | 'layer' | 'unplaced' | 'unresolved' | 'stale';
  files: string[];
  message: string;
}

/** Every .ts file under `root` (relative, forward slashes), skipping dependencies and build output. */
export function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (SKIP.has(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
        out.push(toPosix(relative(root, path)));
    }
  };
  walk(root);
  return out.sort();
}

function toPosix(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

/** The module specifiers a file imports: import/export declarations, import('x') calls and types. */
export function importsOf(fileName: string, text: string): string[] {
  return scan(fileName, text).imports;
}

/**
 * The modules a file runs by path — `new URL('./x.ts', import.meta.url)` or `moduleFile('./x.ts',
 * import.meta.url)`, a child process to fork — which depend on it as much as an import does (a benchmark
 * forking a test's fixture). They count for the layers, not for cycles: running a module is no cycle.
 */
export function runsOf(fileName: string, text: string): string[] {
  return scan(fileName, text).runs;
}

function isImportMetaUrl(node: ts.Node | undefined): boolean {
  return (
    node !== undefined &&
    ts.isPropertyAccessExpression(node) &&
    node.name.text === 'url' &&
    ts.isMetaProperty(node.expression) &&
    node.expression.keywordToken === ts.SyntaxKind.ImportKeyword
  );
}

function scan(fileName: string, text: string): { imports: string[]; runs: string[] } {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const specifiers: string[] = [];
  const runs: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      specifiers.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      specifiers.push(node.arguments[0].text);
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      specifiers.push(node.argument.literal.text);
    } else if (
      (ts.isNewExpression(node) || ts.isCallExpression(node)) &&
      ts.isIdentifier(node.expression) &&
      (node.expression.text === 'URL' || node.expression.text === 'moduleFile') &&
      node.arguments !== undefined &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteralLike(node.arguments[0]) &&
      isImportMetaUrl(node.arguments[1]) &&
      node.arguments[0].text.startsWith('.') &&
      node.arguments[0].text.endsWith('.ts')
    ) {
      runs.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { imports: specifiers, runs };
}

/** The top-level folder of a file; files at the root have none. */
function folderOf(file: string): string {
  const slash = file.indexOf('/');
  return slash === -1 ? '' : file.slice(0, slash);
}

function layerOf(folder: string): number {
  return LAYERS.findIndex((names) => names.includes(folder));
}

function describe(layer: number): string {
  return `${LAYERS[layer]!.join('/')} (layer ${layer})`;
}

/**
 * The files each file imports (relative imports only: packages are not layers), the files it runs by
 * path, and the problems found resolving them.
 */
export function importGraph(
  root: string,
  files: readonly string[],
): { graph: Map<string, string[]>; runs: Map<string, string[]>; problems: Problem[] } {
  const graph = new Map<string, string[]>();
  const runs = new Map<string, string[]>();
  const problems: Problem[] = [];
  for (const file of files) {
    const found = scan(file, readFileSync(join(root, file), 'utf8'));
    const resolveAll = (specifiers: readonly string[], verb: string): string[] => {
      const targets: string[] = [];
      for (const specifier of specifiers) {
        if (!specifier.startsWith('.')) continue;
        const absolute = resolve(root, dirname(file), specifier);
        if (!existsSync(absolute) || statSync(absolute).isDirectory()) {
          problems.push({
            kind: 'unresolved',
            files: [file],
            message: `${file} ${verb} '${specifier}', which is not a file (relative imports name the .ts file)`,
          });
          continue;
        }
        const target = toPosix(relative(root, absolute));
        if (target.endsWith('.ts')) targets.push(target);
      }
      return targets;
    };
    graph.set(file, resolveAll(found.imports, 'imports'));
    runs.set(file, resolveAll(found.runs, 'runs'));
  }
  return { graph, runs, problems };
}

/**
 * The SDK's own modules (all of sdk/ but its two entry points, which re-export the authoring contracts
 * from below) use nothing internal beyond lib/ and schemas/, so the public surface stays small.
 */
export const RESTRICTED: readonly { files: RegExp; may: readonly string[]; why: string }[] = [
  {
    files: /^sdk\/(?!index\.ts$|testing\.ts$)/,
    may: ['lib', 'schemas', 'sdk'],
    why: "the SDK's own modules use only lib/ and schemas/",
  },
];

/** Edges going up a layer or out of a restricted set, and files in a folder no layer names. */
export function layerProblems(
  graph: ReadonlyMap<string, readonly string[]>,
  runs: ReadonlyMap<string, readonly string[]> = new Map(),
): Problem[] {
  const problems: Problem[] = [];
  const unplaced = new Set<string>();
  for (const [file, targets] of graph) {
    const from = folderOf(file);
    const fromLayer = layerOf(from);
    if (fromLayer === -1) {
      if (!unplaced.has(from)) {
        unplaced.add(from);
        problems.push({
          kind: 'unplaced',
          files: [file],
          message: `${file} is in ${from === '' ? 'the repository root' : `${from}/`}, which no layer names (add it to LAYERS in scripts/check-layers.ts)`,
        });
      }
      continue;
    }
    const restriction = RESTRICTED.find((r) => r.files.test(file));
    const edges = [
      ...targets.map((target) => ({ target, verb: 'imports' })),
      ...(runs.get(file) ?? []).map((target) => ({ target, verb: 'runs' })),
    ];
    for (const { target, verb } of edges) {
      if (ALLOWED.some((edge) => edge.from === file && edge.to === target)) continue;
      const to = folderOf(target);
      const toLayer = layerOf(to);
      if (toLayer === -1) continue; // reported once as unplaced when its own files are checked
      if (toLayer > fromLayer) {
        problems.push({
          kind: 'layer',
          files: [file, target],
          message: `${file} ${verb} ${target}: ${describe(fromLayer)} may not ${verb === 'runs' ? 'run' : 'import from'} ${describe(toLayer)}, a layer above it`,
        });
      } else if (restriction !== undefined && !restriction.may.includes(to)) {
        problems.push({
          kind: 'layer',
          files: [file, target],
          message: `${file} ${verb} ${target}: ${restriction.why}`,
        });
      }
    }
  }
  return problems;
}

/** Every import cycle (Tarjan's strongly connected components), each shown as one closed path. */
export function cycleProblems(graph: ReadonlyMap<string, readonly string[]>): Problem[] {
  const allowed = (from: string, to: string) => ALLOWED.some((edge) => edge.from === from && edge.to === to);
  const edges = (file: string) => (graph.get(file) ?? []).filter((to) => graph.has(to) && !allowed(file, to));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let counter = 0;
  // Iterative, so a long chain of imports cannot overflow the call stack.
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: { file: string; next: number }[] = [{ file: start, next: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const targets = edges(frame.file);
      if (frame.next < targets.length) {
        const to = targets[frame.next++]!;
        if (!index.has(to)) {
          index.set(to, counter);
          low.set(to, counter++);
          stack.push(to);
          onStack.add(to);
          work.push({ file: to, next: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.file, Math.min(low.get(frame.file)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low.set(parent.file, Math.min(low.get(parent.file)!, low.get(frame.file)!));
      if (low.get(frame.file) === index.get(frame.file)) {
        const component: string[] = [];
        let file: string;
        do {
          file = stack.pop()!;
          onStack.delete(file);
          component.push(file);
        } while (file !== frame.file);
        const selfImport = component.length === 1 && edges(frame.file).includes(frame.file);
        if (component.length > 1 || selfImport) components.push(component.sort());
      }
    }
  }
  return components.map((component) => {
    const path = cyclePath(component, edges);
    return {
      kind: 'cycle',
      files: component,
      message: `import cycle through ${component.length} file(s): ${path.join(' → ')}`,
    };
  });
}

/** One closed path through a strongly connected component, from its first file back to it (BFS). */
function cyclePath(component: readonly string[], edges: (file: string) => string[]): string[] {
  const members = new Set(component);
  const start = component[0]!;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const to of edges(file)) {
      if (!members.has(to)) continue;
      if (to === start) {
        const path = [start];
        for (let at = file; at !== start; at = previous.get(at)!) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!previous.has(to)) {
        previous.set(to, file);
        queue.push(to);
      }
    }
  }
  return [start, start];
}

/** Allowlist entries whose import is gone: removing the debt removes its entry too. */
export function staleAllowances(
  graph: ReadonlyMap<string, readonly string[]>,
  allowed: readonly { from: string; to: string }[] = ALLOWED,
): Problem[] {
  return allowed
    .filter((edge) => graph.has(edge.from) && !graph.get(edge.from)!.includes(edge.to))
    .map((edge) => ({
      kind: 'stale',
      files: [edge.from, edge.to],
      message: `${edge.from} no longer imports ${edge.to}: remove its entry from ALLOWED in scripts/check-layers.ts`,
    }));
}

/** All problems of the tree at `root`. */
export function checkLayers(root: string): Problem[] {
  const { graph, runs, problems } = importGraph(root, sourceFiles(root));
  return [...problems, ...layerProblems(graph, runs), ...cycleProblems(graph), ...staleAllowances(graph)];
}

if (import.meta.main) {
  const root = process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url));
  const problems = checkLayers(root);
  for (const problem of problems) process.stderr.write(`check-layers: ${problem.message}\n`);
  if (problems.length > 0) {
    process.stderr.write(
      `check-layers: ${problems.length} problem(s); layers bottom to top: ${LAYERS.map((l) => l.join('/')).join(' < ')} (CONTRIBUTING.md#layers)\n`,
    );
    process.exit(1);
  }
  process.stdout.write('check-layers: no import cycles, no upward imports\n');
}
