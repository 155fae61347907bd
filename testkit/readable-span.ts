/**
 * The OpenTelemetry SDK's view of a meshpipe span: the ReadableSpan the OTLP sink built for every span
 * before it wrote OTLP protobuf itself (sinks/otlp/span-encoder.ts). Tests and bench/otlp-sink keep it
 * as the reference: the SDK's own serializer (otlp-transformer ProtobufTraceSerializer) run on these
 * must produce what the sink sends.
 *
 * Timestamps: HrTime is [seconds, nanoseconds], both well inside 2^53, and the SDK serializer
 * recombines them into fixed64 without a float, so the receiver gets exactly our nanoseconds.
 */
import { type HrTime, type Link, SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import type { Span, SpanEndpoint } from '../schemas/types.ts';
import { processResourceAttributes } from '../sinks/otlp/resources.ts';
import { spanAttributes } from '../sinks/otlp/span-attributes.ts';
import { INSTRUMENTATION_SCOPE } from '../sinks/otlp/span-encoder.ts';

const NS_PER_S = 1_000_000_000n;
const NO_LINKS: Link[] = [];
const NO_EVENTS: TimedEvent[] = [];

export function toHrTime(unixNano: bigint): HrTime {
  return [Number(unixNano / NS_PER_S), Number(unixNano % NS_PER_S)];
}

/** One SDK Resource per distinct attribute set: the SDK serializer groups spans by Resource identity. */
export class SdkResourceCache {
  readonly #byKey = new Map<string, Resource>();
  readonly #extra: Readonly<Record<string, string>>;

  constructor(extra: Readonly<Record<string, string>> = {}) {
    this.#extra = extra;
  }

  of(local: SpanEndpoint): Resource {
    const attributes = processResourceAttributes(local, this.#extra);
    const key = JSON.stringify(attributes);
    let resource = this.#byKey.get(key);
    if (resource === undefined) {
      resource = resourceFromAttributes(attributes);
      this.#byKey.set(key, resource);
    }
    return resource;
  }
}

export function toReadableSpan(span: Span, resources: SdkResourceCache): ReadableSpan {
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
