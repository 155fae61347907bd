/**
 * Parses an HTTP/1.x request or response head (start line, header fields, empty line) out of a byte
 * range, Pixie-style: the result is a parse state, never an exception.
 *
 * - `complete`: the head ends inside the range; `consumed` bytes belong to it.
 * - `needs-more`: every complete line so far is valid, the empty line has not arrived yet.
 * - `invalid`: a complete line breaks the grammar, or a limit was exceeded; `reason` says which.
 *
 * Lines are validated as soon as they are complete, so garbage is rejected early instead of being
 * buffered up to the limit. A request head is read the way strict servers read it (Node's llhttp in
 * its default mode, which answers 400 and closes): bare-LF line ends, obs-fold and control bytes in a
 * field value are rejected, because a lenient reading of them is how smuggled requests hide. A
 * response head keeps the leniency RFC 9112 allows a recipient (bare LF, §2.2; obs-fold joined with
 * SP, §5.2), as clients do; control bytes other than HTAB are rejected in both (RFC 9110 §5.5). Both
 * accept empty lines before the start line (§2.2) and reject whitespace before a colon and
 * conflicting Content-Length (smuggling vectors).
 */

import type { MessageKind, ParsedHead } from './types.ts';

/** Most header fields in one head; more is `too-many-headers`. (Node's default cap is 2000, Pixie's 50.) */
export const MAX_HEADER_COUNT = 128;
/** Longest start line or field line, terminator excluded; longer is `line-too-long` (nginx: 8 KiB). */
export const MAX_LINE_BYTES = 8192;
/** Largest head, start line to empty line; larger is `head-too-large`. */
export const MAX_HEAD_BYTES = 65536;
/** Empty lines tolerated before a request line (RFC 9112 §2.2 asks for at least one). */
export const MAX_LEADING_EMPTY_LINES = 4;
/** Digits accepted in a Content-Length: 15 keeps every value an exact JavaScript number. */
export const MAX_CONTENT_LENGTH_DIGITS = 15;

/** Why a head was rejected. Stable strings: they are counter labels. */
export const HEAD_INVALID_REASON = {
  badStartLine: 'bad-start-line',
  badVersion: 'bad-version',
  badStatusCode: 'bad-status-code',
  badMethod: 'bad-method',
  badTarget: 'bad-target',
  bareCr: 'bare-cr',
  bareLf: 'bare-lf',
  obsFold: 'obs-fold',
  badFieldValue: 'bad-field-value',
  leadingWhitespace: 'leading-whitespace',
  missingColon: 'missing-colon',
  badFieldName: 'bad-field-name',
  whitespaceBeforeColon: 'whitespace-before-colon',
  badContentLength: 'bad-content-length',
  lineTooLong: 'line-too-long',
  headTooLarge: 'head-too-large',
  tooManyHeaders: 'too-many-headers',
  tooManyEmptyLines: 'too-many-empty-lines',
} as const;

export type HeadInvalidReason = (typeof HEAD_INVALID_REASON)[keyof typeof HEAD_INVALID_REASON];

export type HeadParseResult =
  | { readonly state: 'complete'; readonly head: ParsedHead; readonly consumed: number }
  | { readonly state: 'needs-more' }
  | { readonly state: 'invalid'; readonly reason: HeadInvalidReason };

export interface ParseHeadOptions {
  /**
   * Accept a head cut before its empty line (the kernel's copy cap, lost events): parse the complete
   * lines and the trailing partial one, and return `complete` with `head.truncated` set instead of
   * `needs-more`. The limits cut the head too instead of rejecting it: a start line longer than
   * `maxLineBytes` is read as far as the limit, and the fields stop before a line that is too long,
   * the one past `maxHeaderCount`, or the bytes past `maxHeadBytes`. The span assembler uses this on
   * heads the collector gave up on.
   */
  readonly allowTruncated?: boolean;
  /** Default {@link MAX_HEADER_COUNT}. */
  readonly maxHeaderCount?: number;
  /** Default {@link MAX_LINE_BYTES}. */
  readonly maxLineBytes?: number;
  /** Default {@link MAX_HEAD_BYTES}. */
  readonly maxHeadBytes?: number;
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

const NEEDS_MORE: HeadParseResult = Object.freeze({ state: 'needs-more' });

/** tchar (RFC 9110 §5.6.2): the bytes allowed in a method and a field name (1 = allowed). */
export const TCHAR: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (const ch of "!#$%&'*+-.^_`|~") t[ch.charCodeAt(0)] = 1;
  return t;
})();

function invalid(reason: HeadInvalidReason): HeadParseResult {
  return { state: 'invalid', reason };
}

/** Buffer's native latin1 slice (what `buf.toString('latin1', start, end)` calls, without its checks). */
interface LatinSlice {
  latin1Slice(start: number, end: number): string;
}

/**
 * Latin-1 decoding of `buf[start..end)`: one byte, one code unit. Field values are octets whose
 * charset the protocol does not define (RFC 9110 §5.5), so this keeps every byte recoverable. Heads
 * arrive as Buffers (the loader's chunks, decoded records), whose native latin1 slice makes the string
 * in one step; it was the largest single cost of parsing a head as `String.fromCharCode` over subarrays.
 */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  if (Buffer.isBuffer(buf)) return (buf as Buffer & LatinSlice).latin1Slice(start, end);
  let s = '';
  // Chunked to stay under the engine's argument-count limit on very long lines.
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(null, buf.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  }
  return s;
}

/**
 * The first `byte` in `buf[from..end)`, or -1. A loop, not `indexOf`: lines of a head are tens of bytes,
 * and Buffer's indexOf costs more in argument handling than a scan of that many bytes (it was an eighth
 * of the collector's time framing heads; bench/collector/agent.ts).
 */
export function indexOfByte(buf: Uint8Array, byte: number, from: number, end: number): number {
  for (let i = from; i < end; i++) if (buf[i] === byte) return i;
  return -1;
}

function isOws(b: number | undefined): boolean {
  return b === SP || b === HT;
}

/**
 * Offset just past the empty line that ends a head starting at `start`, or -1 if it is not in
 * `buf[start..end)`. Accepts CRLF and bare LF line ends (RFC 9112 §2.2). `scanFrom` lets an incremental
 * caller skip bytes it already scanned (it is backed off by 3 to catch a terminator split across calls).
 * Leading empty lines before the start line are not a head end.
 */
export function findHeadEnd(buf: Uint8Array, start: number, end: number, scanFrom: number = start): number {
  let i = Math.max(start, scanFrom - 3);
  // Skip the leading empty lines RFC 9112 §2.2 lets a recipient ignore; they do not end a head.
  let first = start;
  while (first < end && (buf[first] === CR || buf[first] === LF)) first++;
  if (i < first) i = first;
  while (i < end) {
    const lf = indexOfByte(buf, LF, i, end);
    if (lf === -1) return -1;
    // The line after this LF is empty if it is LF or CRLF.
    const next = lf + 1;
    if (next < end && buf[next] === LF) return next + 1;
    if (next + 1 < end && buf[next] === CR && buf[next + 1] === LF) return next + 2;
    i = next;
  }
  return -1;
}

interface MutableHead {
  kind: MessageKind;
  method: string | null;
  target: string | null;
  path: string | null;
  query: string | null;
  version: string | null;
  statusCode: number | null;
  reason: string | null;
}

/** Parses "HTTP/1." DIGIT at `at`; returns the version string or null. */
function parseVersion(buf: Uint8Array, at: number, end: number): string | null {
  if (end - at !== 8) return null;
  // "HTTP/" DIGIT "." DIGIT with major version 1 (RFC 9112 §2.3); HTTP/2 has no text framing.
  if (
    buf[at] !== 0x48 ||
    buf[at + 1] !== 0x54 ||
    buf[at + 2] !== 0x54 ||
    buf[at + 3] !== 0x50 ||
    buf[at + 4] !== 0x2f ||
    buf[at + 5] !== 0x31 ||
    buf[at + 6] !== 0x2e
  ) {
    return null;
  }
  const minor = buf[at + 7]!;
  if (minor < 0x30 || minor > 0x39) return null;
  return `1.${minor - 0x30}`;
}

function splitTarget(head: MutableHead, target: string): void {
  head.target = target;
  let rest = target;
  if (target === '*') {
    head.path = '*';
    return;
  }
  if (target.charCodeAt(0) !== 0x2f /* / */) {
    // absolute-form (RFC 9112 §3.2.2) has "://"; anything else is authority-form (CONNECT, §3.2.3).
    const scheme = target.indexOf('://');
    if (scheme === -1) return;
    const pathStart = target.slice(scheme + 3).search(/[/?#]/);
    rest = pathStart === -1 ? '/' : target.slice(scheme + 3 + pathStart);
    if (rest.charCodeAt(0) !== 0x2f) rest = '/' + rest;
  }
  const hash = rest.indexOf('#');
  if (hash !== -1) rest = rest.slice(0, hash);
  const q = rest.indexOf('?');
  head.path = q === -1 ? rest : rest.slice(0, q);
  head.query = q === -1 ? null : rest.slice(q + 1);
}

/**
 * Parses the start line `buf[start..end)` (terminator excluded) into `head`. With `partial`, the line
 * was cut: a request keeps its method and as much target as there is.
 */
function parseStartLine(
  buf: Uint8Array,
  start: number,
  end: number,
  partial: boolean,
  head: MutableHead,
): HeadInvalidReason | null {
  if (isStatusLinePrefix(buf, start, end)) {
    // status-line = HTTP-version SP status-code SP [ reason-phrase ]  (RFC 9112 §4)
    head.kind = 'response';
    if (end - start < 12) {
      // Cut before the status code: a valid prefix so far, nothing to report yet.
      return partial ? null : HEAD_INVALID_REASON.badStartLine;
    }
    head.version = parseVersion(buf, start, start + 8);
    if (head.version === null) return HEAD_INVALID_REASON.badVersion;
    if (buf[start + 8] !== SP) return HEAD_INVALID_REASON.badStartLine;
    let code = 0;
    for (let i = start + 9; i < start + 12; i++) {
      const b = buf[i]!;
      if (b < 0x30 || b > 0x39) return HEAD_INVALID_REASON.badStatusCode;
      code = code * 10 + (b - 0x30);
    }
    // RFC 9110 §15: status codes are 100..599.
    if (code < 100 || code > 599) return HEAD_INVALID_REASON.badStatusCode;
    head.statusCode = code;
    if (end - start === 12) {
      // A missing SP before an empty reason is common enough that servers accept it; so do we.
      head.reason = '';
    } else {
      if (buf[start + 12] !== SP) return HEAD_INVALID_REASON.badStartLine;
      head.reason = latin1(buf, start + 13, end);
    }
    return null;
  }
  // request-line = method SP request-target SP HTTP-version  (RFC 9112 §3)
  head.kind = 'request';
  let i = start;
  while (i < end && TCHAR[buf[i]!] === 1) i++;
  if (i === start) return HEAD_INVALID_REASON.badMethod;
  if (i === end) return partial ? setMethodOnly(buf, start, i, head) : HEAD_INVALID_REASON.badStartLine;
  if (buf[i] !== SP) return HEAD_INVALID_REASON.badMethod;
  head.method = latin1(buf, start, i);
  const targetStart = i + 1;
  let j = targetStart;
  // The target is visible ASCII; a control byte or DEL is not an HTTP/1 request (RFC 9112 §3.2).
  while (j < end && buf[j]! > SP && buf[j] !== 0x7f) j++;
  if (j === targetStart) return partial && j === end ? null : HEAD_INVALID_REASON.badTarget;
  if (j === end) {
    if (!partial) return HEAD_INVALID_REASON.badStartLine;
    splitTarget(head, latin1(buf, targetStart, j));
    return null;
  }
  if (buf[j] !== SP) return HEAD_INVALID_REASON.badTarget;
  splitTarget(head, latin1(buf, targetStart, j));
  if (partial && end - (j + 1) < 8) return null;
  head.version = parseVersion(buf, j + 1, end);
  return head.version === null ? HEAD_INVALID_REASON.badVersion : null;
}

const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

/** The line starts "HTTP/" (or, when shorter, with a prefix of it that a method could not have). */
function isStatusLinePrefix(buf: Uint8Array, start: number, end: number): boolean {
  const n = Math.min(5, end - start);
  // "HTTP" alone could still be a method token; only "HTTP/" decides.
  if (n < 5) return false;
  for (let i = 0; i < n; i++) if (buf[start + i] !== HTTP_SLASH[i]) return false;
  return true;
}

function setMethodOnly(buf: Uint8Array, start: number, end: number, head: MutableHead): null {
  head.method = latin1(buf, start, end);
  return null;
}

/** Parses a Content-Length value: 1*DIGIT, or a list of identical values (RFC 9110 §8.6). */
function parseContentLength(value: string): number | null {
  let result: number | null = null;
  for (const part of value.split(',')) {
    const v = part.trim();
    if (v.length === 0 || v.length > MAX_CONTENT_LENGTH_DIGITS) return null;
    let n = 0;
    for (let k = 0; k < v.length; k++) {
      const c = v.charCodeAt(k);
      if (c < 0x30 || c > 0x39) return null;
      n = n * 10 + (c - 0x30);
    }
    if (result !== null && result !== n) return null;
    result = n;
  }
  return result;
}

/** Splits a comma-separated token list (Connection, Transfer-Encoding) into lower-cased tokens. */
function tokens(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const t = part.trim().toLowerCase();
    if (t.length > 0) out.push(t);
  }
  return out;
}

/**
 * Parses the head starting at `buf[start]`, reading no further than `end`.
 * Never throws; see the file comment for the three outcomes.
 */
export function parseHead(
  buf: Uint8Array,
  start = 0,
  end: number = buf.length,
  options: ParseHeadOptions = {},
): HeadParseResult {
  const maxHeaderCount = options.maxHeaderCount ?? MAX_HEADER_COUNT;
  const maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
  const maxHeadBytes = options.maxHeadBytes ?? MAX_HEAD_BYTES;
  const allowTruncated = options.allowTruncated === true;
  if (end > buf.length) end = buf.length;
  if (start < 0) start = 0;

  // RFC 9112 §2.2: "a server that is expecting to receive and parse a request-line SHOULD ignore at
  // least one empty line (CRLF) received prior to the request-line".
  let pos = start;
  let empty = 0;
  while (pos < end && (buf[pos] === CR || buf[pos] === LF)) {
    if (buf[pos] === CR) {
      if (pos + 1 >= end) return allowTruncated ? invalid(HEAD_INVALID_REASON.badStartLine) : NEEDS_MORE;
      if (buf[pos + 1] !== LF) return invalid(HEAD_INVALID_REASON.bareCr);
      pos++;
    }
    pos++;
    if (++empty > MAX_LEADING_EMPTY_LINES) return invalid(HEAD_INVALID_REASON.tooManyEmptyLines);
  }
  if (pos >= end) return allowTruncated ? invalid(HEAD_INVALID_REASON.badStartLine) : NEEDS_MORE;

  const head: MutableHead = {
    kind: 'request',
    method: null,
    target: null,
    path: null,
    query: null,
    version: null,
    statusCode: null,
    reason: null,
  };
  const headers: [string, string][] = [];
  const lowerNames: string[] = [];
  let truncated = false;
  let consumed = -1;

  // The start line.
  let lf = indexOfByte(buf, LF, pos, end);
  if (lf !== -1 && allowTruncated && (buf[lf - 1] === CR ? lf - 1 : lf) - pos > maxLineBytes) {
    // A start line over the limit: read as far as the limit, as a cut line.
    lf = -1;
    end = pos + maxLineBytes;
  }
  if (lf === -1) {
    if (end - pos > maxLineBytes) {
      if (!allowTruncated) return invalid(HEAD_INVALID_REASON.lineTooLong);
      end = pos + maxLineBytes;
    }
    if (!allowTruncated) {
      // Reject what can already be seen not to be a start line, so garbage is not buffered.
      const early = parseStartLine(buf, pos, stripCr(buf, pos, end), true, head);
      return early === null ? NEEDS_MORE : invalid(early);
    }
    const r = parseStartLine(buf, pos, stripCr(buf, pos, end), true, head);
    if (r !== null) return invalid(r);
    // A cut status line without its code, or a request line without its method, describes nothing.
    if (head.kind === 'response' ? head.statusCode === null : head.method === null) {
      return invalid(HEAD_INVALID_REASON.badStartLine);
    }
    truncated = true;
  } else {
    const lineEnd = lf > pos && buf[lf - 1] === CR ? lf - 1 : lf;
    if (lineEnd - pos > maxLineBytes) return invalid(HEAD_INVALID_REASON.lineTooLong);
    if (hasBareCr(buf, pos, lineEnd)) return invalid(HEAD_INVALID_REASON.bareCr);
    const r = parseStartLine(buf, pos, lineEnd, false, head);
    if (r !== null) return invalid(r);
    // A server reads requests strictly (see the file comment); a client tolerates a sloppy response.
    const strict = head.kind === 'request';
    if (strict && lineEnd === lf) return invalid(HEAD_INVALID_REASON.bareLf);
    pos = lf + 1;

    // Field lines until the empty line (RFC 9112 §5).
    for (;;) {
      if (pos - start > maxHeadBytes) {
        if (!allowTruncated) return invalid(HEAD_INVALID_REASON.headTooLarge);
        truncated = true;
        break;
      }
      if (pos >= end) {
        if (!allowTruncated) return NEEDS_MORE;
        truncated = true;
        break;
      }
      const b = buf[pos];
      if (b === LF) {
        if (strict) return invalid(HEAD_INVALID_REASON.bareLf);
        consumed = pos + 1 - start;
        break;
      }
      if (b === CR) {
        if (pos + 1 >= end) {
          if (!allowTruncated) return NEEDS_MORE;
          truncated = true;
          break;
        }
        if (buf[pos + 1] !== LF) return invalid(HEAD_INVALID_REASON.bareCr);
        consumed = pos + 2 - start;
        break;
      }
      lf = indexOfByte(buf, LF, pos, end);
      const complete = lf !== -1;
      const lineEnd = complete ? (buf[lf - 1] === CR ? lf - 1 : lf) : stripCr(buf, pos, end);
      if (lineEnd - pos > maxLineBytes) {
        if (!allowTruncated) return invalid(HEAD_INVALID_REASON.lineTooLong);
        truncated = true;
        break;
      }
      if (!complete && !allowTruncated) return NEEDS_MORE;
      if (strict && complete && lineEnd === lf) return invalid(HEAD_INVALID_REASON.bareLf);
      const ctl = controlByteAt(buf, pos, lineEnd);
      if (ctl !== -1) {
        if (buf[ctl] === CR || hasBareCr(buf, ctl + 1, lineEnd)) return invalid(HEAD_INVALID_REASON.bareCr);
        return invalid(HEAD_INVALID_REASON.badFieldValue);
      }
      if (isOws(b)) {
        // obs-fold (RFC 9112 §5.2): a recipient may replace it with SP (a server rejects it: strict). It
        // cannot open the field section (§2.2 says to reject whitespace between the start line and the
        // first field).
        const last = headers[headers.length - 1];
        if (last === undefined) return invalid(HEAD_INVALID_REASON.leadingWhitespace);
        if (strict) return invalid(HEAD_INVALID_REASON.obsFold);
        const extra = trimmed(buf, pos, lineEnd);
        if (extra.length > 0) last[1] = last[1].length > 0 ? last[1] + ' ' + extra : extra;
      } else {
        const colon = indexOfByte(buf, COLON, pos, lineEnd);
        if (colon === -1) {
          if (!complete) {
            // A cut line whose name is not complete carries nothing usable.
            truncated = true;
            break;
          }
          return invalid(HEAD_INVALID_REASON.missingColon);
        }
        if (colon === pos) return invalid(HEAD_INVALID_REASON.badFieldName);
        for (let k = pos; k < colon; k++) {
          if (TCHAR[buf[k]!] !== 1) {
            // RFC 9112 §5.1: whitespace between name and colon MUST be rejected (smuggling vector).
            return invalid(
              isOws(buf[k]) ? HEAD_INVALID_REASON.whitespaceBeforeColon : HEAD_INVALID_REASON.badFieldName,
            );
          }
        }
        if (headers.length >= maxHeaderCount) {
          if (!allowTruncated) return invalid(HEAD_INVALID_REASON.tooManyHeaders);
          truncated = true;
          break;
        }
        const name = latin1(buf, pos, colon);
        headers.push([name, trimmed(buf, colon + 1, lineEnd)]);
        lowerNames.push(name.toLowerCase());
      }
      if (!complete) {
        truncated = true;
        break;
      }
      pos = lf + 1;
    }
  }

  // Semantics the framing needs, from the fields (RFC 9112 §6, §9.3; RFC 9110 §7.8, §10.1.1).
  let contentLength: number | null = null;
  let transferEncoding: string | null = null;
  let connectionClose = false;
  let keepAlive = false;
  let upgrade: string | null = null;
  let expectContinue = false;
  for (let k = 0; k < headers.length; k++) {
    const value = headers[k]![1];
    switch (lowerNames[k]) {
      case 'content-length': {
        const n = parseContentLength(value);
        if (n === null || (contentLength !== null && contentLength !== n)) {
          // A cut last value is expected in a truncated head; it is not a framing error.
          if (truncated && k === headers.length - 1) break;
          return invalid(HEAD_INVALID_REASON.badContentLength);
        }
        contentLength = n;
        break;
      }
      case 'transfer-encoding':
        transferEncoding = transferEncoding === null ? value : transferEncoding + ', ' + value;
        break;
      case 'connection':
        for (const t of tokens(value)) {
          if (t === 'close') connectionClose = true;
          else if (t === 'keep-alive') keepAlive = true;
        }
        break;
      case 'upgrade':
        upgrade = value;
        break;
      case 'expect':
        if (value.toLowerCase() === '100-continue') expectContinue = true;
        break;
    }
  }
  const codings = transferEncoding === null ? [] : tokens(transferEncoding);
  // RFC 9112 §9.3: HTTP/1.0 is close-by-default unless keep-alive was negotiated.
  if (head.version === '1.0' && !keepAlive) connectionClose = true;

  const headBytes = truncated ? end - start : consumed;
  const parsed: ParsedHead = {
    kind: head.kind,
    method: head.method,
    target: head.target,
    path: head.path,
    query: head.query,
    version: head.version,
    statusCode: head.statusCode,
    reason: head.reason,
    headers,
    lowerNames,
    contentLength,
    transferEncoding,
    chunked: codings.length > 0 && codings[codings.length - 1] === 'chunked',
    connectionClose,
    upgrade,
    expectContinue,
    headBytes,
    truncated,
  };
  return { state: 'complete', head: parsed, consumed: headBytes };
}

function stripCr(buf: Uint8Array, start: number, end: number): number {
  return end > start && buf[end - 1] === CR ? end - 1 : end;
}

function hasBareCr(buf: Uint8Array, start: number, end: number): boolean {
  return indexOfByte(buf, CR, start, end) !== -1;
}

/**
 * The first control byte in `buf[start..end)` other than HTAB (CR included, DEL too), or -1: RFC 9110
 * §5.5 field values are VCHAR, obs-text, SP and HTAB. The one pass over a field line the bare-CR test
 * made before, with a wider condition.
 */
function controlByteAt(buf: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if ((b < SP && b !== HT) || b === 0x7f) return i;
  }
  return -1;
}

function trimmed(buf: Uint8Array, start: number, end: number): string {
  while (start < end && isOws(buf[start])) start++;
  while (end > start && isOws(buf[end - 1])) end--;
  return latin1(buf, start, end);
}

/** First value of a field by case-insensitive name, or `undefined`. */
export function headerValue(head: ParsedHead, name: string): string | undefined {
  const lower = name.toLowerCase();
  const k = head.lowerNames.indexOf(lower);
  return k === -1 ? undefined : head.headers[k]![1];
}
