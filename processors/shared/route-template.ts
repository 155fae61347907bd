/**
 * Low-cardinality route templates for `http.route` (OpenTelemetry HTTP semantic conventions): a
 * captured path such as `/users/42/orders/9f1c...` becomes `/users/{id}/orders/{id}`.
 *
 * An instrumented server knows its route table; a kernel capture only sees paths, so the route is
 * inferred segment by segment: a segment that looks like an identifier (a number, a UUID, a long hex
 * string, a long token mixing letters and digits) is replaced by a placeholder. Spans (span-assembler)
 * and RED metrics (red-metrics) share this module, so a span's route and the metric series it is
 * counted in always agree.
 *
 * Users add rules for their own id shapes (`{"^v\\d+$": "{version}"}`); user rules are tried first,
 * then the built-in ones. Every rule looks at one path segment at a time, which keeps the result
 * bounded by the path's shape and the rules cheap (anchored regular expressions on short strings).
 *
 * A route is a label of metrics, anomalies and alert texts, so it never carries what the collector's
 * redaction removes (protocols/http1/redact.ts), even from a path that was not redacted (an older
 * collector, another source of spans): matrix parameters (`;jsessionid=…`) are dropped, a segment that
 * no rule templates but that looks like a secret or personal data (an e-mail address, a random token:
 * protocols/http1/secret-shapes.ts) becomes `{redacted}`, and so does the redaction marker itself.
 */

import { REDACTION_MARKER } from '../../protocols/http1/redact.ts';
import { looksSecretText } from '../../protocols/http1/secret-shapes.ts';

export interface RouteRule {
  /** Matched against one whole path segment, as sent on the wire (not percent-decoded). */
  readonly pattern: RegExp;
  /** What the segment becomes, e.g. `{id}`. */
  readonly replacement: string;
}

/**
 * The built-in rules, in order. The thresholds are chosen so that ordinary words stay: a segment
 * needs digits to be an id unless it is a UUID, and long alphanumeric tokens need both letters and
 * digits (`internationalization` stays, `a1B2c3D4e5F6g7H8` does not).
 */
export const DEFAULT_ROUTE_RULES: readonly RouteRule[] = [
  // Decimal numbers, optionally signed: database ids, page numbers, timestamps.
  { pattern: /^-?\d+$/, replacement: '{id}' },
  // RFC 9562 UUIDs, any version, either case.
  { pattern: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, replacement: '{id}' },
  // Hex ids of 12+ digits with at least one decimal digit: Mongo ObjectIds (24), SHA digests,
  // Docker/Git short ids (12). A 12-letter hex-looking word (`deadbeefcafe`) without digits stays.
  { pattern: /^(?=[0-9a-f]*\d)[0-9a-f]{12,}$/i, replacement: '{id}' },
  // base64/base64url-ish tokens of 16+ characters mixing letters and digits (opaque ids, slugs with a
  // hash): both a digit and a letter are required, so long words and long numbers-only (above) differ.
  { pattern: /^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-+=~.]{16,}$/, replacement: '{id}' },
  // A short word prefixing numbers of two digits or more: `sku-95`, `order_1234`, `INV-2024-001`. Names
  // with a one-digit suffix or letters after the separator stay: `utf-8`, `iso-8859-1`, `api-v2`.
  { pattern: /^[A-Za-z]{1,16}(?:[-_]\d{2,})+$/, replacement: '{id}' },
  // The same without a separator needs three digits or more (`item1234`), so that names with a short
  // number stay: `v1`, `ipv6`, `x86`, `log4j`, `s3`.
  { pattern: /^[A-Za-z]{1,8}\d{3,}$/, replacement: '{id}' },
];

export interface RouteTemplaterOptions {
  /** User rules, tried in order before the built-in ones: segment regular expression → replacement. */
  readonly rules?: Readonly<Record<string, string>>;
  /** Keep the built-in rules (default true). */
  readonly builtIn?: boolean;
  /**
   * Paths with more segments than this keep the first `maxSegments` and end in `/{rest}`: a path
   * built from data (file trees, nested keys) must not explode the number of routes (default 12).
   */
  readonly maxSegments?: number;
}

export type RouteTemplater = (path: string) => string;

export const DEFAULT_MAX_ROUTE_SEGMENTS = 12;

/** Compiles the rules once; returns a pure function from a path (or origin-form target) to a route. */
export function compileRouteTemplater(options: RouteTemplaterOptions = {}): RouteTemplater {
  const rules: RouteRule[] = [];
  for (const [source, replacement] of Object.entries(options.rules ?? {})) {
    rules.push({ pattern: new RegExp(source), replacement });
  }
  if (options.builtIn !== false) rules.push(...DEFAULT_ROUTE_RULES);
  const maxSegments = Math.max(1, options.maxSegments ?? DEFAULT_MAX_ROUTE_SEGMENTS);

  return (path: string): string => {
    // The query and fragment never belong to a route (RFC 3986 §3.4, §3.5).
    let end = path.length;
    const q = path.indexOf('?');
    if (q !== -1) end = q;
    const h = path.indexOf('#');
    if (h !== -1 && h < end) end = h;
    const p = path.slice(0, end);
    if (p === '' || p === '/') return '/';
    if (p === '*') return '*';
    const segments = p.split('/');
    // segments[0] is '' for an absolute path; a trailing '' keeps a trailing slash.
    const out: string[] = [];
    let counted = 0;
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      if (i === 0 && seg === '') {
        out.push('');
        continue;
      }
      if (seg === '' && i !== segments.length - 1) continue; // `//` collapses
      if (seg !== '' && ++counted > maxSegments) {
        out.push('{rest}');
        break;
      }
      out.push(templateSegment(seg, rules));
    }
    const route = out.join('/');
    return route === '' ? '/' : route;
  };
}

/** What a segment that looks secret (or was redacted) becomes. */
export const REDACTED_SEGMENT = '{redacted}';

function templateSegment(raw: string, rules: readonly RouteRule[]): string {
  // Matrix parameters (RFC 3986 §3.3) are parameters, not part of a route.
  const semicolon = raw.indexOf(';');
  const segment = semicolon === -1 ? raw : raw.slice(0, semicolon);
  if (segment === '') return segment;
  if (segment === REDACTION_MARKER) return REDACTED_SEGMENT;
  for (const rule of rules) if (rule.pattern.test(segment)) return rule.replacement;
  return looksSecretText(segment) ? REDACTED_SEGMENT : segment;
}

/** Returns an error text when a rules object does not compile (for config validation). */
export function checkRouteRules(rules: Readonly<Record<string, string>>): string | undefined {
  for (const source of Object.keys(rules)) {
    try {
      new RegExp(source);
    } catch (err) {
      return `"${source}" is not a valid regular expression: ${(err as Error).message}`;
    }
  }
  return undefined;
}
