/**
 * W3C Trace Context `traceparent` (https://www.w3.org/TR/trace-context/#traceparent-header), the part the
 * demo services need to behave like an OpenTelemetry-instrumented app: parse what arrives, start a trace
 * when nothing (valid) arrives, and send a fresh span id on every outgoing call.
 *
 *   traceparent: 00-<trace-id: 32 hex>-<parent-id: 16 hex>-<flags: 2 hex>
 */
import { randomBytes } from 'node:crypto';

export interface TraceParent {
  traceId: string;
  /** The span id of the caller: the parent of the span that receives it. */
  parentId: string;
  flags: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** The traceparent, or undefined when absent or invalid (the spec says: then start a new trace). */
export function parseTraceparent(value: string | undefined): TraceParent | undefined {
  if (value === undefined) return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (m === null) return undefined;
  const [version, traceId, parentId, flags] = m.slice(1, 5) as [string, string, string, string];
  const rest = m[5];
  // Version ff is forbidden; version 00 has exactly four fields; later versions may append fields (§3.2.4).
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || parentId === ZERO_SPAN) return undefined;
  return { traceId, parentId, flags };
}

export function formatTraceparent(tp: TraceParent): string {
  return `00-${tp.traceId}-${tp.parentId}-${tp.flags}`;
}

/** A random non-zero id of `bytes` bytes in lower-case hex (all-zero ids are invalid). */
function randomId(bytes: number): string {
  for (;;) {
    const id = randomBytes(bytes).toString('hex');
    if (/[^0]/.test(id)) return id;
  }
}

export const newTraceId = (): string => randomId(16);
export const newSpanId = (): string => randomId(8);

/** The span a server opens for one request: continues the incoming trace, or starts one (sampled). */
export interface ServerSpan {
  traceId: string;
  spanId: string;
  flags: string;
}

export function serverSpan(incoming: string | undefined): ServerSpan {
  const parent = parseTraceparent(incoming);
  return { traceId: parent?.traceId ?? newTraceId(), spanId: newSpanId(), flags: parent?.flags ?? '01' };
}

/**
 * The header for one outgoing call: a client span, child of the server span, with its own new id —
 * what an OpenTelemetry HTTP client instrumentation sends.
 */
export function outgoingTraceparent(span: ServerSpan): string {
  return formatTraceparent({ traceId: span.traceId, parentId: newSpanId(), flags: span.flags });
}
