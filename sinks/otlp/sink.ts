/**
 * The OTLP traces sink: `meshpipe.spans.v2` to any OTLP/gRPC receiver (OpenTelemetry Collector,
 * Jaeger, Grafana Tempo...). One ReadableSpan per span record, one Resource per process, exact
 * nanosecond timings; delivery guarantees come from the sink host (sinks/runtime/host.ts).
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { defineSink } from '../runtime/definition.ts';
import { channelSettings } from './channel.ts';
import { otlpSinkSpec } from './config.ts';
import { GrpcSpanExporter } from './grpc-span-exporter.ts';
import { toReadableSpan } from './readable-span.ts';
import { ResourceCache } from './resources.ts';

const resources = new ResourceCache();

export const otlpSink = defineSink({
  name: 'otlp',
  description: 'Spans to an OTLP/gRPC receiver (OpenTelemetry Collector, Jaeger, Grafana Tempo).',
  input: 'spans',
  config: otlpSinkSpec,
  unit: 'spans',
  prepare: (record): ReadableSpan => toReadableSpan(record.value, resources),
  createExporter: ({ config }) =>
    new GrpcSpanExporter({
      channel: channelSettings(config),
      compression: config.compression,
      timeoutMs: config.timeoutMs,
    }),
});

export default otlpSink;
