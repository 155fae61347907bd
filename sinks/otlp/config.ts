/**
 * `sinks.otlp`: where spans go and how, plus the sink host's batching, retry and backpressure settings.
 *
 * The keys are the OpenTelemetry exporter settings under meshpipe's names, and the standard variables
 * map onto them (https://opentelemetry.io/docs/specs/otel/protocol/exporter/): every key reads
 * MESHPIPE_OTLP_<KEY> first, then OTEL_EXPORTER_OTLP_TRACES_<KEY>, then OTEL_EXPORTER_OTLP_<KEY> —
 * the traces-specific variable wins over the generic one, as the specification says. Like every
 * environment variable here, they win over the configuration file. OTEL_RESOURCE_ATTRIBUTES adds
 * attributes to every exported resource; OTEL_SERVICE_NAME does not apply (docs/sinks.md says why).
 */
import { invalid, type SpecBase, s } from '../../lib/config/spec.ts';
import { sinkHostFields } from '../runtime/definition.ts';

export const OTLP_PROTOCOLS = ['grpc', 'http/protobuf'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** The OTLP/HTTP path of traces, appended to a base URL. */
export const TRACES_PATH = 'v1/traces';

/** MESHPIPE_OTLP_<name>, then the OpenTelemetry variables for traces, then the generic one. */
function otelEnv(meshpipe: string, otel: string) {
  return {
    env: `MESHPIPE_OTLP_${meshpipe}`,
    envAliases: [`OTEL_EXPORTER_OTLP_TRACES_${otel}`, `OTEL_EXPORTER_OTLP_${otel}`],
  };
}

/** `http://host:port`, `https://host:port` or `host:port`; IPv6 hosts in brackets. */
const GRPC_ENDPOINT = /^(?:(https?):\/\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})\/?$/;

export interface ParsedEndpoint {
  /** host:port for the gRPC channel. */
  address: string;
  scheme: 'http' | 'https' | undefined;
}

/** An OTLP/gRPC endpoint, or undefined when it is not one. */
export function parseEndpoint(endpoint: string): ParsedEndpoint | undefined {
  const m = GRPC_ENDPOINT.exec(endpoint.trim());
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { address: `${m[2]}:${port}`, scheme: m[1] as ParsedEndpoint['scheme'] };
}

/**
 * The endpoint as the protocol takes it, or an error text. gRPC: `http(s)://host:port` or `host:port`
 * (gRPC has no URL path). OTLP/HTTP: a full URL; without a path, or from OTEL_EXPORTER_OTLP_ENDPOINT
 * (a base URL, by the specification), `/v1/traces` is appended.
 */
export function resolveEndpoint(
  endpoint: string,
  protocol: OtlpProtocol,
  fromGenericVariable: boolean,
): { endpoint: string } | { problem: string } {
  if (endpoint === '') return { endpoint };
  if (protocol === 'grpc') {
    if (parseEndpoint(endpoint) !== undefined) return { endpoint: endpoint.trim() };
    return {
      problem: `"${endpoint}" is not an OTLP/gRPC endpoint: use http://host:4317 (plaintext), https://host:4317 (TLS) or host:port (gRPC has no URL path; for OTLP/HTTP set protocol "http/protobuf")`,
    };
  }
  let url: URL;
  try {
    url = new URL(endpoint.trim());
  } catch {
    return { problem: `"${endpoint}" is not a URL: OTLP/HTTP needs one, e.g. http://collector:4318` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { problem: `OTLP/HTTP needs an http:// or https:// URL, got ${url.protocol}` };
  if (url.username !== '' || url.password !== '')
    return { problem: 'credentials in the URL would be logged: send them as headers (sinks.otlp.headers)' };
  if (fromGenericVariable || url.pathname === '/' || url.pathname === '')
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/${TRACES_PATH}`;
  return { endpoint: url.href };
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

/** `k1=v1,k2=v2` with URL-encoded values: OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES. */
function parseKeyValueList(
  value: string,
  key: string,
  check: (name: string, value: string) => [string, string],
): Record<string, string> {
  const out: Record<string, string> = {};
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
    const [name, v] = check(pair.slice(0, eq), decoded);
    out[name] = v;
  }
  return out;
}

/**
 * Request headers (gRPC metadata or HTTP headers), e.g. {"authorization": "Bearer ..."}. From the
 * environment in the OTEL_EXPORTER_OTLP_HEADERS format: `key1=value1,key2=value2`, values URL-encoded.
 */
const headersSpec: SpecBase<Record<string, string>> = {
  kind: 'record<string>',
  doc: 'Headers sent with every export (gRPC metadata, or HTTP headers), e.g. {"authorization": "Bearer <token>"}. Environment: `k1=v1,k2=v2` with URL-encoded values, as OTEL_EXPORTER_OTLP_HEADERS.',
  ...otelEnv('HEADERS', 'HEADERS'),
  default: {},
  parse(value, key, fromEnv) {
    if (fromEnv && typeof value === 'string')
      return parseKeyValueList(value, key, (name, v) => checkHeader(key, name, v));
    const out: Record<string, string> = {};
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      throw invalid(key, 'expected an object of header names to string values');
    for (const [name, v] of Object.entries(value)) {
      const [lower, checked] = checkHeader(key, name, v);
      out[lower] = checked;
    }
    return out;
  },
};

/**
 * Attributes added to the resource of every exported span, e.g. {"deployment.environment.name":
 * "prod", "k8s.cluster.name": "eu-1"}. The observed process's own attributes win over them: a
 * resource describes the process that served or sent the request, not meshpipe.
 */
const resourceAttributesSpec: SpecBase<Record<string, string>> = {
  kind: 'record<string>',
  doc: 'Attributes added to the resource of every exported span, e.g. {"deployment.environment.name": "prod"}; the observed process\'s own attributes (service.name, host.name, process.*, k8s.*) win. Environment: `k1=v1,k2=v2`, URL-encoded values, as OTEL_RESOURCE_ATTRIBUTES.',
  env: 'MESHPIPE_OTLP_RESOURCE_ATTRIBUTES',
  envAliases: ['OTEL_RESOURCE_ATTRIBUTES'],
  default: {},
  parse(value, key, fromEnv) {
    const check = (name: string, v: unknown): [string, string] => {
      const trimmed = name.trim();
      if (trimmed === '') throw invalid(key, 'an attribute name is empty');
      if (typeof v !== 'string') throw invalid(`${key}.${trimmed}`, 'expected a string');
      return [trimmed, v];
    };
    if (fromEnv && typeof value === 'string') return parseKeyValueList(value, key, check);
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      throw invalid(key, 'expected an object of attribute names to string values');
    return Object.fromEntries(Object.entries(value).map(([name, v]) => check(name, v)));
  },
};

export const otlpSinkSpec = s.object(
  {
    endpoint: s.string({
      doc: 'The OTLP receiver. gRPC: http://host:4317 (plaintext), https://host:4317 (TLS), or host:port (TLS unless `insecure`). OTLP/HTTP: its URL, e.g. http://host:4318 (/v1/traces is appended when there is no path). Empty: the sink is off in `meshpipe up`.',
      default: '',
      ...otelEnv('ENDPOINT', 'ENDPOINT'),
    }),
    protocol: s.enumOf(OTLP_PROTOCOLS, {
      doc: "OTLP over gRPC, or over HTTP with protobuf bodies (http/protobuf). meshpipe defaults to gRPC, not to the specification's http/protobuf: existing configurations name gRPC endpoints.",
      default: 'grpc',
      ...otelEnv('PROTOCOL', 'PROTOCOL'),
    }),
    insecure: s.boolean({
      doc: 'gRPC: plaintext for an endpoint without a scheme (an http:// endpoint is always plaintext). OTLP/HTTP follows the URL scheme.',
      default: false,
      ...otelEnv('INSECURE', 'INSECURE'),
    }),
    tls: s.object(
      {
        ca: s.optionalString({
          doc: "PEM file of the CA certificates that sign the receiver's certificate (default: the system roots).",
          env: 'MESHPIPE_OTLP_CA',
          envAliases: ['OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE', 'OTEL_EXPORTER_OTLP_CERTIFICATE'],
        }),
        cert: s.optionalString({
          doc: 'PEM client certificate for mutual TLS (with `key`).',
          env: 'MESHPIPE_OTLP_CERT',
          envAliases: [
            'OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE',
            'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE',
          ],
        }),
        key: s.optionalString({
          doc: 'PEM private key of the client certificate (with `cert`).',
          env: 'MESHPIPE_OTLP_KEY',
          envAliases: ['OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY', 'OTEL_EXPORTER_OTLP_CLIENT_KEY'],
        }),
      },
      { doc: 'TLS to the receiver (https:// endpoints).' },
    ),
    headers: headersSpec,
    compression: s.enumOf(['gzip', 'none'] as const, {
      doc: "Request compression. gzip (the OpenTelemetry Collector's default too): span batches are bulk, repetitive text.",
      default: 'gzip',
      ...otelEnv('COMPRESSION', 'COMPRESSION'),
    }),
    timeoutMs: s.int({
      doc: 'Deadline of one export, ms; an export that runs out is retried by the host (OTLP/HTTP retries 429/502/503/504 within it first, as the OpenTelemetry exporter does).',
      default: 10_000,
      min: 100,
      max: 600_000,
      env: 'MESHPIPE_OTLP_TIMEOUT_MS',
      envAliases: ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT'],
    }),
    resourceAttributes: resourceAttributesSpec,
    ...sinkHostFields({ batchSize: 512, lingerMs: 1000 }),
  },
  {
    doc: 'The OTLP traces sink (`meshpipe sink otlp`): spans to an OpenTelemetry Collector, Jaeger, Grafana Tempo... over OTLP/gRPC or OTLP/HTTP.',
    finish(section, key, sources) {
      const resolved = resolveEndpoint(
        section.endpoint,
        section.protocol,
        sources.endpoint === 'OTEL_EXPORTER_OTLP_ENDPOINT',
      );
      if ('problem' in resolved) {
        const from = sources.endpoint === undefined ? '' : ` (from ${sources.endpoint})`;
        throw invalid(`${key}.endpoint${from}`, resolved.problem);
      }
      return { ...section, endpoint: resolved.endpoint };
    },
  },
);
