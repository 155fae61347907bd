/**
 * meshpipe's schemas in a real Schema Registry (Apicurio Registry 2.4.2.Final through its
 * Confluent-compatible API; test/helpers/schema-registry.ts): registration under TopicNameStrategy
 * subjects with BACKWARD compatibility, writing with the registry's ids, resolving ids a process does
 * not know, schema evolution through the registry, and every way it can refuse. Each test uses its own
 * topic prefix, so its subjects are its own.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { schemaRegistrySpec } from '../../lib/config/meshpipe-config.ts';
import { ERRORS } from '../../lib/errors.ts';
import type { AvroSchema } from '../../schemas/avro-types.ts';
import { codecFor, schemaIdOfRecord, toJsonSafe } from '../../schemas/codec.ts';
import { loadSchemaRegistry, SchemaRegistry } from '../../schemas/registry.ts';
import {
  connectSchemaRegistry,
  type SchemaRegistrySettings,
  schemaRegistryClient,
  subjectOf,
} from '../../schemas/schema-registry-connection.ts';
import { topicCodec } from '../../schemas/topic-codec.ts';
import { TOPICS, type TopicDefinition, topicName } from '../../schemas/topics.ts';
import { FIXTURES, METRIC, SPAN } from '../../testkit/fixtures.ts';
import { registryGet, testSchemaRegistryUrl } from '../helpers/schema-registry.ts';

function settings(url: string, change: Partial<SchemaRegistrySettings> = {}): SchemaRegistrySettings {
  return { ...schemaRegistrySpec.default, url, ...change };
}

const prefix = () => `test-sr-${randomBytes(4).toString('hex')}`;

/** A schema as it is registered: self-contained, with its docs and defaults. */
const registered = (name: string) =>
  loadSchemaRegistry().current(name).type.schema({ exportAttrs: true }) as AvroSchema;

/** The metric sample with one more (defaulted) field: the next compatible version of the record. */
function evolvedMetricSchema(): AvroSchema {
  const current = registered('metric-sample') as unknown as { fields: unknown[] };
  current.fields.push({ name: 'region', type: ['null', 'string'], default: null });
  return current as unknown as AvroSchema;
}

describe('Schema Registry connection (Apicurio Registry)', () => {
  let url: string;
  before(async () => {
    url = await testSchemaRegistryUrl();
  });

  it("registers every topic's schema under <topic>-value, BACKWARD, and writes the registry's ids", async () => {
    const p = prefix();
    const registry = loadSchemaRegistry();
    const connection = await connectSchemaRegistry({ settings: settings(url), topicPrefix: p, registry });
    assert.ok(connection);
    // One subject per topic; a batched topic's items under <topic>-<record name> too.
    const expected = Object.values(TOPICS).flatMap((t: TopicDefinition) => {
      const topic = topicName(t, p);
      const item = t.batch === undefined ? [] : [`${topic}-${registry.current(t.batch.item).fullName}`];
      return [`${topic}-value`, ...item];
    });
    assert.deepEqual(connection.subjects.map((s) => s.subject).sort(), expected.sort());
    for (const s of connection.subjects) {
      const latest = await registryGet(url, `subjects/${s.subject}/versions/latest`);
      assert.equal(latest.status, 200);
      const body = latest.body as { id: number; schema: string };
      assert.equal(body.id, s.id);
      const schema = registry.byId(s.id);
      assert.equal(schema.fullName, s.schema);
      // Self-contained (a batch schema's item type inlined), docs kept.
      assert.deepEqual(JSON.parse(body.schema), schema.type.schema({ exportAttrs: true }));
      const config = await registryGet(url, `config/${s.subject}`);
      assert.equal((config.body as { compatibilityLevel: string }).compatibilityLevel, 'BACKWARD');
    }
    // Records carry the registry's id, not the fingerprint; fingerprint-id records still decode.
    for (const [schema, value] of Object.entries(FIXTURES)) {
      const codec = codecFor(schema, registry);
      const bytes = codec.encode(value);
      assert.equal(
        schemaIdOfRecord(bytes),
        connection.subjects.find((s) => s.schema === codec.schema.fullName)!.id,
      );
      assert.notEqual(schemaIdOfRecord(bytes), codec.schema.fingerprint);
      const old = codecFor(schema, loadSchemaRegistry()).encode(value);
      assert.equal(schemaIdOfRecord(old), codec.schema.fingerprint);
      assert.deepEqual(toJsonSafe(codec.decode(old)), toJsonSafe(value));
    }
    // A batch record of the spans topic, written and read through the registry's ids.
    const spans = topicCodec<typeof SPAN>(TOPICS.spans, registry);
    const [batch] = spans.encodeBatches([SPAN, { ...SPAN, spanId: '1111111111111111' }]);
    assert.equal(
      schemaIdOfRecord(batch!),
      connection.subjects.find((s) => s.subject === `${topicName(TOPICS.spans, p)}-value`)!.id,
    );
    assert.deepEqual(
      spans.decodeRecord(batch!).map((v) => v.spanId),
      [SPAN.spanId, '1111111111111111'],
    );
    // A second process registering the same schemas gets the same ids (registration is idempotent).
    const again = await connectSchemaRegistry({
      settings: settings(url),
      topicPrefix: p,
      registry: loadSchemaRegistry(),
    });
    assert.deepEqual(
      again!.subjects.map((s) => [s.subject, s.id]).sort(),
      connection.subjects.map((s) => [s.subject, s.id]).sort(),
    );
  });

  it('leaves the compatibility an operator chose for an existing subject', async () => {
    const p = prefix();
    const subject = subjectOf(topicName(TOPICS.metrics, p));
    const client = schemaRegistryClient(settings(url));
    await client.register(subject, registered('metric-sample'));
    await client.setCompatibility(subject, 'FULL');
    await connectSchemaRegistry({ settings: settings(url), topicPrefix: p, registry: loadSchemaRegistry() });
    const config = await registryGet(url, `config/${subject}`);
    assert.equal((config.body as { compatibilityLevel: string }).compatibilityLevel, 'FULL');
  });

  it('resolves ids it does not know from the registry before decoding, a newer schema version included', async () => {
    const p = prefix();
    // A newer writer: its metric sample has one more field, registered as the subject's next version.
    const writer = new SchemaRegistry();
    writer.register(evolvedMetricSchema(), { file: 'metric-sample', current: true });
    await connectSchemaRegistry({
      settings: settings(url),
      topicPrefix: p,
      registry: loadSchemaRegistry(),
    });
    await connectSchemaRegistry({ settings: settings(url), topicPrefix: p, registry: writer });
    const bytes = codecFor('metric-sample', writer).encode({ ...METRIC, region: 'eu' });
    const newId = schemaIdOfRecord(bytes);
    const versions = await registryGet(url, `subjects/${subjectOf(topicName(TOPICS.metrics, p))}/versions`);
    assert.deepEqual(versions.body, [1, 2]);

    // A reader that has only this build's schemas, and a registry attached but not this id.
    const reader = loadSchemaRegistry();
    await connectSchemaRegistry({ settings: settings(url), topicPrefix: p, registry: reader });
    const codec = codecFor('metric-sample', reader);
    assert.equal(reader.has(newId), false);
    assert.throws(() => codec.decode(bytes), { code: ERRORS.SCHEMA_UNKNOWN_ID.code });
    await reader.resolveIds([{ value: bytes }, { value: bytes }, { value: null }]);
    assert.equal(reader.has(newId), true);
    // Read with the reader's own schema: the new field is dropped, everything else is exact.
    assert.deepEqual(toJsonSafe(codec.decode(bytes)), toJsonSafe(METRIC));
  });

  it('leaves ids the registry does not have unknown: the record is dead-lettered, not retried', async () => {
    const reader = loadSchemaRegistry();
    await connectSchemaRegistry({ settings: settings(url), topicPrefix: prefix(), registry: reader });
    const bytes = Buffer.from(codecFor('metric-sample', reader).encode(METRIC));
    bytes.writeUInt32BE(0x7ffffff0, 1);
    await reader.resolveIds([{ value: bytes }]);
    assert.throws(
      () => codecFor('metric-sample', reader).decode(bytes),
      (err: Error & { code?: string; hint?: string }) => {
        assert.equal(err.code, ERRORS.SCHEMA_UNKNOWN_ID.code);
        assert.match(err.hint ?? '', /Schema Registry/);
        return true;
      },
    );
  });

  it('refuses a schema the subject cannot evolve to under BACKWARD', async () => {
    const p = prefix();
    await connectSchemaRegistry({ settings: settings(url), topicPrefix: p, registry: loadSchemaRegistry() });
    const incompatible = registered('metric-sample') as unknown as { fields: unknown[] };
    // A new field without a default: a reader of this version cannot read the records before it.
    incompatible.fields.push({ name: 'tenant', type: 'string' });
    const client = schemaRegistryClient(settings(url));
    await assert.rejects(
      client.register(subjectOf(topicName(TOPICS.metrics, p)), incompatible as unknown as AvroSchema),
      { code: ERRORS.SCHEMA_REGISTRY_INCOMPATIBLE.code },
    );
  });

  it('with autoRegister off, looks the ids up and refuses to start when a schema is missing', async () => {
    const p = prefix();
    const off = settings(url, { autoRegister: false });
    await assert.rejects(
      connectSchemaRegistry({ settings: off, topicPrefix: p, registry: loadSchemaRegistry() }),
      { code: ERRORS.SCHEMA_REGISTRY_NOT_REGISTERED.code },
    );
    // What `meshpipe topics` does for such a deployment: register once, then everyone looks up.
    const registered = await connectSchemaRegistry({
      settings: off,
      topicPrefix: p,
      register: true,
      registry: loadSchemaRegistry(),
    });
    const looked = await connectSchemaRegistry({
      settings: off,
      topicPrefix: p,
      registry: loadSchemaRegistry(),
    });
    assert.deepEqual(looked!.subjects.map((s) => s.id).sort(), registered!.subjects.map((s) => s.id).sort());
  });

  it('names the registry it cannot reach, and checks its settings before connecting', async () => {
    await assert.rejects(
      connectSchemaRegistry({
        settings: settings('http://127.0.0.1:9/apis/ccompat/v7', { timeoutMs: 2000 }),
        topicPrefix: prefix(),
        registry: loadSchemaRegistry(),
      }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, ERRORS.SCHEMA_REGISTRY_UNAVAILABLE.code);
        assert.match(err.message, /127\.0\.0\.1:9/);
        return true;
      },
    );
    assert.throws(
      () => schemaRegistryClient(settings(url, { tls: { ca: '/x.pem', cert: null, key: null } })),
      {
        code: ERRORS.CONFIG_INVALID_VALUE.code,
      },
    );
    assert.throws(() => schemaRegistryClient(settings(url, { username: 'u', bearerToken: 't' })), {
      code: ERRORS.CONFIG_INVALID_VALUE.code,
    });
    // Without a URL nothing is connected: ids stay fingerprints.
    const registry = loadSchemaRegistry();
    assert.equal(
      await connectSchemaRegistry({ settings: settings(''), topicPrefix: prefix(), registry }),
      undefined,
    );
    assert.equal(registry.current('span').id, registry.current('span').fingerprint);
  });

  it('a wrong path answers 404: named as a registry that is not the Confluent-compatible API', async () => {
    const base = url.replace(/\/apis\/ccompat\/v7$/, '/not-the-api');
    await assert.rejects(
      connectSchemaRegistry({
        settings: settings(base),
        topicPrefix: prefix(),
        registry: loadSchemaRegistry(),
      }),
      (err: Error & { code?: string }) => {
        assert.ok(err.code === ERRORS.SCHEMA_REGISTRY_REFUSED.code, `${err.code}: ${err.message}`);
        return true;
      },
    );
  });
});
