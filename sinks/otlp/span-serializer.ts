/**
 * The OTLP request of a batch of encoded spans, as the OpenTelemetry exporters' `ISerializer`: the
 * maintained transports (@opentelemetry/otlp-grpc-exporter-base, otlp-exporter-base) send whatever
 * bytes a serializer gives them, with their retry, compression, TLS and headers. Spans were encoded
 * when they were read (span-encoder.ts); here they are only grouped and framed:
 *
 *   ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
 *   ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
 *   ScopeSpans    { InstrumentationScope scope = 1; repeated Span spans = 2; }
 *
 * One ResourceSpans per resource, in the order resources first appear in the batch, and the spans of
 * each in batch order — the grouping of the OpenTelemetry serializer. Sizes are known, so the request
 * is written once into a buffer of exactly its size.
 */
import type { IExportTraceServiceResponse, ISerializer } from '@opentelemetry/otlp-transformer';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { ProtobufWriter, WIRE } from './protobuf-writer.ts';
import type { EncodedResource } from './resources.ts';
import { type EncodedSpan, INSTRUMENTATION_SCOPE } from './span-encoder.ts';

function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** A length-delimited field of `length` bytes: its tag (one byte for fields 1-15), length and bytes. */
function fieldSize(length: number): number {
  return 1 + varintSize(length) + length;
}

const SCOPE: Buffer = (() => {
  const w = new ProtobufWriter(256);
  w.tag(1, WIRE.lengthDelimited);
  w.string(INSTRUMENTATION_SCOPE.name);
  w.tag(2, WIRE.lengthDelimited);
  w.string(INSTRUMENTATION_SCOPE.version);
  return w.copy();
})();

export function serializeSpans(spans: readonly EncodedSpan[]): Uint8Array {
  const groups = new Map<EncodedResource, EncodedSpan[]>();
  for (const span of spans) {
    const group = groups.get(span.resource);
    if (group === undefined) groups.set(span.resource, [span]);
    else group.push(span);
  }
  // Sizes first: every length is known from the encoded parts.
  const sizes: Array<{ scopeSpans: number; resourceSpans: number }> = [];
  let total = 0;
  for (const [resource, group] of groups) {
    let scopeSpans = fieldSize(SCOPE.length);
    for (const span of group) scopeSpans += fieldSize(span.bytes.length);
    const resourceSpans = fieldSize(resource.bytes.length) + fieldSize(scopeSpans);
    sizes.push({ scopeSpans, resourceSpans });
    total += fieldSize(resourceSpans);
  }
  const w = new ProtobufWriter(total);
  let i = 0;
  for (const [resource, group] of groups) {
    const { scopeSpans, resourceSpans } = sizes[i++]!;
    w.tag(1, WIRE.lengthDelimited);
    w.varint(resourceSpans);
    w.tag(1, WIRE.lengthDelimited);
    w.varint(resource.bytes.length);
    w.raw(resource.bytes);
    w.tag(2, WIRE.lengthDelimited);
    w.varint(scopeSpans);
    w.tag(1, WIRE.lengthDelimited);
    w.varint(SCOPE.length);
    w.raw(SCOPE);
    for (const span of group) {
      w.tag(2, WIRE.lengthDelimited);
      w.varint(span.bytes.length);
      w.raw(span.bytes);
    }
  }
  return w.buf.subarray(0, w.pos);
}

export const spanSerializer: ISerializer<readonly EncodedSpan[], IExportTraceServiceResponse> = {
  serializeRequest: serializeSpans,
  // The answer (partial success) is the same message whoever wrote the request.
  deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
};
