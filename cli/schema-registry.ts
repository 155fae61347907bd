/**
 * The one step every command that writes or reads records takes before it touches them: with
 * `kafka.schemaRegistry.url` set, register (or look up) the topics' schemas, so records carry the
 * registry's ids and unknown ids are resolved from it (schemas/schema-registry-connection.ts). Without
 * one, nothing happens: ids are fingerprints.
 */
import type { MeshpipeConfig } from '../lib/config/meshpipe-config.ts';
import type { Logger } from '../lib/logger.ts';
import {
  type ConnectOptions,
  connectSchemaRegistry,
  type SchemaRegistryConnection,
} from '../schemas/schema-registry-connection.ts';

export async function useSchemaRegistry(
  config: MeshpipeConfig,
  logger: Logger,
  options: Pick<ConnectOptions, 'topics' | 'register'> = {},
): Promise<SchemaRegistryConnection | undefined> {
  const connection = await connectSchemaRegistry({
    settings: config.kafka.schemaRegistry,
    topicPrefix: config.kafka.topicPrefix,
    ...options,
  });
  if (connection !== undefined)
    logger.info(
      { url: connection.url, subjects: connection.subjects.map((s) => `${s.subject}=${s.id}`) },
      'schema ids from the Schema Registry',
    );
  return connection;
}
