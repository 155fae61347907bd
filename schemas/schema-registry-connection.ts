/**
 * meshpipe's topics in a Schema Registry (`kafka.schemaRegistry.url`): at start, every topic's schema
 * is registered under its subject — TopicNameStrategy, `<topic>-value`, the name every Kafka tool
 * derives from the topic — and records are written with the ids the registry assigned. A subject the
 * registry does not have yet is created with compatibility BACKWARD (the rule meshpipe's schemas evolve
 * by: a reader of the new version reads records of the previous one); an existing subject keeps the
 * level its operator chose. Readers then fetch ids they do not know from the registry
 * (SchemaRegistry.resolveIds) and cache them.
 *
 * A batched topic's records are batches (`<topic>-value` holds the batch schema), but tools and
 * replays may write single items to it too: the item schema is registered under TopicRecordNameStrategy's
 * subject, `<topic>-<record name>` (e.g. `meshpipe.spans.v2-dev.meshpipe.v1.Span`), so those records'
 * ids resolve as well. What is
 * registered is the schema as avsc prints it with its docs and defaults (`type.schema({exportAttrs})`):
 * self-contained, where the batch files only name their item type.
 *
 * Every component registers every topic's schema, not only those it writes: registering an identical
 * schema is idempotent and costs a few requests at start, and no component can then write a record
 * whose schema a consumer cannot look up. With `autoRegister` off the schemas are only looked up, and
 * `meshpipe topics` (run by a user allowed to) registers them.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MeshpipeConfig } from '../lib/config/meshpipe-config.ts';
import { invalid } from '../lib/config/spec.ts';
import { ERRORS, MeshpipeError } from '../lib/errors.ts';
import type { AvroSchema } from './avro-types.ts';
import { type RegisteredSchema, type SchemaRegistry, schemaRegistry } from './registry.ts';
import { SchemaRegistryClient } from './schema-registry-client.ts';
import { TOPICS, type TopicDefinition, topicName } from './topics.ts';

const ATTEMPTS = 4;
const BACKOFF_MS = 500;

/** Retries what a registry answers with a 5xx (a storage conflict, an overloaded node). */
async function withRetries<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const status = (err as { status?: unknown }).status;
      if (attempt >= ATTEMPTS || typeof status !== 'number' || status < 500) throw err;
      await sleep(BACKOFF_MS * attempt);
    }
  }
}

export type SchemaRegistrySettings = MeshpipeConfig['kafka']['schemaRegistry'];

export interface RegisteredSubject {
  subject: string;
  topic: string;
  schema: string;
  id: number;
}

export interface SchemaRegistryConnection {
  readonly url: string;
  readonly subjects: readonly RegisteredSubject[];
}

/** `<topic>-value`: Confluent's TopicNameStrategy for record values. */
export function subjectOf(topic: string): string {
  return `${topic}-value`;
}

function readPem(key: string, path: string | null): Buffer | undefined {
  if (path === null) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw invalid(key, `cannot read ${path}: ${(err as Error).message}`);
  }
}

/** The client for `kafka.schemaRegistry` (url set), after checking the settings go together. */
export function schemaRegistryClient(settings: SchemaRegistrySettings): SchemaRegistryClient {
  const key = 'kafka.schemaRegistry';
  const https = settings.url.startsWith('https:');
  const { ca, cert, key: clientKey } = settings.tls;
  if (!https && (ca !== null || cert !== null || clientKey !== null))
    throw invalid(`${key}.tls`, `TLS files are set but ${settings.url} is plain http: use an https:// URL`);
  if ((cert === null) !== (clientKey === null))
    throw invalid(`${key}.tls.${cert === null ? 'cert' : 'key'}`, 'cert and key go together (mutual TLS)');
  if (settings.bearerToken !== '' && settings.username !== '')
    throw invalid(`${key}.bearerToken`, 'set either a bearer token or a username and password, not both');
  if (settings.password !== '' && settings.username === '')
    throw invalid(`${key}.username`, 'a password is set without a username');
  const pem = {
    ca: readPem(`${key}.tls.ca`, ca),
    cert: readPem(`${key}.tls.cert`, cert),
    key: readPem(`${key}.tls.key`, clientKey),
  };
  return new SchemaRegistryClient({
    url: settings.url,
    timeoutMs: settings.timeoutMs,
    ...(settings.username === '' ? {} : { username: settings.username, password: settings.password }),
    ...(settings.bearerToken === '' ? {} : { bearerToken: settings.bearerToken }),
    ...(pem.ca === undefined ? {} : { ca: pem.ca }),
    ...(pem.cert === undefined ? {} : { cert: pem.cert }),
    ...(pem.key === undefined ? {} : { key: pem.key }),
  });
}

export interface ConnectOptions {
  settings: SchemaRegistrySettings;
  topicPrefix: string;
  /** Topics beyond meshpipe's own (a user processor's), whose schemas are in `registry` already. */
  topics?: readonly TopicDefinition[];
  /** Register even when `autoRegister` is off (`meshpipe topics`, `meshpipe up`). */
  register?: boolean;
  registry?: SchemaRegistry;
}

/**
 * Registers (or looks up) every topic's schema and makes `registry` write the registry's ids and
 * resolve unknown ones from it. Returns undefined when no registry is configured: ids stay fingerprints.
 */
export async function connectSchemaRegistry(
  options: ConnectOptions,
): Promise<SchemaRegistryConnection | undefined> {
  const { settings } = options;
  if (settings.url === '') return undefined;
  const registry = options.registry ?? schemaRegistry();
  const client = schemaRegistryClient(settings);
  const register = settings.autoRegister || options.register === true;

  // Subject → the schema registered under it, and the topic it is for.
  const wanted = new Map<string, { topic: string; schema: RegisteredSchema }>();
  const want = (topic: string, schemaName: string, subjectOf: (schema: RegisteredSchema) => string) => {
    let schema: RegisteredSchema;
    try {
      schema = registry.current(schemaName);
    } catch {
      return; // not an Avro schema of this build (a changelog's state codec)
    }
    wanted.set(subjectOf(schema), { topic, schema });
  };
  for (const definition of [...Object.values(TOPICS), ...(options.topics ?? [])] as TopicDefinition[]) {
    const topic = topicName(definition, options.topicPrefix);
    want(topic, definition.schema, () => subjectOf(topic));
    if (definition.batch !== undefined)
      want(topic, definition.batch.item, (item) => `${topic}-${item.fullName}`);
  }

  // One subject after another: registries serialise registrations anyway, and Apicurio's in-memory
  // storage fails concurrent ones (lock timeouts).
  const subjects: RegisteredSubject[] = [];
  for (const [subject, { topic, schema }] of wanted) {
    const text = schema.type.schema({ exportAttrs: true }) as AvroSchema;
    const id = await withRetries(async () => {
      // A lookup first: it only reads, so a user without the right to register can start once the
      // schemas are there, and processes starting together do not race to write.
      const found = await client.lookup(subject, text);
      if (found !== undefined) return found;
      if (!register)
        throw new MeshpipeError(ERRORS.SCHEMA_REGISTRY_NOT_REGISTERED, [schema.fullName, subject]);
      if ((await client.versions(subject)).length === 0) await client.setCompatibility(subject, 'BACKWARD');
      return client.register(subject, text);
    });
    subjects.push({ subject, topic, schema: schema.fullName, id });
    registry.useId(schema, id, { write: true });
  }

  registry.attachSource({
    name: client.url,
    async schemaById(id: number): Promise<AvroSchema | undefined> {
      const found = await client.schemaById(id);
      // Only Avro records are meshpipe's; JSON Schema and Protobuf ids are another application's.
      if (found === undefined || found.schemaType !== 'AVRO') return undefined;
      try {
        return JSON.parse(found.text) as AvroSchema;
      } catch {
        return undefined;
      }
    },
  });
  return { url: client.url, subjects };
}
