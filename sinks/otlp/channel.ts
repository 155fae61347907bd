/**
 * The gRPC channel settings of the OTLP exporter, from `sinks.otlp`: the URL, TLS credentials and
 * request metadata. Everything is passed explicitly, so the OTEL_EXPORTER_OTLP_* environment variables
 * the OpenTelemetry exporter also reads can only add headers that meshpipe's configuration does not set.
 */
import { readFileSync } from 'node:fs';
import { type ChannelCredentials, credentials, Metadata } from '@grpc/grpc-js';
import type { InferFields } from '../../lib/config/spec.ts';
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import type { otlpSinkSpec } from './config.ts';
import { parseEndpoint } from './config.ts';

export type OtlpSinkConfig = InferFields<(typeof otlpSinkSpec)['fields']>;

export interface ChannelSettings {
  /** `http(s)://host:port`, as the OpenTelemetry exporter takes it. */
  url: string;
  tls: boolean;
  credentials: ChannelCredentials;
  metadata: Metadata;
}

function configError(key: string, why: string): MeshpipeError {
  return new MeshpipeError(ERRORS.CONFIG_INVALID_VALUE, [key, why]);
}

function readPem(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw configError(key, `cannot read ${path}: ${(err as Error).message}`);
  }
}

export function channelSettings(config: OtlpSinkConfig): ChannelSettings {
  const endpoint = parseEndpoint(config.endpoint);
  if (config.endpoint === '' || endpoint === undefined) {
    throw new MeshpipeError(ERRORS.OTLP_ENDPOINT_MISSING, []);
  }
  const tls = endpoint.scheme === 'https' || (endpoint.scheme === undefined && !config.insecure);
  const { ca, cert, key } = config.tls;
  if (!tls && (ca !== null || cert !== null || key !== null)) {
    throw configError(
      'sinks.otlp.tls',
      `TLS files are set but ${config.endpoint} is plaintext: use https://${endpoint.address}`,
    );
  }
  if ((cert === null) !== (key === null)) {
    throw configError(
      cert === null ? 'sinks.otlp.tls.cert' : 'sinks.otlp.tls.key',
      'cert and key go together (mutual TLS)',
    );
  }
  const metadata = new Metadata();
  for (const [name, value] of Object.entries(config.headers)) metadata.set(name, value);
  return {
    url: `${tls ? 'https' : 'http'}://${endpoint.address}`,
    tls,
    credentials: tls
      ? credentials.createSsl(
          ca === null ? null : readPem('sinks.otlp.tls.ca', ca),
          key === null ? null : readPem('sinks.otlp.tls.key', key),
          cert === null ? null : readPem('sinks.otlp.tls.cert', cert),
        )
      : credentials.createInsecure(),
    metadata,
  };
}
