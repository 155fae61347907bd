/**
 * Values that look like a secret or personal data wherever they appear in a URL — a path segment, a
 * query or fragment value — whatever the parameter is called: the redactor (redact.ts) replaces them
 * before a head leaves the node, and route templating (processors/shared/route-template.ts) never
 * turns one into a route.
 *
 * Shapes, on the bytes as sent (not percent-decoded; `%40` counts as `@`):
 *   e-mail        local@domain.tld                                   (personal data)
 *   JWT           eyJ… . … . …  (base64url JSON header, RFC 7519)    (a bearer credential)
 *   long hex      32+ hex digits: API keys, session ids, signatures, digests
 *   random token  20+ letters and digits whose classes (lower, upper, digit) change at 2 of 5 places
 *                 or more: base64/base64url keys and tokens (Slack webhooks, reset links, bot tokens)
 * What stays: numbers, UUIDs (ids, templated by routes), words, camelCase and kebab-case names, slugs
 * with dates and versions (`2024-03-15-release-notes-v2`), file names. The random-token rule is a
 * heuristic: it misses about one 22-letter token in six without digits, and a path that carries such
 * secrets is better redacted with a configured pattern (collector.redact.pathSegments).
 */

const AT = 0x40;
const DOT = 0x2e;
const PERCENT = 0x25;

const OTHER = 0;
const LOWER = 1;
const UPPER = 2;
const DIGIT = 3;
/** `-`, `_`, `+`, `/`, `=` and %XX: separators inside tokens, neutral for the class-change count. */
const SEPARATOR = 4;

/** Byte classes: letters and digits, token separators, and everything else (never a token). */
const CLASS: Uint8Array = (() => {
  const t = new Uint8Array(256).fill(OTHER);
  for (let c = 0x61; c <= 0x7a; c++) t[c] = LOWER;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = UPPER;
  for (let c = 0x30; c <= 0x39; c++) t[c] = DIGIT;
  for (const ch of '-_+/=') t[ch.charCodeAt(0)] = SEPARATOR;
  return t;
})();

const HEX: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (const ch of '0123456789abcdefABCDEF') t[ch.charCodeAt(0)] = 1;
  return t;
})();

/** Letters and digits a random token has at least (separators not counted). */
export const MIN_TOKEN_LENGTH = 20;
/** Hex digits a hex run has at least. */
export const MIN_HEX_LENGTH = 32;

/** Does buf[start..end) look like a secret or personal data (see the file comment)? */
export function looksSecret(buf: Uint8Array, start: number, end: number): boolean {
  const length = end - start;
  if (length < 5) return false;
  if (isEmail(buf, start, end)) return true;
  if (length < 16) return false;
  if (buf[start] === 0x65 && buf[start + 1] === 0x79 && buf[start + 2] === 0x4a && isJwt(buf, start, end))
    return true;
  return isLongHex(buf, start, end) || isRandomToken(buf, start, end);
}

/** local@domain.tld: something before the `@`, a dotted domain of letters, digits and `-` after it. */
function isEmail(buf: Uint8Array, start: number, end: number): boolean {
  let at = -1;
  let after = 0;
  for (let i = start; i < end; i++) {
    if (buf[i] === AT) {
      at = i;
      after = i + 1;
      break;
    }
    if (buf[i] === PERCENT && buf[i + 1] === 0x34 && buf[i + 2] === 0x30 && i + 2 < end) {
      at = i;
      after = i + 3;
      break;
    }
  }
  if (at <= start || after >= end) return false;
  let dots = 0;
  let label = 0;
  for (let i = after; i < end; i++) {
    const b = buf[i]!;
    if (b === DOT) {
      if (label === 0) return false;
      dots++;
      label = 0;
    } else if (CLASS[b] === LOWER || CLASS[b] === UPPER || CLASS[b] === DIGIT || b === 0x2d) {
      label++;
    } else {
      return false;
    }
  }
  return dots > 0 && label > 0;
}

/** Three base64url parts separated by dots, the first starting with `eyJ` (`{"`). */
function isJwt(buf: Uint8Array, start: number, end: number): boolean {
  let dots = 0;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b === DOT) dots++;
    else if (CLASS[b] === OTHER || b === 0x2b || b === 0x2f) return false;
  }
  return dots === 2;
}

function isLongHex(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start < MIN_HEX_LENGTH) return false;
  for (let i = start; i < end; i++) if (HEX[buf[i]!] !== 1) return false;
  return true;
}

/** 8-4-4-4-12 hex digits: an id, not a secret (routes template it as `{id}`). */
function isUuid(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const b = buf[start + i]!;
    if (i === 8 || i === 13 || i === 18 || i === 23 ? b !== 0x2d : HEX[b] !== 1) return false;
  }
  return true;
}

/**
 * Letters, digits and separators only, MIN_TOKEN_LENGTH letters and digits or more, whose class
 * changes between consecutive letters and digits at 40% of places or more: random base64 changes
 * class at about 60% of places, random hex at 47%, words and camelCase names at 30% and less.
 */
function isRandomToken(buf: Uint8Array, start: number, end: number): boolean {
  let units = 0;
  let changes = 0;
  let previous = OTHER;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b === PERCENT) {
      if (HEX[buf[i + 1]!] !== 1 || HEX[buf[i + 2]!] !== 1 || i + 2 >= end) return false;
      i += 2;
      continue;
    }
    const c = CLASS[b]!;
    if (c === OTHER) return false;
    if (c === SEPARATOR) continue;
    if (previous !== OTHER && c !== previous) changes++;
    previous = c;
    units++;
  }
  if (units < MIN_TOKEN_LENGTH) return false;
  if (changes * 5 < (units - 1) * 2) return false;
  return !isUuid(buf, start, end);
}

/** The same test on a string (route templating works on strings); allocation-free for short ones. */
const scratch = new Uint8Array(512);
export function looksSecretText(text: string): boolean {
  if (text.length < 5) return false;
  const buf = text.length <= scratch.length ? scratch : new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    buf[i] = c > 0xff ? 0x7f : c;
  }
  return looksSecret(buf, 0, text.length);
}
