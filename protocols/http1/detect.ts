/**
 * Message-start detection: is there an HTTP/1.x request line or status line at this offset?
 *
 * The same rule the kernel applies to decide whether a buffer starts a message and is worth copying
 * (bpf/lib/http.h): a listed method followed by a space; a status line "HTTP/1." DIGIT SP 3DIGIT. The
 * kernel tests what fits in one 8-byte word ("HTTP/1.0", "HTTP/1.1"); here the whole status prefix is
 * checked, so user space accepts a subset of what the kernel copies, never more: a buffer the kernel
 * did not copy is never needed here. Agreeing with the kernel matters because the collector
 * resynchronises on exactly the buffers the kernel chose to copy. A prefix test on a few bytes, no
 * allocation, no string conversion.
 *
 * On a connection already known to be HTTP/1.x, {@link detectTokenRequestLine} also takes a request
 * line with any token method, the whole line being the evidence. The kernel's rule there
 * (mp_http_token_method) takes nginx's method alphabet (A-Z, '-', '_'), so a lower-case method is framed
 * when its bytes were copied, but does not reset the copy budget.
 */

import { indexOfByte, TCHAR } from './parse-head.ts';
import type { MessageKind } from './types.ts';

// PROTOCOL-REGISTRY: the message-start rule. The in-kernel detector (bpf/lib/http.h,
// mp_http_message_start) applies the same two method lists and response prefix; keep them in sync
// (test/protocols/http1/detect.test.ts reads the kernel's lists out of http.h and compares).
//
// Why each side keeps its own list: the kernel's is compiled into masked compares of one 8-byte word
// (no strings, no loops in BPF), and user space needs the methods as strings to check the whole
// method and its space, which the kernel cannot see past 8 bytes ("PROPPATCH ", "M-SEARCH ").

/**
 * The RFC 9110 §9.3 methods plus PATCH (RFC 5789): also the set OpenTelemetry's semantic conventions
 * know (`http.request.method`; any other is `_OTHER`), which is why it is a list of its own.
 */
export const HTTP1_METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
] as const;

export type Http1Method = (typeof HTTP1_METHODS)[number];

/**
 * Extension methods common enough to be the first request on a connection, so they classify it as
 * HTTP/1.x too: cache purges (Varnish, nginx, Fastly), WebDAV (RFC 4918), REPORT (RFC 3253), SEARCH
 * (RFC 5323), QUERY (draft-ietf-httpbis-safe-method-w-body), M-SEARCH (SSDP), LINK/UNLINK (RFC 2068),
 * SOURCE (Icecast). On a connection already known to be HTTP any token method is a request
 * ({@link detectTokenRequestLine}); this list only matters for a connection's first bytes.
 */
export const EXTENSION_METHODS = [
  'PURGE',
  'REPORT',
  'SEARCH',
  'QUERY',
  'M-SEARCH',
  'LINK',
  'UNLINK',
  'SOURCE',
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
] as const;

/** Every method the detector recognises at a connection's first bytes. */
export const DETECTED_METHODS: readonly string[] = [...HTTP1_METHODS, ...EXTENSION_METHODS];

/** A status line starts "HTTP/1." DIGIT SP (RFC 9112 §4); the detector then wants three digits. */
export const RESPONSE_PREFIX = 'HTTP/1.';

/** Bytes needed to recognise a status line: "HTTP/1.1 200". */
export const RESPONSE_DETECT_BYTES = RESPONSE_PREFIX.length + 1 + 1 + 3;

/** The longest method plus its space: fewer bytes than this may be an undecided prefix. */
export const REQUEST_DETECT_MAX_BYTES = Math.max(...DETECTED_METHODS.map((m) => m.length)) + 1;

/** Outcome of a detection at one offset. */
export const MESSAGE_START = {
  /** Not a message start. */
  none: 0,
  /** A request line starts here. */
  request: 1,
  /** A status line starts here. */
  response: 2,
  /** The bytes so far are a proper prefix of a message start; more bytes would decide. */
  needsMore: 3,
} as const;

export type MessageStart = (typeof MESSAGE_START)[keyof typeof MESSAGE_START];

const SP = 0x20;
const LF = 0x0a;

function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Method bytes plus the trailing space, indexed by first byte so one switch picks the candidates. */
const METHODS_BY_FIRST_BYTE: ReadonlyMap<number, readonly Uint8Array[]> = (() => {
  const map = new Map<number, Uint8Array[]>();
  for (const m of DETECTED_METHODS) {
    const bytes = ascii(m + ' ');
    const list = map.get(bytes[0]!) ?? [];
    list.push(bytes);
    map.set(bytes[0]!, list);
  }
  return map;
})();

const RESPONSE_PREFIX_BYTES = ascii(RESPONSE_PREFIX);

function isDigit(b: number | undefined): boolean {
  return b !== undefined && b >= 0x30 && b <= 0x39;
}

/** Compares `pattern` against `buf[at..end)`: 1 match, 0 mismatch, -1 matches as far as the bytes go. */
function matchPrefix(buf: Uint8Array, at: number, end: number, pattern: Uint8Array): number {
  const n = Math.min(pattern.length, end - at);
  for (let i = 0; i < n; i++) if (buf[at + i] !== pattern[i]) return 0;
  return n === pattern.length ? 1 : -1;
}

/** After "HTTP/1.": DIGIT SP DIGIT DIGIT DIGIT. 1 match, 0 mismatch, -1 undecided (bytes ran out). */
function matchStatusTail(buf: Uint8Array, at: number, end: number): number {
  for (let i = 0; i < 5; i++) {
    if (at + i >= end) return -1;
    const b = buf[at + i];
    if (i === 1 ? b !== SP : !isDigit(b)) return 0;
  }
  return 1;
}

/**
 * Detects a message start at `buf[at]`, looking no further than `end`.
 * @returns one of {@link MESSAGE_START}; `needsMore` only when the bytes run out before deciding.
 */
export function detectMessageStart(buf: Uint8Array, at = 0, end: number = buf.length): MessageStart {
  if (at >= end) return MESSAGE_START.needsMore;
  const first = buf[at]!;
  let undecided = false;
  if (first === 0x48 /* H */) {
    const r = matchPrefix(buf, at, end, RESPONSE_PREFIX_BYTES);
    if (r === 1) {
      const t = matchStatusTail(buf, at + RESPONSE_PREFIX_BYTES.length, end);
      if (t === 1) return MESSAGE_START.response;
      if (t === -1) undecided = true;
    } else if (r === -1) {
      undecided = true;
    }
    // "H" may also be HEAD: fall through to the method table.
  }
  const candidates = METHODS_BY_FIRST_BYTE.get(first);
  if (candidates !== undefined) {
    for (const method of candidates) {
      const r = matchPrefix(buf, at, end, method);
      if (r === 1) return MESSAGE_START.request;
      if (r === -1) undecided = true;
    }
  }
  return undecided ? MESSAGE_START.needsMore : MESSAGE_START.none;
}

const HTTP_VERSION_PREFIX = ascii('HTTP/1.');
const CR = 0x0d;

/**
 * A request line with any method (RFC 9110 §9.1: a method is a token), for a connection already known
 * to be HTTP/1.x: `token SP target SP HTTP/1.DIGIT` and a line end. Without a list to lean on, the
 * whole line is the evidence, so a body line that merely starts with a word and a space is not taken
 * for a request. Called only when {@link detectMessageStart} found no listed start.
 * @returns `request`, `none`, or `needsMore` when the bytes run out while the line still fits.
 */
export function detectTokenRequestLine(buf: Uint8Array, at = 0, end: number = buf.length): MessageStart {
  let i = at;
  while (i < end && TCHAR[buf[i]!] === 1) i++;
  if (i === end) return MESSAGE_START.needsMore;
  if (i === at || buf[i] !== SP) return MESSAGE_START.none;
  const targetStart = ++i;
  // The target is visible bytes (RFC 9112 §3.2), as parse-head.ts reads it.
  while (i < end && buf[i]! > SP && buf[i] !== 0x7f) i++;
  if (i === end) return MESSAGE_START.needsMore;
  if (i === targetStart || buf[i] !== SP) return MESSAGE_START.none;
  const r = matchPrefix(buf, i + 1, end, HTTP_VERSION_PREFIX);
  if (r !== 1) return r === 0 ? MESSAGE_START.none : MESSAGE_START.needsMore;
  i += 1 + HTTP_VERSION_PREFIX.length;
  if (i >= end) return MESSAGE_START.needsMore;
  if (!isDigit(buf[i])) return MESSAGE_START.none;
  if (++i >= end) return MESSAGE_START.needsMore;
  return buf[i] === CR || buf[i] === LF ? MESSAGE_START.request : MESSAGE_START.none;
}

/**
 * The framer's rule on a connection the kernel classified as HTTP/1.x: a listed start (cheap, the
 * common case), else a request line with any method ({@link detectTokenRequestLine}).
 */
export function detectStreamMessageStart(buf: Uint8Array, at = 0, end: number = buf.length): MessageStart {
  const listed = detectMessageStart(buf, at, end);
  if (listed === MESSAGE_START.request || listed === MESSAGE_START.response) return listed;
  const any = detectTokenRequestLine(buf, at, end);
  return any === MESSAGE_START.none ? listed : any;
}

/** The message kind of a decided detection, `null` for `none` / `needsMore`. */
export function messageStartKind(start: MessageStart): MessageKind | null {
  if (start === MESSAGE_START.request) return 'request';
  if (start === MESSAGE_START.response) return 'response';
  return null;
}

/**
 * Finds the first line start in `buf[from..end)` (the byte after an LF, at or after `from + 1`) where a
 * message of an accepted kind starts ({@link detectStreamMessageStart}: the search runs on connections
 * known to be HTTP/1.x). Used to resynchronise inside copied bytes that were not understood; the
 * search jumps LF to LF and a request line is checked no further than its own line, so it costs one
 * pass at most.
 * @param accept the kind wanted, or `null` for either.
 * @returns the offset of the message start, or -1.
 */
export function findMessageStartAtLine(
  buf: Uint8Array,
  from: number,
  end: number,
  accept: MessageKind | null,
): number {
  let i = from;
  while (i < end) {
    const lf = indexOfByte(buf, LF, i, end);
    if (lf === -1 || lf + 1 >= end) return -1;
    const kind = messageStartKind(detectStreamMessageStart(buf, lf + 1, end));
    if (kind !== null && (accept === null || accept === kind)) return lf + 1;
    i = lf + 1;
  }
  return -1;
}

/** The last-chunk marker the kernel looks for at the end of an uncopied buffer (RFC 9112 §7.1). */
export const CHUNK_TERMINATOR = '\r\n0\r\n\r\n';

const CHUNK_TERMINATOR_BYTES = ascii(CHUNK_TERMINATOR);

/**
 * The kernel's chunk-terminator test, for buffers whose bytes we do have: the buffer ends with
 * "\r\n0\r\n\r\n" or is exactly "0\r\n\r\n".
 */
export function endsWithChunkTerminator(buf: Uint8Array, start = 0, end: number = buf.length): boolean {
  const n = end - start;
  const full = CHUNK_TERMINATOR_BYTES.length;
  if (n >= full) return matchPrefix(buf, end - full, end, CHUNK_TERMINATOR_BYTES) === 1;
  if (n === full - 2) return matchPrefix(buf, start, end, CHUNK_TERMINATOR_BYTES.subarray(2)) === 1;
  return false;
}
