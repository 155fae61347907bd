/**
 * meshpipe's configuration: one JSON file (meshpipe.json in the working directory, or --config /
 * MESHPIPE_CONFIG), environment variables for the keys that name one, and command-line flags on top.
 *
 * The sections of the collector, the processors and the sinks are objects here: their keys are declared
 * next to the code that uses them (collectors/config.ts, each processor's and sink's config.ts), which
 * lib/ must not import, and checked when they are resolved; cli/config-reference.ts composes them all
 * so that `meshpipe config` documents everything in one table.
 */
import { hostname } from 'node:os';
import { LOG_LEVELS } from '../logger.ts';
import { type InferFields, invalid, type ObjectSpec, type SpecBase, s } from './spec.ts';

const BROKER = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/;

/** `host:port` with a port in range; IPv6 hosts in brackets. */
export function checkBroker(value: string): string | undefined {
  const m = BROKER.exec(value);
  if (m === null) return `"${value}" is not host:port (for example 127.0.0.1:9092 or [::1]:9092)`;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return `port ${port} in "${value}" is out of range 1-65535`;
  return undefined;
}

/** An http(s) URL without credentials in it (they would end up in logs and process listings). */
export function checkRegistryUrl(value: string): string | undefined {
  if (value === '') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `"${value}" is not a URL: use http://host:8081 or https://host/apis/ccompat/v7`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `use an http:// or https:// URL, got ${url.protocol}`;
  if (url.username !== '' || url.password !== '')
    return 'credentials in the URL would be logged: set kafka.schemaRegistry.username and password (MESHPIPE_SCHEMA_REGISTRY_PASSWORD) instead';
  if (url.search !== '' || url.hash !== '') return 'the URL takes no query or fragment';
  return undefined;
}

export const schemaRegistrySpec = s.object(
  {
    url: s.string({
      doc: "A Confluent-compatible Schema Registry API (Confluent, Apicurio's /apis/ccompat/v7, Redpanda, Karapace): every topic's schema is registered under `<topic>-value` and records carry the registry's schema ids. Empty: ids are schema fingerprints, no registry needed (README, Schema Registry).",
      default: '',
      env: 'MESHPIPE_SCHEMA_REGISTRY_URL',
      check: checkRegistryUrl,
    }),
    username: s.string({
      doc: 'HTTP basic authentication user (a Confluent Cloud API key...).',
      default: '',
      env: 'MESHPIPE_SCHEMA_REGISTRY_USERNAME',
    }),
    password: s.string({
      doc: 'HTTP basic authentication password (prefer the environment variable).',
      default: '',
      env: 'MESHPIPE_SCHEMA_REGISTRY_PASSWORD',
    }),
    bearerToken: s.string({
      doc: 'A bearer token sent as `Authorization: Bearer <token>` instead of basic authentication (prefer the environment variable).',
      default: '',
      env: 'MESHPIPE_SCHEMA_REGISTRY_BEARER_TOKEN',
    }),
    tls: s.object(
      {
        ca: s.optionalString({
          doc: "PEM file of the CA certificates that sign the registry's certificate (default: the system roots).",
          env: 'MESHPIPE_SCHEMA_REGISTRY_CA',
        }),
        cert: s.optionalString({
          doc: 'PEM client certificate for mutual TLS (with `key`).',
          env: 'MESHPIPE_SCHEMA_REGISTRY_CERT',
        }),
        key: s.optionalString({
          doc: 'PEM private key of the client certificate (with `cert`).',
          env: 'MESHPIPE_SCHEMA_REGISTRY_KEY',
        }),
      },
      { doc: 'TLS to the registry (https:// URLs).' },
    ),
    autoRegister: s.boolean({
      doc: 'Register the schemas at start (subjects new to the registry get compatibility BACKWARD). Off: only look them up, and refuse to start when one is missing (register them with `meshpipe topics` as a user allowed to).',
      default: true,
      env: 'MESHPIPE_SCHEMA_REGISTRY_AUTO_REGISTER',
    }),
    timeoutMs: s.int({
      doc: 'Deadline of one request to the registry, ms.',
      default: 10_000,
      min: 100,
      max: 120_000,
    }),
  },
  { doc: 'A Schema Registry for the schema ids of every topic (optional).' },
);

export const kafkaSpec = s.object(
  {
    brokers: s.list(s.string({ doc: 'host:port', default: '', check: checkBroker }), {
      doc: 'Bootstrap servers of your Kafka cluster. Empty: `meshpipe up` starts a local single-node KRaft broker.',
      default: [],
      env: 'MESHPIPE_KAFKA_BROKERS',
    }),
    clientId: s.string({
      doc: 'Kafka client id prefix.',
      default: 'meshpipe',
      env: 'MESHPIPE_KAFKA_CLIENT_ID',
    }),
    topicPrefix: s.string({
      doc: 'Prefix of every meshpipe topic name (`<prefix>.l7.raw.v2`...). Change it to run several meshpipes on one cluster.',
      default: 'meshpipe',
      env: 'MESHPIPE_TOPIC_PREFIX',
      check: (v) =>
        /^[A-Za-z0-9._-]+$/.test(v) ? undefined : 'only letters, digits, ".", "_" and "-" are allowed',
    }),
    ssl: s.boolean({
      doc: 'Connect with TLS (brokers verified against the system CAs unless kafka.tls.ca is set). Setting any kafka.tls file turns it on.',
      default: false,
      env: 'MESHPIPE_KAFKA_SSL',
    }),
    tls: s.object(
      {
        ca: s.string({
          doc: "PEM file of the CA certificates that sign the brokers' certificates (default: the system CAs).",
          default: '',
          env: 'MESHPIPE_KAFKA_TLS_CA',
        }),
        cert: s.string({
          doc: "PEM file of this client's certificate (chain), for brokers that authenticate clients by certificate (mTLS); with kafka.tls.key.",
          default: '',
          env: 'MESHPIPE_KAFKA_TLS_CERT',
        }),
        key: s.string({
          doc: 'PEM file of the private key of kafka.tls.cert (a path, not the key; keep the file readable by meshpipe only).',
          default: '',
          env: 'MESHPIPE_KAFKA_TLS_KEY',
        }),
      },
      { doc: 'TLS files for the Kafka connection (docs/security.md).' },
    ),
    saslMechanism: s.enumOf(['none', 'plain', 'scram-sha-256', 'scram-sha-512'] as const, {
      doc: 'SASL mechanism.',
      default: 'none',
      env: 'MESHPIPE_KAFKA_SASL_MECHANISM',
    }),
    saslUsername: s.string({ doc: 'SASL user name.', default: '', env: 'MESHPIPE_KAFKA_SASL_USERNAME' }),
    saslPassword: s.string({
      doc: 'SASL password (prefer the environment variable).',
      default: '',
      env: 'MESHPIPE_KAFKA_SASL_PASSWORD',
    }),
    replicationFactor: s.int({
      doc: 'Replication factor for topics meshpipe creates (-1: the broker default).',
      default: -1,
      min: -1,
      max: 32,
    }),
    partitions: s.record(s.int({ doc: 'partitions', default: 1, min: 1, max: 10000 }), {
      doc: 'Partition count per topic name suffix, overriding the definitions (e.g. {"l7.raw.v2": 24}).',
      default: {},
    }),
    schemaRegistry: schemaRegistrySpec,
  },
  { doc: 'Kafka connection and topics.' },
);

export const redisSpec = s.object(
  {
    url: s.string({
      doc: 'Redis URL for alert delivery queues. Empty: `meshpipe up` starts a local redis-server.',
      default: '',
      env: 'MESHPIPE_REDIS_URL',
      check: (v) =>
        v === '' || /^rediss?:\/\//.test(v) ? undefined : 'expected redis://host:port or rediss://...',
    }),
  },
  { doc: 'Redis.' },
);

export const stackSpec = s.object(
  {
    kafkaPort: s.int({
      doc: 'Preferred port of the local Kafka broker (another is used if taken).',
      default: 9092,
      min: 1,
      max: 65535,
    }),
    redisPort: s.int({
      doc: 'Preferred port of the local Redis (another is used if taken).',
      default: 6379,
      min: 1,
      max: 65535,
    }),
    kafkaHeapMb: s.int({ doc: 'Java heap of the local broker, MiB.', default: 768, min: 256, max: 16384 }),
  },
  { doc: 'The local stack started when no Kafka/Redis is configured.' },
);

export const logSpec = s.object(
  {
    level: s.enumOf(LOG_LEVELS, { doc: 'Log level.', default: 'info', env: 'MESHPIPE_LOG_LEVEL' }),
  },
  { doc: 'Logging (pino JSON on stderr).' },
);

export const nodeSpec = s.object(
  {
    name: s.string({
      doc: 'Node name attached to everything captured here.',
      default: hostname(),
      defaultDoc: '(the host name)',
      env: 'MESHPIPE_NODE_NAME',
    }),
  },
  { doc: 'This node.' },
);

/**
 * The section of one processor or sink, `processors.<name>` / `sinks.<name>`: any JSON object here. Its
 * keys are validated by that component's own spec when it runs, or when `meshpipe up` starts it
 * (processors/runtime/config.ts, sinks/registry.ts), with errors naming the full key: components loaded
 * from a path are only known then, and lib/ depends on neither processors/ nor sinks/. Its name is
 * checked against the built-ins' (section-names.ts) whenever a command loads the configuration.
 */
function componentSection(doc: string): SpecBase<Record<string, unknown>> {
  return {
    kind: 'object',
    doc,
    default: {},
    parse(value, key) {
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw invalid(
          key,
          `expected an object, got ${Array.isArray(value) ? 'a list' : JSON.stringify(value)}`,
        );
      return value as Record<string, unknown>;
    },
  };
}

/**
 * `collector`: the node collector's section. Its keys are declared next to the collector
 * (collectors/config.ts) and checked by `resolveCollectorConfig`, which every command runs when it
 * loads the configuration (cli/main.ts), so a bad key still stops any command naming the key.
 */
export const collectorSection = componentSection(
  'The node collector (meshpipe collect, observe, record): capture, identity, redaction, transport; its keys follow.',
);

export const processorsSpec = s.record(
  componentSection(
    'Configuration of one processor: `enabled`, `startFrom`, `runtime.*` and its own keys (`meshpipe processor list --json` shows them).',
  ),
  {
    doc: 'Per-processor configuration by processor name, e.g. {"span-assembler": {"exchangeTimeoutMs": 60000}}. A name one typo away from a built-in processor\'s (`span-asembler`) is refused, except by the command that runs a processor of that name: name your own processors further from the built-ins.',
    default: {},
  },
);

export const sinksSpec = s.record(
  componentSection(
    "Configuration of one sink: the host's keys (`listen`, `batchSize`, `retry.*`, `runtime.*`...) and its own.",
  ),
  {
    doc: 'Sinks: where meshpipe delivers what leaves Kafka. Per-sink configuration by sink name, e.g. {"otlp": {"endpoint": "http://localhost:4317"}}; the built-in sinks\' keys follow. A name one typo away from a built-in sink\'s (`otpl`) is refused, except by the command that runs a sink of that name: name your own sinks further from the built-ins.',
    default: {},
  },
);

export const meshpipeConfigSpec = s.object(
  {
    kafka: kafkaSpec,
    redis: redisSpec,
    stack: stackSpec,
    log: logSpec,
    node: nodeSpec,
    collector: collectorSection,
    processors: processorsSpec,
    sinks: sinksSpec,
  },
  { doc: 'meshpipe configuration' },
);

export type MeshpipeConfig = InferFields<(typeof meshpipeConfigSpec)['fields']>;
export type ConfigSpec = ObjectSpec<(typeof meshpipeConfigSpec)['fields']>;
