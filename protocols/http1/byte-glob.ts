/**
 * Name patterns for redaction (`*token*`, `x-*-token`, `sk_live_*`), matched against bytes of a head
 * without converting them to strings: the redactor runs on every head the collector ships.
 *
 * A glob is `*` (any run of bytes, empty included), `?` (one byte), and literal bytes compared ASCII
 * case-insensitively. It is compiled once into its literal parts; matching is prefix, suffix and the
 * parts in between in order, each found by a short scan — no regular expression, no allocation.
 */

/** `?` inside a compiled part: matches any byte. Names and segments never hold NUL, so it is free. */
const ANY = 0;

export interface ByteGlob {
  /** The pattern as configured, for messages. */
  readonly source: string;
  /** Literal runs between stars, lower-cased, `?` as ANY. */
  readonly parts: readonly Uint8Array[];
  readonly anchoredStart: boolean;
  readonly anchoredEnd: boolean;
  /** Bytes a match needs at least (the parts' lengths). */
  readonly minLength: number;
}

export function isGlob(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

export function compileByteGlob(pattern: string): ByteGlob {
  const lower = pattern.toLowerCase();
  const parts: Uint8Array[] = [];
  for (const run of lower.split('*')) {
    if (run === '') continue;
    const part = new Uint8Array(run.length);
    for (let i = 0; i < run.length; i++) {
      const c = run.charCodeAt(i);
      part[i] = c === 0x3f /* ? */ ? ANY : c;
    }
    parts.push(part);
  }
  return {
    source: pattern,
    parts,
    anchoredStart: !lower.startsWith('*'),
    anchoredEnd: !lower.endsWith('*'),
    minLength: parts.reduce((n, p) => n + p.length, 0),
  };
}

function lower(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b + 0x20 : b;
}

function partAt(part: Uint8Array, buf: Uint8Array, at: number): boolean {
  for (let i = 0; i < part.length; i++) {
    const p = part[i]!;
    if (p !== ANY && lower(buf[at + i]!) !== p) return false;
  }
  return true;
}

/** Does buf[start..end) match the glob, ASCII case-insensitively? */
export function matchesByteGlob(glob: ByteGlob, buf: Uint8Array, start: number, end: number): boolean {
  if (end - start < glob.minLength) return false;
  const parts = glob.parts;
  let first = 0;
  let last = parts.length;
  let from = start;
  let to = end;
  if (glob.anchoredStart && last > 0) {
    if (!partAt(parts[0]!, buf, from)) return false;
    from += parts[0]!.length;
    first = 1;
    // A pattern without any star is all anchors: it matches exactly.
    if (glob.anchoredEnd && last === 1) return from === to;
  }
  if (glob.anchoredEnd && last > first) {
    const part = parts[last - 1]!;
    if (to - part.length < from || !partAt(part, buf, to - part.length)) return false;
    to -= part.length;
    last--;
  }
  for (let k = first; k < last; k++) {
    const part = parts[k]!;
    let at = from;
    while (at + part.length <= to && !partAt(part, buf, at)) at++;
    if (at + part.length > to) return false;
    from = at + part.length;
  }
  return true;
}

/** Does any of the globs match? */
export function matchesAny(globs: readonly ByteGlob[], buf: Uint8Array, start: number, end: number): boolean {
  for (let i = 0; i < globs.length; i++) if (matchesByteGlob(globs[i]!, buf, start, end)) return true;
  return false;
}

/**
 * The common shape `*word*`, for many words at once: one pass over the name, trying at each byte only
 * the words that start with it — what keeps the default patterns (`*token*`, `*secret*`...) as cheap as
 * a few exact compares per field.
 */
export interface ContainsSet {
  /** Words by their first (lower-case) byte. */
  readonly byFirst: readonly (readonly Uint8Array[] | undefined)[];
  readonly shortest: number;
}

/** Is `*word*` a plain containment test (no `?`, no other star)? Returns the word, or undefined. */
export function containedWord(pattern: string): string | undefined {
  if (pattern.length < 3 || !pattern.startsWith('*') || !pattern.endsWith('*')) return undefined;
  const word = pattern.slice(1, -1);
  return word.includes('*') || word.includes('?') ? undefined : word.toLowerCase();
}

export function compileContainsSet(words: readonly string[]): ContainsSet {
  const byFirst: Uint8Array[][] = [];
  let shortest = Number.POSITIVE_INFINITY;
  for (const word of words) {
    const bytes = Uint8Array.from(word, (c) => c.charCodeAt(0));
    byFirst[bytes[0]!] ??= [];
    byFirst[bytes[0]!]!.push(bytes);
    shortest = Math.min(shortest, bytes.length);
  }
  return { byFirst, shortest };
}

/** Does buf[start..end) contain one of the words, ASCII case-insensitively? */
export function containsAny(set: ContainsSet, buf: Uint8Array, start: number, end: number): boolean {
  const last = end - set.shortest;
  for (let i = start; i <= last; i++) {
    const words = set.byFirst[lower(buf[i]!)];
    if (words === undefined) continue;
    for (let k = 0; k < words.length; k++) {
      const w = words[k]!;
      if (i + w.length <= end && partAt(w, buf, i)) return true;
    }
  }
  return false;
}
