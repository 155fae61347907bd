/**
 * The OTLP/gRPC span exporter as a sink exporter: @opentelemetry/exporter-trace-otlp-grpc does the
 * protocol (protobuf serialization, gzip, the TraceService/Export call); this adapter turns its
 * callback result into an ExportResult, classifying gRPC failures as retryable or permanent
 * (grpc-status.ts). It never retries itself: the sink host's retry wraps it.
 *
 * The OpenTelemetry exporter does not retry gRPC calls either (only its HTTP transport has a retrying
 * wrapper), so one `export` here is exactly one request on the wire.
 */
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import pkg from '../../package.json' with { type: 'json' };
import { type Exporter, type ExportResult, SUCCESS } from '../runtime/exporter.ts';
import type { ChannelSettings } from './channel.ts';
import { classifyExportError, isNotConnected } from './grpc-status.ts';

type ExporterConfig = NonNullable<ConstructorParameters<typeof OTLPTraceExporter>[0]>;

export interface GrpcSpanExporterOptions {
  channel: ChannelSettings;
  compression: 'gzip' | 'none';
  timeoutMs: number;
}

export class GrpcSpanExporter implements Exporter<ReadableSpan> {
  readonly #options: GrpcSpanExporterOptions;
  #exporter: OTLPTraceExporter;

  constructor(options: GrpcSpanExporterOptions) {
    this.#options = options;
    this.#exporter = this.#create();
  }

  #create(): OTLPTraceExporter {
    const { channel, compression, timeoutMs } = this.#options;
    return new OTLPTraceExporter({
      url: channel.url,
      credentials: channel.credentials,
      metadata: channel.metadata,
      // The exporter's CompressionAlgorithm enum has exactly these string values.
      compression: compression as ExporterConfig['compression'],
      timeoutMillis: timeoutMs,
      // The host sends one batch at a time; a second concurrent export would be a host bug.
      concurrencyLimit: 1,
      userAgent: `meshpipe/${pkg.version}`,
    });
  }

  async export(items: readonly ReadableSpan[]): Promise<ExportResult> {
    const result = await new Promise<ExportResult>((resolve) => {
      this.#exporter.export(items as ReadableSpan[], (r) => {
        resolve(r.code === ExportResultCode.SUCCESS ? SUCCESS : classifyExportError(r.error));
      });
    });
    if (result.code === 'retryable' && isNotConnected(result.error.cause)) {
      // grpc-js fails calls fast while it waits out its own reconnect backoff, which grows to 120 s
      // and cannot be configured through the OpenTelemetry exporter: after a long outage the sink
      // would sit idle for minutes once the receiver is back. A fresh channel connects at once, so
      // reconnection follows the host's retry policy (sinks.otlp.retry) instead.
      const stale = this.#exporter;
      this.#exporter = this.#create();
      void stale.shutdown().catch(() => {});
    }
    return result;
  }

  forceFlush(): Promise<void> {
    return this.#exporter.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#exporter.shutdown();
  }
}
