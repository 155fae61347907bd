/**
 * How far apart two names are, in typing mistakes: the optimal string alignment distance — Levenshtein's
 * one-letter insertions, deletions and substitutions, plus two neighbours swapped counting as one, the
 * commonest slip (`otpl` is one mistake from `otlp`, not two). Used for "did you mean" suggestions of
 * unknown keys (spec.ts) and to tell a misspelled built-in section from a user's own (section-names.ts).
 */

export function editDistance(a: string, b: string): number {
  // Three rows: the one before the previous is needed for a swap.
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, before[j - 2]! + 1);
      current.push(d);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}

/** The candidate nearest to `name` (case aside) at most `maxDistance` away; ties go to the first. */
export function closest(
  name: string,
  candidates: readonly string[],
  maxDistance: number,
): string | undefined {
  let best: string | undefined;
  let bestDistance = maxDistance + 1;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}
