/**
 * A meshpipe Span as the ReadableSpan the OpenTelemetry OTLP exporters serialize. The span already
 * ended (it was measured in the kernel), so this is a plain immutable object, not an SDK Span: no
 * tracer, no processor, no clock.
 *
 * Timestamps stay exact. Our times are nanoseconds since the epoch as BigInt (~1.8e18, far above 2^53);
 * a JS number would round them by hundreds of nanoseconds. HrTime is [seconds, nanoseconds], both well
 * inside 2^53, and the OTLP protobuf serializer recombines them into fixed64 without going through a
 * float (otlp-transformer writeHrTimeAsFixed64), so the receiver gets exactly our nanoseconds.
 */
import { type HrTime, type Link, SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import pkg from '../../package.json' with { type: 'json' };
import type { Span } from '../../schemas/types.ts';
import type { ResourceCache } from './resources.ts';
import { spanAttributes } from './span-attributes.ts';

/** The instrumentation scope of every exported span: meshpipe's eBPF capture, this version. */
export const INSTRUMENTATION_SCOPE = { name: 'meshpipe', version: pkg.version } as const;

const NS_PER_S = 1_000_000_000n;
const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const NO_LINKS: Link[] = [];
const NO_EVENTS: TimedEvent[] = [];

export function toHrTime(unixNano: bigint): HrTime {
  return [Number(unixNano / NS_PER_S), Number(unixNano % NS_PER_S)];
}

function invalidSpan(span: Span, why: string): MeshpipeError {
  return new MeshpipeError(ERRORS.OTLP_INVALID_SPAN, [span.spanId, why]);
}

/** W3C ids: lowercase hex of the right length, not all zeros (the invalid value). */
function checkIds(span: Span): void {
  if (!TRACE_ID.test(span.traceId) || /^0+$/.test(span.traceId))
    throw invalidSpan(span, `trace id ${JSON.stringify(span.traceId)} is not 32 lowercase hex digits`);
  if (!SPAN_ID.test(span.spanId) || /^0+$/.test(span.spanId))
    throw invalidSpan(span, `span id ${JSON.stringify(span.spanId)} is not 16 lowercase hex digits`);
  if (span.parentSpanId !== null && (!SPAN_ID.test(span.parentSpanId) || /^0+$/.test(span.parentSpanId)))
    throw invalidSpan(
      span,
      `parent span id ${JSON.stringify(span.parentSpanId)} is not 16 lowercase hex digits`,
    );
  if (span.startTimeUnixNano < 0n || span.endTimeUnixNano < 0n)
    throw invalidSpan(span, 'a timestamp is before the Unix epoch');
}

/** Throws OTLP_INVALID_SPAN for a span no receiver could accept (the host dead-letters it alone). */
export function toReadableSpan(span: Span, resources: ResourceCache): ReadableSpan {
  checkIds(span);
  const traceState = span.traceState === null ? undefined : new TraceState(span.traceState);
  // Every span meshpipe emits was recorded, so it is sampled whatever flag the caller sent.
  const context = {
    traceId: span.traceId,
    spanId: span.spanId,
    traceFlags: TraceFlags.SAMPLED,
    ...(traceState === undefined ? {} : { traceState }),
  };
  const duration = span.endTimeUnixNano - span.startTimeUnixNano;
  return {
    name: span.name,
    kind: span.kind === 'SERVER' ? SpanKind.SERVER : SpanKind.CLIENT,
    spanContext: () => context,
    // A SERVER span's parent is the caller's CLIENT span, in another process: remote. A CLIENT span's
    // parent is the SERVER span its own process was handling: local. OTLP carries this in span flags.
    ...(span.parentSpanId === null
      ? {}
      : {
          parentSpanContext: {
            traceId: span.traceId,
            spanId: span.parentSpanId,
            traceFlags: TraceFlags.SAMPLED,
            isRemote: span.kind === 'SERVER',
          },
        }),
    startTime: toHrTime(span.startTimeUnixNano),
    endTime: toHrTime(span.endTimeUnixNano),
    duration: toHrTime(duration < 0n ? 0n : duration),
    status:
      span.status === 'ERROR'
        ? {
            code: SpanStatusCode.ERROR,
            ...(span.statusMessage === null ? {} : { message: span.statusMessage }),
          }
        : { code: span.status === 'OK' ? SpanStatusCode.OK : SpanStatusCode.UNSET },
    attributes: spanAttributes(span),
    links: NO_LINKS,
    events: NO_EVENTS,
    ended: true,
    resource: resources.of(span.local),
    instrumentationScope: INSTRUMENTATION_SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
