/**
 * One OTLP sink instance, in a process of its own, for bench/otlp-sink: the sink host (sinks/runtime)
 * with either the sink as it is (`direct`: spans encoded as OTLP protobuf from the records,
 * sinks/otlp/sink.ts) or as it was (`sdk`: every span turned into an SDK ReadableSpan and serialized by
 * the OpenTelemetry serializer, test/helpers/readable-span.ts). Same host, same Kafka client, same
 * transport (the maintained gRPC exporter), same receiver: only the encoding differs.
 *
 * argv: <direct|sdk> <brokers> <topic prefix> <endpoint> <group id>. IPC: {ready: true} once it joined.
 */
import {
  type IExportTraceServiceResponse,
  type ISerializer,
  ProtobufTraceSerializer,
} from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { createKafka } from '../../lib/kafka.ts';
import { createLogger } from '../../lib/logger.ts';
import { otlpSinkSpec } from '../../sinks/otlp/config.ts';
import { OtlpExporter } from '../../sinks/otlp/otlp-exporter.ts';
import { otlpSink } from '../../sinks/otlp/sink.ts';
import { otlpTransport } from '../../sinks/otlp/transport.ts';
import { defineSink } from '../../sinks/runtime/definition.ts';
import { startSink } from '../../sinks/runtime/host.ts';
import { SdkResourceCache, toReadableSpan } from '../../testkit/readable-span.ts';

const [variant, brokers, prefix, endpoint, groupId] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const logger = createLogger({ component: `bench/otlp-sink/${variant}`, level: 'warn' });

const sdkResources = new SdkResourceCache();
const sdkSink = defineSink({
  ...otlpSink,
  prepare: (record): ReadableSpan => toReadableSpan(record.value, sdkResources),
  createExporter: ({ config }) =>
    new OtlpExporter<ReadableSpan>({
      transport: otlpTransport(config),
      compression: config.compression,
      timeoutMs: config.timeoutMs,
      serializer: ProtobufTraceSerializer as ISerializer<
        readonly ReadableSpan[],
        IExportTraceServiceResponse
      >,
    }),
});

const config = otlpSinkSpec.parse({ endpoint }, 'sinks.otlp');
const options = {
  kafka: createKafka({ brokers: brokers.split(','), clientId: `bench-otlp-sink-${variant}`, logger }),
  topicPrefix: prefix,
  logger,
  groupId,
  onStatus: () => {},
};
const sink =
  variant === 'sdk' ? await startSink(sdkSink, config, options) : await startSink(otlpSink, config, options);
await sink.ready;
process.send!({ ready: true });
process.once('SIGTERM', () => void sink.stop().then(() => process.exit(0)));
process.on('disconnect', () => void sink.stop().then(() => process.exit(0)));
