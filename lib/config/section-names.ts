/**
 * Which names a `sinks.<name>` or `processors.<name>` section may have. Both are open records
 * (meshpipe-config.ts): a component loaded from a path is only known when it runs, so any name is
 * accepted there. Left at that, `sinks.otpl` would be a section nobody reads while the OTLP sink runs
 * on its defaults, without a word. So a name almost a built-in's is taken for a typo and refused:
 * one mistake away (a letter added, dropped or changed, two neighbours swapped: edit-distance.ts), or
 * two for names of 12 characters or more (`span-asembelr`). Short names get one only: two changes turn
 * `otlp` into `http`, a sink of its own. A name far from every built-in (`clickhouse`) is a user's
 * component and stays; so does the section of the component the command runs, whatever its name (it
 * is that component's, not a typo).
 *
 * The built-in names live above lib/ (sinks/builtin-sinks.ts, processors/runtime/builtin-processors.ts),
 * which call this with them; cli/main.ts checks both kinds whenever a command loads the configuration.
 */
import { ERRORS, MeshpipeError } from '../errors.ts';
import { editDistance } from './edit-distance.ts';

export type ComponentKind = 'sinks' | 'processors';

/** How many mistakes make a name a misspelling of `builtin`. */
function typoDistance(builtin: string): number {
  return builtin.length >= 12 ? 2 : 1;
}

/** The built-in that `name` is a misspelling of, if any (itself a built-in: none). */
export function misspelledBuiltin(name: string, builtins: readonly string[]): string | undefined {
  if (builtins.includes(name)) return undefined;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const builtin of builtins) {
    // Case counts as a mistake of no letter: component names are lower-case, so `OTLP` is `otlp`.
    const d = editDistance(name.toLowerCase(), builtin);
    if (d <= typoDistance(builtin) && d < bestDistance) {
      best = builtin;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * Throws CONFIG_SECTION_MISSPELLED for the first section of `kind` whose name is a misspelling of a
 * built-in's, the sections of the `running` components aside.
 */
export function checkSectionNames(
  kind: ComponentKind,
  sections: Readonly<Record<string, unknown>>,
  builtins: readonly string[],
  running: readonly string[] = [],
): void {
  for (const name of Object.keys(sections)) {
    if (running.includes(name)) continue;
    const builtin = misspelledBuiltin(name, builtins);
    if (builtin === undefined) continue;
    throw new MeshpipeError(ERRORS.CONFIG_SECTION_MISSPELLED, [
      `${kind}.${name}`,
      kind === 'sinks' ? 'sink' : 'processor',
      `${kind}.${builtin}`,
    ]);
  }
}
