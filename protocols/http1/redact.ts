/**
 * Redaction of an HTTP/1.x head before it leaves the node: secrets never leave the node (DESIGN.md).
 *
 * Works on the head's bytes line by line, with index arithmetic and no string conversion of values:
 * - a field whose name is sensitive (a name or a pattern of the policy) keeps its name and gets the
 *   marker as its value (so the head still parses, and a reader can see that a credential was present);
 * - obs-fold continuation lines of a sensitive field (RFC 9112 §5.2) are dropped: they are its value;
 * - URLs — the request-target, and the values of Referer, Location, Origin and Content-Location — lose
 *   their userinfo (RFC 9110 §4.2.4 deprecates it; it is a password when present), the values of
 *   sensitive query and fragment parameters (the fragment carries OAuth implicit-flow tokens), every
 *   path segment, matrix parameter value (`;jsessionid=…`) or parameter value that looks like a secret
 *   or personal data whatever its name (secret-shapes.ts: e-mail, JWT, long hex, random token), and
 *   path segments matching the configured patterns.
 *
 * A head cut by the kernel's copy cap can end inside a line. The rules then are conservative, because a
 * prefix of a secret is still a secret:
 * - trailing partial field line with a complete name: redacted like a complete one if sensitive;
 * - trailing partial field line whose name is not complete (no colon yet): dropped, since we cannot know
 *   whether it is sensitive;
 * - a cut URL (request line or URL-valued field): its last, partial path segment or parameter value is
 *   replaced, since its shape cannot be judged from a prefix;
 * - a complete line that is not a field line (no colon, a name with bytes outside tchar, a bare CR):
 *   dropped, since we cannot tell what it carries;
 * - a query holding bytes a request-target cannot hold: replaced whole, since we cannot split it the
 *   way the server will.
 * Bytes after the head's empty line are not part of a head and are dropped.
 */
import {
  type ByteGlob,
  type ContainsSet,
  compileByteGlob,
  compileContainsSet,
  containedWord,
  containsAny,
  isGlob,
  matchesAny,
} from './byte-glob.ts';
import { looksSecret } from './secret-shapes.ts';

/** What replaces a redacted value. Printable ASCII, so the redacted head is still a valid head. */
export const REDACTION_MARKER = '[REDACTED]';

/**
 * Fields redacted whatever the configuration says: credentials by definition (RFC 9110 §11.6.2,
 * §11.7.2; RFC 6265 §4), the de-facto API key and token fields of common services, and
 * Sec-WebSocket-Protocol, where Kubernetes clients send their bearer token.
 */
export const DEFAULT_SENSITIVE_HEADERS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-auth-token',
  'sec-websocket-protocol',
  'x-amz-security-token',
  'x-goog-api-key',
  'api-key',
  'x-csrf-token',
  'private-token',
  'x-vault-token',
] as const;

/** Field name patterns redacted whatever the configuration says (globs, case-insensitive). */
export const DEFAULT_SENSITIVE_HEADER_PATTERNS = [
  '*token*',
  '*secret*',
  '*password*',
  '*api-key*',
  '*apikey*',
  '*signature*',
] as const;

/** Query parameters redacted whatever the configuration says (OAuth 2.0 and cloud signing included). */
export const DEFAULT_SENSITIVE_QUERY_PARAMS = [
  'token',
  'api_key',
  'access_token',
  'password',
  'code',
  'id_token',
  'refresh_token',
  'client_secret',
  'key',
  'x-amz-signature',
  'sig',
] as const;

/** Query parameter name patterns redacted whatever the configuration says. */
export const DEFAULT_SENSITIVE_QUERY_PATTERNS = [
  '*token*',
  '*secret*',
  '*password*',
  '*api-key*',
  '*api_key*',
  '*apikey*',
  '*signature*',
] as const;

/** Fields whose value is a URL: redacted like the request-target. */
export const URL_HEADERS = ['referer', 'location', 'origin', 'content-location'] as const;

export interface RedactionConfig {
  /**
   * Further field names or patterns (`*`: any run, `?`: one character), case-insensitive; added to
   * {@link DEFAULT_SENSITIVE_HEADERS} and {@link DEFAULT_SENSITIVE_HEADER_PATTERNS}.
   */
  readonly headers?: readonly string[];
  /** Further query parameter names or patterns, case-insensitive; added to the defaults. */
  readonly queryParams?: readonly string[];
  /** Patterns of path segments to redact (a whole segment: `sk_live_*`), besides the secret shapes. */
  readonly pathSegments?: readonly string[];
  /** Replacement text; default {@link REDACTION_MARKER}. Printable ASCII without spaces at the ends. */
  readonly marker?: string;
}

/** A set of names: exact ones as lower-cased bytes bucketed by length, `*word*` patterns, other globs. */
export interface NameSet {
  readonly exact: ReadonlyMap<number, readonly Uint8Array[]>;
  readonly contains: ContainsSet;
  readonly patterns: readonly ByteGlob[];
}

/** A compiled policy: lower-cased names as bytes, bucketed by length so a lookup is a few compares. */
export interface RedactionPolicy {
  readonly headerNames: NameSet;
  readonly queryParams: NameSet;
  readonly urlHeaders: NameSet;
  readonly pathSegments: readonly ByteGlob[];
  readonly marker: Uint8Array;
}

export interface RedactionResult {
  /** The redacted head; a new array, never a view of the input. */
  readonly bytes: Uint8Array;
  /** Values replaced by the marker. */
  readonly redactions: number;
  /** Input bytes dropped: cut or colon-less lines, fold lines of sensitive fields, bytes after the head. */
  readonly droppedBytes: number;
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

/** tchar (RFC 9110 §5.6.2): the bytes of a field name. */
const TCHAR: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (const ch of "!#$%&'*+-.^_`|~") t[ch.charCodeAt(0)] = 1;
  return t;
})();

function toLowerBytes(name: string): Uint8Array {
  const lower = name.trim().toLowerCase();
  const out = new Uint8Array(lower.length);
  for (let i = 0; i < lower.length; i++) {
    const c = lower.charCodeAt(i);
    // Names are tokens (RFC 9110 §5.6.2): ASCII. A configured name outside it could never match.
    out[i] = c > 0x7e ? 0 : c;
  }
  return out;
}

/** Exact names bucketed by length, and the patterns apart. */
function nameSet(names: Iterable<string>): NameSet {
  const exact = new Map<number, Uint8Array[]>();
  const words: string[] = [];
  const patterns: ByteGlob[] = [];
  const seen = new Set<string>();
  for (const n of names) {
    const key = n.trim().toLowerCase();
    if (key.length === 0 || seen.has(key)) continue;
    seen.add(key);
    const word = containedWord(key);
    if (word !== undefined) {
      words.push(word);
      continue;
    }
    if (isGlob(key)) {
      patterns.push(compileByteGlob(key));
      continue;
    }
    const bytes = toLowerBytes(key);
    const list = exact.get(bytes.length) ?? [];
    list.push(bytes);
    exact.set(bytes.length, list);
  }
  return { exact, contains: compileContainsSet(words), patterns };
}

/**
 * Builds a policy from configuration. The defaults are a floor: configuration adds names and patterns,
 * it cannot remove one. Throws a RangeError on an unusable marker: that is a configuration error found
 * at startup, not bad traffic (the configuration's own checks refuse bad names and patterns earlier).
 */
export function compileRedactionPolicy(config: RedactionConfig = {}): RedactionPolicy {
  const marker = config.marker ?? REDACTION_MARKER;
  if (!/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(marker)) {
    throw new RangeError('redaction marker must be printable ASCII without leading or trailing spaces');
  }
  const markerBytes = new Uint8Array(marker.length);
  for (let i = 0; i < marker.length; i++) markerBytes[i] = marker.charCodeAt(i);
  return {
    headerNames: nameSet([
      ...DEFAULT_SENSITIVE_HEADERS,
      ...DEFAULT_SENSITIVE_HEADER_PATTERNS,
      ...(config.headers ?? []),
    ]),
    queryParams: nameSet([
      ...DEFAULT_SENSITIVE_QUERY_PARAMS,
      ...DEFAULT_SENSITIVE_QUERY_PATTERNS,
      ...(config.queryParams ?? []),
    ]),
    urlHeaders: nameSet(URL_HEADERS),
    pathSegments: (config.pathSegments ?? []).map((p) => compileByteGlob(p.trim())),
    marker: markerBytes,
  };
}

/** The policy with defaults only. */
export const DEFAULT_REDACTION_POLICY: RedactionPolicy = compileRedactionPolicy();

function lower(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b + 0x20 : b;
}

/** Is `buf[start..end)` one of the names, or does it match one of the patterns, ASCII case-insensitively? */
function nameMatches(names: NameSet, buf: Uint8Array, start: number, end: number): boolean {
  const list = names.exact.get(end - start);
  if (list !== undefined) {
    outer: for (const name of list) {
      for (let i = 0; i < name.length; i++) if (lower(buf[start + i]!) !== name[i]) continue outer;
      return true;
    }
  }
  return (
    containsAny(names.contains, buf, start, end) ||
    (names.patterns.length > 0 && matchesAny(names.patterns, buf, start, end))
  );
}

function hexValue(b: number | undefined): number {
  if (b === undefined) return -1;
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const l = lower(b);
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/** Parameter names longer than this are not decoded: their values are redacted, unjudged. */
const MAX_PARAM_NAME = 256;
/** Where parameter names are decoded; redaction is synchronous, so one buffer serves every head. */
const PARAM_SCRATCH = new Uint8Array(MAX_PARAM_NAME);

/**
 * A query parameter name, percent-decoded into `scratch` (so "pass%77ord" is "password": an encoded
 * name must not slip past the policy). Returns the decoded length, or -1 when longer than scratch.
 */
function decodeName(buf: Uint8Array, start: number, end: number, scratch: Uint8Array): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    if (n >= scratch.length) return -1;
    let b = buf[i]!;
    if (b === 0x25 /* % */) {
      const h = hexValue(buf[i + 1]);
      const l = hexValue(buf[i + 2]);
      if (h >= 0 && l >= 0 && i + 2 < end) {
        b = h * 16 + l;
        i += 2;
      }
    } else if (b === 0x2b /* + */) {
      b = SP;
    }
    scratch[n++] = b;
  }
  return n;
}

/**
 * Growable output; one allocation in the common case (no marker longer than what it replaces). Runs of
 * input kept as they are (most of a head) are not copied piece by piece: consecutive pushes of one
 * source extend a pending run, copied once when something else is written.
 */
class Output {
  buf: Uint8Array;
  len = 0;
  #src: Uint8Array | null = null;
  #from = 0;
  #to = 0;
  constructor(capacity: number) {
    this.buf = new Uint8Array(Math.max(16, capacity));
  }
  push(src: Uint8Array, start: number, end: number): void {
    if (end <= start) return;
    if (src === this.#src && start === this.#to) {
      this.#to = end;
      return;
    }
    this.#flush();
    this.#src = src;
    this.#from = start;
    this.#to = end;
  }
  pushByte(b: number): void {
    this.#flush();
    this.reserve(1);
    this.buf[this.len++] = b;
  }
  #flush(): void {
    const src = this.#src;
    if (src === null) return;
    const n = this.#to - this.#from;
    this.reserve(n);
    this.buf.set(src.subarray(this.#from, this.#to), this.len);
    this.len += n;
    this.#src = null;
  }
  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  /** The bytes written: a view of this output's own buffer (never of the input). */
  result(): Uint8Array {
    this.#flush();
    return this.buf.length === this.len ? this.buf : this.buf.subarray(0, this.len);
  }
}

/** State shared by the URL walk of one head: where it writes, what it replaces with. */
interface UrlContext {
  readonly policy: RedactionPolicy;
  readonly out: Output;
  readonly scratch: Uint8Array;
}

/**
 * Redacts a request line in `buf[start..end)` (terminator excluded) into `out`. Returns the number of
 * values replaced.
 */
function redactRequestLine(buf: Uint8Array, start: number, end: number, ctx: UrlContext): number {
  const { out, policy } = ctx;
  const sp = buf.indexOf(SP, start);
  if (sp === -1 || sp >= end) {
    // A request line cut inside its method: keep it if it is a token, else it is not judgeable.
    if (isToken(buf, start, end)) {
      out.push(buf, start, end);
      return 0;
    }
    out.push(policy.marker, 0, policy.marker.length);
    return 1;
  }
  if (!isToken(buf, start, sp)) {
    // Not a method: the line is not a request line, and the secret-bearing part cannot be located.
    out.push(policy.marker, 0, policy.marker.length);
    return 1;
  }
  const targetStart = sp + 1;
  let targetEnd = buf.indexOf(SP, targetStart);
  // No SP after the target: the line was cut inside it (HTTP/0.9 aside, which is treated the same).
  const cut = targetEnd === -1 || targetEnd >= end;
  if (cut) targetEnd = end;
  out.push(buf, start, targetStart);
  const redactions = redactUrl(buf, targetStart, targetEnd, cut, ctx);
  out.push(buf, targetEnd, end);
  return redactions;
}

/**
 * Redacts the URL in `buf[start..end)` into `ctx.out` (see the file comment); `cut` says that its end is
 * not its real end. Returns the number of values replaced.
 */
function redactUrl(buf: Uint8Array, start: number, end: number, cut: boolean, ctx: UrlContext): number {
  const { out, policy } = ctx;
  const marker = policy.marker;
  let redactions = 0;
  let i = start;

  // absolute-form with userinfo: scheme "://" userinfo "@" host  (RFC 3986 §3.2.1)
  const scheme = indexOfSeq(buf, start, end, 0x3a, 0x2f, 0x2f); // "://"
  if (scheme !== -1 && isScheme(buf, start, scheme)) {
    const authStart = scheme + 3;
    let authEnd = authStart;
    while (authEnd < end) {
      const b = buf[authEnd];
      if (b === 0x2f || b === 0x3f || b === 0x23) break;
      authEnd++;
    }
    const at = buf.lastIndexOf(0x40 /* @ */, authEnd - 1);
    if (at >= authStart) {
      out.push(buf, i, authStart);
      out.push(marker, 0, marker.length);
      redactions++;
      i = at;
    } else if (authEnd === end && cut) {
      // A cut URL inside the authority: it may be a userinfo whose "@" was cut off. Dropped.
      out.push(buf, i, authStart);
      out.push(marker, 0, marker.length);
      return redactions + 1;
    }
    // The authority (host and port) is kept; the path starts after it.
    out.push(buf, i, authEnd);
    i = authEnd;
  }

  // The path, segment by segment, up to the query or the fragment.
  let pathEnd = i;
  while (pathEnd < end && buf[pathEnd] !== 0x3f && buf[pathEnd] !== 0x23) pathEnd++;
  redactions += redactPath(buf, i, pathEnd, cut && pathEnd === end, ctx);
  if (pathEnd >= end) return redactions;

  out.pushByte(buf[pathEnd]!);
  const q = pathEnd + 1;
  if (buf[pathEnd] === 0x3f) {
    for (let k = q; k < end; k++) {
      const b = buf[k]!;
      if (b < 0x21 || b > 0x7e) {
        // A query with bytes a request-target cannot hold (RFC 9112 §3.2) cannot be split into
        // parameters the way the server will split it: all of it is replaced.
        out.push(marker, 0, marker.length);
        return redactions + 1;
      }
    }
  }
  // Query and fragment alike: `&`- or `;`-separated parameters (the fragment carries OAuth tokens).
  return redactions + redactParams(buf, q, end, cut, ctx);
}

/** Path segments in `buf[start..end)`: each kept, or replaced if it looks secret or matches a pattern. */
function redactPath(buf: Uint8Array, start: number, end: number, cut: boolean, ctx: UrlContext): number {
  const { out, policy } = ctx;
  let redactions = 0;
  let copied = start;
  let s = start;
  while (s < end) {
    let e = s;
    let semicolon = -1;
    while (e < end && buf[e] !== 0x2f) {
      if (buf[e] === 0x3b /* ; */ && semicolon === -1) semicolon = e;
      e++;
    }
    const bare = semicolon === -1 ? e : semicolon;
    const last = cut && e === end;
    // The segment proper (before any matrix parameters).
    if (
      bare > s &&
      (last ||
        looksSecret(buf, s, bare) ||
        (policy.pathSegments.length > 0 && matchesAny(policy.pathSegments, buf, s, bare)))
    ) {
      out.push(buf, copied, s);
      out.push(policy.marker, 0, policy.marker.length);
      copied = bare;
      redactions++;
    }
    // Matrix parameters (`;jsessionid=…`, RFC 3986 §3.3): names kept, every value replaced.
    for (let m = semicolon; m !== -1 && m < e; ) {
      let next = m + 1;
      let eq = -1;
      while (next < e && buf[next] !== 0x3b) {
        if (buf[next] === 0x3d && eq === -1) eq = next;
        next++;
      }
      if (eq !== -1 && eq + 1 < next) {
        out.push(buf, copied, eq + 1);
        out.push(policy.marker, 0, policy.marker.length);
        copied = next;
        redactions++;
      }
      m = next < e ? next : -1;
    }
    s = e + 1;
  }
  out.push(buf, copied, end);
  return redactions;
}

/**
 * `&`- or `;`-separated parameters in `buf[start..end)`: a value is replaced when its name is
 * sensitive, or when it looks secret whatever its name (a lone value too); with `cut`, the last one.
 * A `#` ends the query: the fragment's parameters follow, judged the same way.
 */
function redactParams(buf: Uint8Array, start: number, end: number, cut: boolean, ctx: UrlContext): number {
  const { out, policy, scratch } = ctx;
  const marker = policy.marker;
  let redactions = 0;
  let p = start;
  while (p < end) {
    let paramEnd = p;
    let eq = -1;
    while (paramEnd < end) {
      const b = buf[paramEnd];
      // ';' separates parameters for some servers (the old HTML 4 recommendation); treat it so too.
      if (b === 0x26 /* & */ || b === 0x3b /* ; */ || b === 0x23 /* # */) break;
      if (b === 0x3d /* = */ && eq === -1) eq = paramEnd;
      paramEnd++;
    }
    const last = cut && paramEnd === end;
    if (eq !== -1 && eq + 1 < paramEnd) {
      const n = decodeName(buf, p, eq, scratch);
      if (
        n < 0 ||
        last ||
        nameMatches(policy.queryParams, scratch, 0, n) ||
        looksSecret(buf, eq + 1, paramEnd)
      ) {
        out.push(buf, p, eq + 1);
        out.push(marker, 0, marker.length);
        redactions++;
      } else {
        out.push(buf, p, paramEnd);
      }
    } else if (eq === -1 && looksSecret(buf, p, paramEnd)) {
      // A value without a name (`?eyJhbGciOi…`). Cut, it may be a name: a name alone says nothing.
      out.push(marker, 0, marker.length);
      redactions++;
    } else {
      out.push(buf, p, paramEnd);
    }
    if (paramEnd >= end) break;
    out.pushByte(buf[paramEnd]!);
    p = paramEnd + 1;
  }
  return redactions;
}

function isScheme(buf: Uint8Array, start: number, end: number): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) {
    const b = lower(buf[i]!);
    const ok =
      (b >= 0x61 && b <= 0x7a) ||
      (i > start && ((b >= 0x30 && b <= 0x39) || b === 0x2b || b === 0x2d || b === 0x2e));
    if (!ok) return false;
  }
  return true;
}

function indexOfSeq(buf: Uint8Array, start: number, end: number, a: number, b: number, c: number): number {
  for (let i = buf.indexOf(a, start); i !== -1 && i + 2 < end; i = buf.indexOf(a, i + 1)) {
    if (buf[i + 1] === b && buf[i + 2] === c) return i;
  }
  return -1;
}

const TARGET_METHOD = Uint8Array.of(0x47, 0x45, 0x54, 0x20); // "GET "

/**
 * Redacts a request-target on its own (an HTTP/2 `:path`, RFC 9113 §8.3.1) by the request line's
 * rules: sensitive query values, userinfo. `target` is Latin-1 (one byte per character). A target
 * with bytes a request-target cannot hold (a space would end it in a request line) is replaced whole.
 */
export function redactTarget(
  target: string,
  policy: RedactionPolicy = DEFAULT_REDACTION_POLICY,
): { target: string; redactions: number } {
  // A whole request line (method, target, SP): a line without the SP after its target reads as cut
  // inside it, and the cut part would be redacted as unjudgeable.
  const line = new Uint8Array(TARGET_METHOD.length + target.length + 1);
  line.set(TARGET_METHOD);
  line[line.length - 1] = SP;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return { target: latin1Marker(policy), redactions: 1 };
    line[TARGET_METHOD.length + i] = c;
  }
  const out = new Output(line.length + 2 * policy.marker.length);
  const redactions = redactRequestLine(line, 0, line.length, { policy, out, scratch: PARAM_SCRATCH });
  if (redactions === 0) return { target, redactions };
  const bytes = out.result().subarray(TARGET_METHOD.length, -1);
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return { target: text, redactions };
}

function latin1Marker(policy: RedactionPolicy): string {
  let text = '';
  for (const b of policy.marker) text += String.fromCharCode(b);
  return text;
}

/** Is `name` (any case) one of the policy's sensitive header names? */
export function isSensitiveHeaderName(
  name: string,
  policy: RedactionPolicy = DEFAULT_REDACTION_POLICY,
): boolean {
  return nameMatches(policy.headerNames, asciiBytes(name), 0, name.length);
}

/** Is `name` (any case) a field whose value is a URL (Referer, Location...), redacted like a target? */
export function isUrlHeaderName(name: string, policy: RedactionPolicy = DEFAULT_REDACTION_POLICY): boolean {
  return nameMatches(policy.urlHeaders, asciiBytes(name), 0, name.length);
}

function asciiBytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return bytes;
}

/**
 * Redacts the head in `head[start..end)`. Never throws; a head cut anywhere is handled (see the file
 * comment), and the result never contains a byte of a redacted value.
 */
export function redactHead(
  head: Uint8Array,
  policy: RedactionPolicy = DEFAULT_REDACTION_POLICY,
  start = 0,
  end: number = head.length,
): RedactionResult {
  if (end > head.length) end = head.length;
  const out = new Output(end - start + 2 * policy.marker.length);
  const ctx: UrlContext = { policy, out, scratch: PARAM_SCRATCH };
  let redactions = 0;
  let dropped = 0;
  let pos = start;
  let startLineDone = false;
  let foldingSensitive = false;

  while (pos < end) {
    const lf = head.indexOf(LF, pos);
    const complete = lf !== -1 && lf < end;
    const lineEnd = complete ? lf + 1 : end;
    let contentEnd = complete ? lf : end;
    if (contentEnd > pos && head[contentEnd - 1] === CR) contentEnd--;
    const first = head[pos];

    if (contentEnd === pos) {
      // An empty line: before the start line it is tolerated noise (RFC 9112 §2.2); after it, the end
      // of the head. Anything after the end is not head and is dropped.
      out.push(head, pos, lineEnd);
      pos = lineEnd;
      if (startLineDone && complete) {
        dropped += end - pos;
        break;
      }
      continue;
    }

    if (!startLineDone) {
      startLineDone = true;
      const cr = head.indexOf(CR, pos);
      if (cr !== -1 && cr < contentEnd) {
        // A bare CR may end the line for some recipient (RFC 9112 §2.2): what follows it could be a
        // field line. The start line is replaced whole.
        out.push(policy.marker, 0, policy.marker.length);
        out.push(head, contentEnd, lineEnd);
        redactions++;
        pos = lineEnd;
        continue;
      }
      if (isStatusLine(head, pos, contentEnd)) {
        out.push(head, pos, contentEnd);
      } else {
        redactions += redactRequestLine(head, pos, contentEnd, ctx);
      }
      out.push(head, contentEnd, lineEnd);
      pos = lineEnd;
      continue;
    }

    if (first === SP || first === HT) {
      // obs-fold: part of the previous field's value (RFC 9112 §5.2).
      if (foldingSensitive) dropped += lineEnd - pos;
      else out.push(head, pos, lineEnd);
      pos = lineEnd;
      continue;
    }

    const cr = head.indexOf(CR, pos);
    if (cr !== -1 && cr < contentEnd) {
      // A bare CR: some implementations end the line there (RFC 9112 §2.2 says reject or replace it
      // with SP), so whatever follows could be a field of its own. Not judgeable: dropped.
      dropped += lineEnd - pos;
      foldingSensitive = true;
      pos = lineEnd;
      continue;
    }
    const colon = head.indexOf(COLON, pos);
    if (colon === -1 || colon >= contentEnd) {
      // No name we can judge: a cut name, or not a field line at all.
      dropped += lineEnd - pos;
      foldingSensitive = true; // its fold lines, if any, are equally unjudgeable
      pos = lineEnd;
      continue;
    }
    let nameEnd = colon;
    while (nameEnd > pos && (head[nameEnd - 1] === SP || head[nameEnd - 1] === HT)) nameEnd--;
    if (!isToken(head, pos, nameEnd)) {
      // Not a field name (a byte outside tchar): no recipient takes it for a known field, and we
      // cannot say which one it was meant to be. Dropped.
      dropped += lineEnd - pos;
      foldingSensitive = true;
      pos = lineEnd;
      continue;
    }
    if (nameMatches(policy.headerNames, head, pos, nameEnd)) {
      out.push(head, pos, colon + 1);
      out.pushByte(SP);
      out.push(policy.marker, 0, policy.marker.length);
      out.push(head, contentEnd, lineEnd);
      redactions++;
      foldingSensitive = true;
    } else if (nameMatches(policy.urlHeaders, head, pos, nameEnd)) {
      let valueStart = colon + 1;
      while (valueStart < contentEnd && (head[valueStart] === SP || head[valueStart] === HT)) valueStart++;
      let valueEnd = contentEnd;
      while (valueEnd > valueStart && (head[valueEnd - 1] === SP || head[valueEnd - 1] === HT)) valueEnd--;
      out.push(head, pos, valueStart);
      redactions += redactUrl(head, valueStart, valueEnd, !complete, ctx);
      out.push(head, valueEnd, lineEnd);
      // Fold lines would continue the URL past what was judged: dropped.
      foldingSensitive = true;
    } else {
      out.push(head, pos, lineEnd);
      foldingSensitive = false;
    }
    pos = lineEnd;
  }
  return { bytes: out.result(), redactions, droppedBytes: dropped };
}

function isToken(buf: Uint8Array, start: number, end: number): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) if (TCHAR[buf[i]!] !== 1) return false;
  return true;
}

function isStatusLine(buf: Uint8Array, start: number, end: number): boolean {
  return (
    end - start >= 5 &&
    buf[start] === 0x48 &&
    buf[start + 1] === 0x54 &&
    buf[start + 2] === 0x54 &&
    buf[start + 3] === 0x50 &&
    buf[start + 4] === 0x2f
  );
}
