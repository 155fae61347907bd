import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { maskUrl } from '../../lib/mask.ts';
import type { CommandDefinition } from '../command.ts';
import { ensureStack, type StackService, stackStatus, stopStack } from '../stack/stack.ts';

export const start: CommandDefinition = {
  name: 'stack start',
  summary: 'Start the local single-node Kafka (KRaft) and Redis, or reuse them if they already run.',
  usage: 'stack start [--no-redis] [--schema-registry] [--json]',
  description:
    'Data lives under .local/stack/ and survives restarts. Ports: 9092 and 6379 unless taken, then free ones. With --schema-registry, also a local Schema Registry (Apicurio Registry, in memory, port 8081 unless taken): point kafka.schemaRegistry.url at the URL it prints.',
  options: {
    'no-redis': { type: 'boolean', doc: 'Start Kafka only.' },
    'schema-registry': {
      type: 'boolean',
      doc: 'Also start a local Schema Registry (Apicurio Registry; its Confluent-compatible API).',
    },
  },
  json: true,
  async run(ctx) {
    const { config } = ctx.config();
    const result = await ensureStack({
      logger: ctx.logger,
      redis: ctx.values['no-redis'] !== true,
      preferredKafkaPort: config.stack.kafkaPort,
      preferredRedisPort: config.stack.redisPort,
      kafkaHeapMb: config.stack.kafkaHeapMb,
      schemaRegistry: ctx.values['schema-registry'] === true,
      progress: (t) => ctx.progress.update(t),
    });
    ctx.progress.done();
    if (ctx.json) ctx.printJson(result);
    else {
      ctx.out(
        `kafka ${result.endpoints.kafkaBrokers.join(',')} (${result.started.includes('kafka') ? 'started' : 'already running'})`,
      );
      if (result.endpoints.redisUrl !== '')
        ctx.out(
          `redis ${maskUrl(result.endpoints.redisUrl)} (${result.started.includes('redis') ? 'started' : 'already running'})`,
        );
      ctx.out(`export MESHPIPE_KAFKA_BROKERS=${result.endpoints.kafkaBrokers.join(',')}`);
      if (result.endpoints.redisUrl !== '') ctx.out(`export MESHPIPE_REDIS_URL=${result.endpoints.redisUrl}`);
      if (result.endpoints.schemaRegistryUrl !== '')
        ctx.out(`export MESHPIPE_SCHEMA_REGISTRY_URL=${result.endpoints.schemaRegistryUrl}`);
    }
    return 0;
  },
};

export const stop: CommandDefinition = {
  name: 'stack stop',
  summary: 'Stop the local Kafka, Redis and Schema Registry (their data stays under .local/stack/).',
  usage: 'stack stop [--only kafka|redis|schema-registry] [--json]',
  options: {
    only: {
      type: 'string',
      value: '<service>',
      doc: 'Stop this service only: kafka, redis or schema-registry.',
    },
  },
  json: true,
  async run(ctx) {
    const names: Record<string, StackService> = {
      kafka: 'kafka',
      redis: 'redis',
      'schema-registry': 'schemaRegistry',
    };
    const only = ctx.values.only;
    if (only !== undefined && (typeof only !== 'string' || names[only] === undefined))
      throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, ['--only takes kafka, redis or schema-registry']);
    ctx.progress.update('stopping the local stack');
    const stopped = await stopStack(only === undefined ? {} : { only: [names[only as string]!] });
    ctx.progress.done();
    if (ctx.json) ctx.printJson({ stopped });
    else ctx.out(stopped.length === 0 ? 'nothing was running' : `stopped ${stopped.join(' and ')}`);
    return 0;
  },
};

export const status: CommandDefinition = {
  name: 'stack status',
  summary: 'Show whether the local Kafka and Redis run, and where.',
  usage: 'stack status [--json]',
  options: {},
  json: true,
  async run(ctx) {
    const s = await stackStatus();
    if (ctx.json) ctx.printJson(s);
    else {
      ctx.out(
        s.kafka.running
          ? `kafka running: 127.0.0.1:${s.kafka.port} (pid ${s.kafka.pid}, Kafka ${s.kafka.version}, log ${s.kafka.logFile})`
          : 'kafka not running',
      );
      ctx.out(
        s.redis.running
          ? `redis running: 127.0.0.1:${s.redis.port} (pid ${s.redis.pid}, log ${s.redis.logFile})`
          : 'redis not running',
      );
      if (s.schemaRegistry.running)
        ctx.out(
          `schema registry running: ${s.schemaRegistry.url} (pid ${s.schemaRegistry.pid}, Apicurio Registry ${s.schemaRegistry.version}, log ${s.schemaRegistry.logFile})`,
        );
    }
    return s.kafka.running ? 0 : 3;
  },
};
