/**
 * A meshpipe Span as an OTLP `Span` message (opentelemetry/proto/trace/v1/trace.proto), written
 * straight from the span record: no SDK ReadableSpan, no per-span object graph beyond the attribute map
 * of the existing mapping (span-attributes.ts). The sink encodes each span when it reads it (`prepare`)
 * and keeps only these bytes; the serializer (span-serializer.ts) puts a batch's spans under their
 * resources.
 *
 * The fields, their order and their defaults are those of the OpenTelemetry JS serializer
 * (otlp-transformer serializeSpan) given the ReadableSpan the sink used to build, so a receiver gets the
 * same bytes as before (test/sinks/otlp/span-encoder.test.ts compares both). In particular:
 * - ids are raw bytes (16 and 8) from the W3C hex; timestamps are exact nanoseconds (fixed64), never a
 *   float: kernel timestamps are far above 2^53;
 * - a SERVER span's parent is the caller's CLIENT span in another process, so it is remote; a CLIENT
 *   span's parent is the SERVER span its own process was handling: local. OTLP carries this in `flags`
 *   (SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE 0x100, _IS_REMOTE 0x200), next to the sampled trace flag: every
 *   span meshpipe emits was recorded.
 */
import { TraceState } from '@opentelemetry/core';
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import pkg from '../../package.json' with { type: 'json' };
import type { Span } from '../../schemas/types.ts';
import { writeAttributes } from './attribute-encoding.ts';
import { ProtobufWriter, WIRE } from './protobuf-writer.ts';
import type { EncodedResource, ResourceCache } from './resources.ts';
import { spanAttributes } from './span-attributes.ts';

/** The instrumentation scope of every exported span: meshpipe's eBPF capture, this version. */
export const INSTRUMENTATION_SCOPE = { name: 'meshpipe', version: pkg.version } as const;

/** A span ready to export: its Span message body, and the resource it belongs to. */
export interface EncodedSpan {
  readonly resource: EncodedResource;
  readonly bytes: Buffer;
}

/** Lowercase hex of `length` digits, not all zeros (W3C: the all-zero id is invalid). */
function isValidId(id: string, length: number): boolean {
  if (id.length !== length) return false;
  let nonZero = false;
  for (let i = 0; i < length; i++) {
    const c = id.charCodeAt(i);
    if (c === 48) continue;
    if (!((c > 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
    nonZero = true;
  }
  return nonZero;
}

const SPAN_KIND = { SERVER: 2, CLIENT: 3 } as const;
const STATUS_CODE = { UNSET: 0, OK: 1, ERROR: 2 } as const;
const FLAG_SAMPLED = 0x01;
const FLAG_HAS_IS_REMOTE = 0x100;
const FLAG_IS_REMOTE = 0x200;

function invalidSpan(span: Span, why: string): MeshpipeError {
  return new MeshpipeError(ERRORS.OTLP_INVALID_SPAN, [span.spanId, why]);
}

/** W3C ids: lowercase hex of the right length, not all zeros (the invalid value). */
function checkIds(span: Span): void {
  if (!isValidId(span.traceId, 32))
    throw invalidSpan(span, `trace id ${JSON.stringify(span.traceId)} is not 32 lowercase hex digits`);
  if (!isValidId(span.spanId, 16))
    throw invalidSpan(span, `span id ${JSON.stringify(span.spanId)} is not 16 lowercase hex digits`);
  if (span.parentSpanId !== null && !isValidId(span.parentSpanId, 16))
    throw invalidSpan(
      span,
      `parent span id ${JSON.stringify(span.parentSpanId)} is not 16 lowercase hex digits`,
    );
  if (span.startTimeUnixNano < 0n || span.endTimeUnixNano < 0n)
    throw invalidSpan(span, 'a timestamp is before the Unix epoch');
}

export class SpanEncoder {
  readonly #resources: ResourceCache;
  readonly #writer = new ProtobufWriter(8192);

  constructor(resources: ResourceCache) {
    this.#resources = resources;
  }

  /** Throws OTLP_INVALID_SPAN for a span no receiver could accept (the host dead-letters it alone). */
  encode(span: Span): EncodedSpan {
    checkIds(span);
    const w = this.#writer;
    w.reset();
    w.tag(1, WIRE.lengthDelimited);
    w.hexBytes(span.traceId);
    w.tag(2, WIRE.lengthDelimited);
    w.hexBytes(span.spanId);
    if (span.traceState !== null) {
      // Parsed and serialized as the SDK does: invalid list members are dropped.
      const traceState = new TraceState(span.traceState).serialize();
      if (traceState !== '') {
        w.tag(3, WIRE.lengthDelimited);
        w.string(traceState);
      }
    }
    if (span.parentSpanId !== null) {
      w.tag(4, WIRE.lengthDelimited);
      w.hexBytes(span.parentSpanId);
    }
    w.tag(5, WIRE.lengthDelimited);
    w.string(span.name);
    w.tag(6, WIRE.varint);
    w.varint(SPAN_KIND[span.kind]);
    w.tag(7, WIRE.fixed64);
    w.fixed64(span.startTimeUnixNano);
    w.tag(8, WIRE.fixed64);
    w.fixed64(span.endTimeUnixNano);
    writeAttributes(w, 9, spanAttributes(span));
    // dropped attributes, events and links: none, written as the SDK writes them
    w.tag(10, WIRE.varint);
    w.varint(0);
    w.tag(12, WIRE.varint);
    w.varint(0);
    w.tag(14, WIRE.varint);
    w.varint(0);
    w.tag(15, WIRE.lengthDelimited);
    const status = w.begin();
    if (span.status === 'ERROR' && span.statusMessage !== null && span.statusMessage !== '') {
      w.tag(2, WIRE.lengthDelimited);
      w.string(span.statusMessage);
    }
    w.tag(3, WIRE.varint);
    w.varint(STATUS_CODE[span.status]);
    w.end(status);
    w.tag(16, WIRE.fixed32);
    w.fixed32(
      FLAG_SAMPLED |
        FLAG_HAS_IS_REMOTE |
        (span.parentSpanId !== null && span.kind === 'SERVER' ? FLAG_IS_REMOTE : 0),
    );
    return { resource: this.#resources.of(span.local), bytes: w.copy() };
  }
}
