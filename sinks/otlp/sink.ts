/**
 * The OTLP traces sink: `meshpipe.spans.v2` to any OTLP receiver (OpenTelemetry Collector, Jaeger,
 * Grafana Tempo...) over gRPC or HTTP. Each span record is encoded as its OTLP Span message when it is
 * read (span-encoder.ts), one resource per process, exact nanosecond timings; a batch is framed into
 * one request (span-serializer.ts) and sent by the OpenTelemetry transports (otlp-exporter.ts);
 * delivery guarantees come from the sink host (sinks/runtime/host.ts).
 */
import { defineSink } from '../runtime/definition.ts';
import { otlpSinkSpec } from './config.ts';
import { OtlpExporter } from './otlp-exporter.ts';
import { ResourceCache } from './resources.ts';
import { type EncodedSpan, SpanEncoder } from './span-encoder.ts';
import { spanSerializer } from './span-serializer.ts';
import { otlpTransport } from './transport.ts';

/** One encoder (and resource cache) per running sink: its config names the extra resource attributes. */
const encoders = new WeakMap<object, SpanEncoder>();

export const otlpSink = defineSink({
  name: 'otlp',
  description:
    'Spans to an OTLP receiver over gRPC or HTTP (OpenTelemetry Collector, Jaeger, Grafana Tempo).',
  input: 'spans',
  config: otlpSinkSpec,
  unit: 'spans',
  help: 'Transient failures (UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED...) are retried; batches the receiver rejects for good are dead-lettered.',
  examples: [
    'meshpipe sink otlp --endpoint http://localhost:4317',
    'MESHPIPE_OTLP_HEADERS="authorization=Bearer%20$TOKEN" meshpipe sink otlp --endpoint https://tempo.example.com:4317 --json',
  ],
  flags: {
    endpoint: {
      key: 'endpoint',
      value: '<url>',
      doc: 'OTLP receiver, e.g. http://localhost:4317 (gRPC) or http://localhost:4318 with sinks.otlp.protocol http/protobuf (default: sinks.otlp.endpoint, $MESHPIPE_OTLP_ENDPOINT, $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, $OTEL_EXPORTER_OTLP_ENDPOINT).',
      up: true,
    },
  },
  // With somewhere to send spans to; `meshpipe up --otlp-endpoint <url>` sets one.
  runInUp: (config) => config.endpoint !== '',
  prepare: (record, { config }): EncodedSpan => {
    let encoder = encoders.get(config);
    if (encoder === undefined) {
      encoder = new SpanEncoder(new ResourceCache({ extra: config.resourceAttributes }));
      encoders.set(config, encoder);
    }
    return encoder.encode(record.value);
  },
  createExporter: ({ config }) =>
    new OtlpExporter({
      transport: otlpTransport(config),
      compression: config.compression,
      timeoutMs: config.timeoutMs,
      serializer: spanSerializer,
    }),
});

export default otlpSink;
