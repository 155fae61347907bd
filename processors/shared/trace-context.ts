/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) as far as a passive observer needs it:
 * reading the `traceparent` and `tracestate` a request carries. meshpipe never writes headers (it does
 * not touch traffic), so there is no injection side.
 */

export interface TraceParent {
  readonly version: string;
  /** 32 lowercase hex characters, not all zero. */
  readonly traceId: string;
  /** 16 lowercase hex characters, not all zero: the id of the caller's span for this request. */
  readonly parentId: string;
  readonly flags: string;
}

const HEX2 = /^[0-9a-f]{2}$/;
const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/**
 * Parses a traceparent value (§3.2). Returns null for anything the spec tells a receiver to ignore:
 * wrong lengths, uppercase or non-hex characters (§3.2.2.3: "lowercase hex"), the forbidden version
 * `ff`, all-zero ids. A version 00 header is exactly 55 characters; a higher version may carry more
 * fields after the flags (§3.2.4, forward compatibility), which are ignored.
 */
export function parseTraceparent(value: string | undefined | null): TraceParent | null {
  if (value === undefined || value === null) return null;
  const v = value.trim();
  if (v.length < 55) return null;
  const version = v.slice(0, 2);
  if (!HEX2.test(version) || version === 'ff') return null;
  if (version === '00' && v.length !== 55) return null;
  if (v.length > 55 && v[55] !== '-') return null;
  if (v[2] !== '-' || v[35] !== '-' || v[52] !== '-') return null;
  const traceId = v.slice(3, 35);
  const parentId = v.slice(36, 52);
  const flags = v.slice(53, 55);
  if (!TRACE_ID.test(traceId) || traceId === ZERO_TRACE) return null;
  if (!SPAN_ID.test(parentId) || parentId === ZERO_SPAN) return null;
  if (!HEX2.test(flags)) return null;
  return { version, traceId, parentId, flags };
}

/** Formats a version-00 traceparent (for tests and for documentation examples). */
export function formatTraceparent(traceId: string, parentId: string, flags = '01'): string {
  return `00-${traceId}-${parentId}-${flags}`;
}

export function isValidTraceId(id: string): boolean {
  return TRACE_ID.test(id) && id !== ZERO_TRACE;
}

export function isValidSpanId(id: string): boolean {
  return SPAN_ID.test(id) && id !== ZERO_SPAN;
}
