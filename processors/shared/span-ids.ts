/**
 * Deterministic span and trace ids. A span's id is a hash of where the exchange was seen (connection
 * key, capture side, its position on that side), so:
 * - reprocessing the same raw events (a restart, `meshpipe replay`) yields the same ids, and exactly-
 *   once output stays exactly-once downstream (OTLP backends de-duplicate on ids);
 * - the span assembler can name the CLIENT span at the other end of a connection as a SERVER span's
 *   parent the moment it has seen the client's request, without waiting for the client's span to end.
 * A root span's trace id is a hash of its span id, for the same reasons.
 *
 * SHA-256 truncated to 64 / 128 bits: collisions are as unlikely as for random W3C ids, and ids are
 * never all zero (the W3C invalid value) because a zero result is nudged.
 */
import { hash } from 'node:crypto';

function hashHex(parts: readonly (string | number | bigint)[], hexChars: number): string {
  // A length prefix keeps ("a|b","c") and ("a","b|c") apart. One string and a one-shot hash: a span id
  // is computed per exchange, and a Hash object per id cost more than the hashing.
  let input = '';
  for (const p of parts) {
    const s = String(p);
    input += `${s.length}:${s};`;
  }
  const hex = hash('sha256', input, 'hex').slice(0, hexChars);
  return /^0+$/.test(hex) ? `${hex.slice(0, -1)}1` : hex;
}

/** A 16-hex-character span id from the identity of one side of one exchange. */
export function deterministicSpanId(parts: readonly (string | number | bigint)[]): string {
  return hashHex(['span', ...parts], 16);
}

/** The 32-hex-character trace id of a trace whose root is `rootSpanId`. */
export function traceIdForRoot(rootSpanId: string): string {
  return hashHex(['trace', rootSpanId], 32);
}
