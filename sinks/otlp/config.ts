/**
 * `sinks.otlp`: where spans go and how. The keys mirror the OpenTelemetry exporter settings
 * (OTEL_EXPORTER_OTLP_ENDPOINT, _HEADERS, _COMPRESSION, _TIMEOUT, _CERTIFICATE...) under meshpipe's
 * names, plus the sink host's batching, retry and backpressure settings.
 */
import { invalid, type SpecBase, s } from '../../lib/config/spec.ts';
import { sinkHostFields } from '../runtime/definition.ts';

/** `http://host:port`, `https://host:port` or `host:port`; IPv6 hosts in brackets. */
const ENDPOINT = /^(?:(https?):\/\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})\/?$/;

export interface ParsedEndpoint {
  /** host:port for the gRPC channel. */
  address: string;
  scheme: 'http' | 'https' | undefined;
}

export function parseEndpoint(endpoint: string): ParsedEndpoint | undefined {
  const m = ENDPOINT.exec(endpoint.trim());
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { address: `${m[2]}:${port}`, scheme: m[1] as ParsedEndpoint['scheme'] };
}

export function checkEndpoint(endpoint: string): string | undefined {
  if (endpoint === '' || parseEndpoint(endpoint) !== undefined) return undefined;
  return `"${endpoint}" is not an OTLP/gRPC endpoint: use http://host:4317 (plaintext), https://host:4317 (TLS) or host:port (gRPC has no URL path)`;
}

// gRPC metadata keys are lowercase ASCII; `-bin` keys carry binary values and `grpc-` is reserved.
const HEADER_NAME = /^[0-9a-z_.-]+$/;
const HEADER_VALUE = /^[\x20-\x7e]*$/;

function checkHeader(key: string, name: string, value: unknown): [string, string] {
  const lower = name.trim().toLowerCase();
  if (!HEADER_NAME.test(lower) || lower.endsWith('-bin') || lower.startsWith('grpc-'))
    throw invalid(
      key,
      `"${name}" is not a usable gRPC metadata key (lowercase letters, digits, "_", "." and "-"; not grpc-*, not *-bin)`,
    );
  if (typeof value !== 'string') throw invalid(`${key}.${name}`, 'expected a string');
  // Never echo the value: headers carry credentials.
  if (!HEADER_VALUE.test(value)) throw invalid(`${key}.${name}`, 'the value must be printable ASCII');
  return [lower, value.trim()];
}

/**
 * Request headers (gRPC metadata), e.g. {"authorization": "Bearer ..."}. From the environment in the
 * OTEL_EXPORTER_OTLP_HEADERS format: `key1=value1,key2=value2`, values URL-encoded.
 */
const headersSpec: SpecBase<Record<string, string>> = {
  kind: 'record<string>',
  doc: 'Headers sent with every export (gRPC metadata), e.g. {"authorization": "Bearer <token>"}. Environment: `k1=v1,k2=v2` with URL-encoded values, as OTEL_EXPORTER_OTLP_HEADERS.',
  env: 'MESHPIPE_OTLP_HEADERS',
  default: {},
  parse(value, key, fromEnv) {
    const out: Record<string, string> = {};
    if (fromEnv && typeof value === 'string') {
      for (const pair of value.split(',')) {
        if (pair.trim() === '') continue;
        const eq = pair.indexOf('=');
        if (eq <= 0) throw invalid(key, 'expected key=value pairs separated by commas');
        let decoded: string;
        try {
          decoded = decodeURIComponent(pair.slice(eq + 1));
        } catch {
          throw invalid(`${key}.${pair.slice(0, eq).trim()}`, 'the value is not valid URL encoding');
        }
        const [name, v] = checkHeader(key, pair.slice(0, eq), decoded);
        out[name] = v;
      }
      return out;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      throw invalid(key, 'expected an object of header names to string values');
    for (const [name, v] of Object.entries(value)) {
      const [lower, checked] = checkHeader(key, name, v);
      out[lower] = checked;
    }
    return out;
  },
};

export const otlpSinkSpec = s.object(
  {
    endpoint: s.string({
      doc: 'The OTLP/gRPC receiver: http://host:4317 (plaintext), https://host:4317 (TLS), or host:port (TLS unless `insecure`). Empty: the sink is off in `meshpipe up`.',
      default: '',
      env: 'MESHPIPE_OTLP_ENDPOINT',
      check: checkEndpoint,
    }),
    insecure: s.boolean({
      doc: 'Plaintext for an endpoint without a scheme (an http:// endpoint is always plaintext).',
      default: false,
      env: 'MESHPIPE_OTLP_INSECURE',
    }),
    tls: s.object(
      {
        ca: s.optionalString({
          doc: "PEM file of the CA certificates that sign the receiver's certificate (default: the system roots).",
          env: 'MESHPIPE_OTLP_CA',
        }),
        cert: s.optionalString({
          doc: 'PEM client certificate for mutual TLS (with `key`).',
          env: 'MESHPIPE_OTLP_CERT',
        }),
        key: s.optionalString({
          doc: 'PEM private key of the client certificate (with `cert`).',
          env: 'MESHPIPE_OTLP_KEY',
        }),
      },
      { doc: 'TLS to the receiver (https:// endpoints).' },
    ),
    headers: headersSpec,
    compression: s.enumOf(['gzip', 'none'] as const, {
      doc: "Request compression. gzip (the OpenTelemetry Collector's default too): span batches are bulk, repetitive text.",
      default: 'gzip',
      env: 'MESHPIPE_OTLP_COMPRESSION',
    }),
    timeoutMs: s.int({
      doc: 'Deadline of one export attempt, ms; an attempt that runs out is retried (DEADLINE_EXCEEDED).',
      default: 10_000,
      min: 100,
      max: 600_000,
      env: 'MESHPIPE_OTLP_TIMEOUT_MS',
    }),
    ...sinkHostFields({ batchSize: 512, lingerMs: 1000 }),
  },
  {
    doc: 'The OTLP traces sink (`meshpipe sink otlp`): spans to an OpenTelemetry Collector, Jaeger, Grafana Tempo... over OTLP/gRPC.',
  },
);
