/**
 * How the OTLP sink reaches its receiver, from `sinks.otlp`: the protocol, where to, TLS credentials and
 * headers, checked once at start. Everything is passed to the OpenTelemetry transports explicitly (the
 * standard OTEL_EXPORTER_OTLP_* variables were already mapped onto sinks.otlp, config.ts), so what the
 * sink does is what `meshpipe config --effective` shows.
 */
import { readFileSync } from 'node:fs';
import { type ChannelCredentials, credentials, Metadata } from '@grpc/grpc-js';
import type { InferFields } from '../../lib/config/spec.ts';
import { invalid } from '../../lib/config/spec.ts';
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { type otlpSinkSpec, parseEndpoint } from './config.ts';

export type OtlpSinkConfig = InferFields<(typeof otlpSinkSpec)['fields']>;

export interface GrpcTransport {
  protocol: 'grpc';
  /** host:port of the channel. */
  address: string;
  tls: boolean;
  credentials: ChannelCredentials;
  metadata: Metadata;
}

export interface HttpTransport {
  protocol: 'http/protobuf';
  /** The traces URL requests are POSTed to. */
  url: string;
  tls: boolean;
  headers: Record<string, string>;
  /** PEM material for an https:// URL. */
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export type OtlpTransport = GrpcTransport | HttpTransport;

function readPem(key: string, path: string | null): Buffer | undefined {
  if (path === null) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw invalid(key, `cannot read ${path}: ${(err as Error).message}`);
  }
}

export function otlpTransport(config: OtlpSinkConfig): OtlpTransport {
  if (config.endpoint === '') throw new MeshpipeError(ERRORS.OTLP_ENDPOINT_MISSING, []);
  let tls: boolean;
  let address = '';
  if (config.protocol === 'grpc') {
    const endpoint = parseEndpoint(config.endpoint)!; // validated by the config spec
    tls = endpoint.scheme === 'https' || (endpoint.scheme === undefined && !config.insecure);
    address = endpoint.address;
  } else {
    tls = config.endpoint.startsWith('https:');
  }
  const { ca, cert, key } = config.tls;
  if (!tls && (ca !== null || cert !== null || key !== null)) {
    throw invalid(
      'sinks.otlp.tls',
      `TLS files are set but ${config.endpoint} is plaintext: use an https:// endpoint`,
    );
  }
  if ((cert === null) !== (key === null)) {
    throw invalid(
      cert === null ? 'sinks.otlp.tls.cert' : 'sinks.otlp.tls.key',
      'cert and key go together (mutual TLS)',
    );
  }
  const pem = {
    ca: readPem('sinks.otlp.tls.ca', ca),
    key: readPem('sinks.otlp.tls.key', key),
    cert: readPem('sinks.otlp.tls.cert', cert),
  };
  if (config.protocol === 'http/protobuf') {
    return {
      protocol: 'http/protobuf',
      url: config.endpoint,
      tls,
      headers: { ...config.headers },
      ...(pem.ca === undefined ? {} : { ca: pem.ca }),
      ...(pem.cert === undefined ? {} : { cert: pem.cert }),
      ...(pem.key === undefined ? {} : { key: pem.key }),
    };
  }
  const metadata = new Metadata();
  for (const [name, value] of Object.entries(config.headers)) metadata.set(name, value);
  return {
    protocol: 'grpc',
    address,
    tls,
    credentials: tls
      ? credentials.createSsl(pem.ca ?? null, pem.key ?? null, pem.cert ?? null)
      : credentials.createInsecure(),
    metadata,
  };
}
