/**
 * meshpipe's configuration: one JSON file (meshpipe.json in the working directory, or --config /
 * MESHPIPE_CONFIG), environment variables for the keys that name one, and command-line flags on top.
 *
 * Sections for the collector, processors and sinks are declared next to the code that uses them and
 * composed here, so `meshpipe config` documents everything in one table.
 */
import { hostname } from 'node:os';
import { LOG_LEVELS } from '../logger.ts';
import { type InferFields, type ObjectSpec, s } from './spec.ts';

const BROKER = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/;

/** `host:port` with a port in range; IPv6 hosts in brackets. */
export function checkBroker(value: string): string | undefined {
  const m = BROKER.exec(value);
  if (m === null) return `"${value}" is not host:port (for example 127.0.0.1:9092 or [::1]:9092)`;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return `port ${port} in "${value}" is out of range 1-65535`;
  return undefined;
}

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
      doc: 'Prefix of every meshpipe topic name (`<prefix>.l7.raw.v1`...). Change it to run several meshpipes on one cluster.',
      default: 'meshpipe',
      env: 'MESHPIPE_TOPIC_PREFIX',
      check: (v) =>
        /^[A-Za-z0-9._-]+$/.test(v) ? undefined : 'only letters, digits, ".", "_" and "-" are allowed',
    }),
    ssl: s.boolean({ doc: 'Connect with TLS.', default: false, env: 'MESHPIPE_KAFKA_SSL' }),
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
      doc: 'Partition count per topic name suffix, overriding the definitions (e.g. {"l7.raw.v1": 24}).',
      default: {},
    }),
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
      env: 'MESHPIPE_NODE_NAME',
    }),
  },
  { doc: 'This node.' },
);

export const meshpipeConfigSpec = s.object(
  {
    kafka: kafkaSpec,
    redis: redisSpec,
    stack: stackSpec,
    log: logSpec,
    node: nodeSpec,
  },
  { doc: 'meshpipe configuration' },
);

export type MeshpipeConfig = InferFields<(typeof meshpipeConfigSpec)['fields']>;
export type ConfigSpec = ObjectSpec<(typeof meshpipeConfigSpec)['fields']>;
