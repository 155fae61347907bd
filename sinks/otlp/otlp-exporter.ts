/**
 * OTLP export as a sink exporter, over gRPC or HTTP (protobuf), through the maintained OpenTelemetry
 * transports: @opentelemetry/otlp-grpc-exporter-base (the TraceService/Export call on a grpc-js
 * channel) and @opentelemetry/otlp-exporter-base's Node HTTP transport (POST, Retry-After, keep-alive).
 * They do compression, TLS, headers and deadlines; what goes on the wire is what the serializer returns
 * (span-serializer.ts writes it from meshpipe's span records). This adapter turns their callback result
 * into an ExportResult (grpc-status.ts, http-status.ts). It never retries itself: the sink host's retry
 * wraps it. The gRPC transport does not retry either, so there one `export` is one request; the HTTP
 * transport retries 429/502/503/504 within the export's timeout, as the OTLP/HTTP specification asks.
 */
import { ExportResultCode } from '@opentelemetry/core';
import type { IOtlpExportDelegate } from '@opentelemetry/otlp-exporter-base';
import {
  createOtlpHttpExportDelegate,
  httpAgentFactoryFromOptions,
} from '@opentelemetry/otlp-exporter-base/node-http';
import { createOtlpGrpcExportDelegate } from '@opentelemetry/otlp-grpc-exporter-base';
import type { IExporterMetricsHelper, ISerializer } from '@opentelemetry/otlp-transformer';
import { ERRORS, errorMessage, MeshpipeError } from '../../lib/errors.ts';
import pkg from '../../package.json' with { type: 'json' };
import { type Exporter, type ExportResult, failed, SUCCESS } from '../runtime/exporter.ts';
import { classifyExportError, isNotConnected } from './grpc-status.ts';
import { classifyHttpExportError } from './http-status.ts';
import type { OtlpTransport } from './transport.ts';

export interface OtlpExporterOptions<T> {
  transport: OtlpTransport;
  compression: 'gzip' | 'none';
  timeoutMs: number;
  serializer: ISerializer<readonly T[], unknown>;
}

const TRACE_SERVICE = 'TraceExportService';
const TRACE_EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const USER_AGENT = `meshpipe/${pkg.version}`;
const SPANS: IExporterMetricsHelper<readonly unknown[]> = {
  name: 'span',
  countItems: (items) => items.length,
};

export class OtlpExporter<T> implements Exporter<T> {
  readonly #options: OtlpExporterOptions<T>;
  #delegate: IOtlpExportDelegate<readonly T[]>;

  constructor(options: OtlpExporterOptions<T>) {
    this.#options = options;
    this.#delegate = this.#create();
  }

  #create(): IOtlpExportDelegate<readonly T[]> {
    const { transport, compression, timeoutMs, serializer } = this.#options;
    // The host sends one batch at a time; a second concurrent export would be a host bug.
    const shared = { compression, timeoutMillis: timeoutMs, concurrencyLimit: 1, userAgent: USER_AGENT };
    if (transport.protocol === 'grpc') {
      return createOtlpGrpcExportDelegate(
        {
          ...shared,
          url: transport.address,
          credentials: () => transport.credentials,
          metadata: () => transport.metadata.clone(),
        },
        serializer,
        'otlp_grpc_span_exporter',
        SPANS,
        undefined,
        TRACE_SERVICE,
        TRACE_EXPORT_PATH,
      );
    }
    const { ca, cert, key } = transport;
    return createOtlpHttpExportDelegate(
      {
        ...shared,
        url: transport.url,
        headers: async () => ({ ...transport.headers, 'Content-Type': 'application/x-protobuf' }),
        agentFactory: httpAgentFactoryFromOptions({
          keepAlive: true,
          ...(ca === undefined ? {} : { ca }),
          ...(cert === undefined ? {} : { cert }),
          ...(key === undefined ? {} : { key }),
        }),
      },
      serializer,
      'otlp_http_span_exporter',
      SPANS,
      undefined,
    );
  }

  async export(items: readonly T[]): Promise<ExportResult> {
    const { protocol } = this.#options.transport;
    let result: ExportResult;
    try {
      result = await new Promise<ExportResult>((resolve) => {
        this.#delegate.export(items, (r) => {
          if (r.code === ExportResultCode.SUCCESS) resolve(SUCCESS);
          else resolve(protocol === 'grpc' ? classifyExportError(r.error) : classifyHttpExportError(r.error));
        });
      });
    } catch (err) {
      // The serializer threw: the same batch would fail the same way.
      return failed(
        Object.assign(new MeshpipeError(ERRORS.OTLP_EXPORT_FAILED, [errorMessage(err)], { cause: err }), {
          errorType: 'exporter',
        }),
      );
    }
    if (protocol === 'grpc' && result.code === 'retryable' && isNotConnected(result.error.cause)) {
      // grpc-js fails calls fast while it waits out its own reconnect backoff, which grows to 120 s
      // and cannot be configured through the OpenTelemetry transport: after a long outage the sink
      // would sit idle for minutes once the receiver is back. A fresh channel connects at once, so
      // reconnection follows the host's retry policy (sinks.otlp.retry) instead.
      const stale = this.#delegate;
      this.#delegate = this.#create();
      void stale.shutdown().catch(() => {});
    }
    return result;
  }

  forceFlush(): Promise<void> {
    return this.#delegate.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#delegate.shutdown();
  }
}
