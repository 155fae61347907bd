/**
 * meshpipe with a Schema Registry, as a user runs it: real `meshpipe topics`, `meshpipe process`,
 * `meshpipe sink otlp` and `meshpipe tail` processes pointed at a real registry (Apicurio Registry,
 * test/helpers/schema-registry.ts) and a real Kafka; and a consumer no one here wrote — Confluent's
 * Python client with its AvroDeserializer and SchemaRegistryClient — decoding what they wrote.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { schemaRegistrySpec } from '../../lib/config/meshpipe-config.ts';
import { LOCAL_DIR } from '../../lib/paths.ts';
import type { AvroSchema } from '../../schemas/avro-types.ts';
import { allTopicDefinitions } from '../../schemas/cluster-topics.ts';
import { schemaIdOfRecord } from '../../schemas/codec.ts';
import { SCHEMAS_DIR, SchemaRegistry, schemaRegistry } from '../../schemas/registry.ts';
import { connectSchemaRegistry } from '../../schemas/schema-registry-connection.ts';
import { batchRecordsOf, topicCodec } from '../../schemas/topic-codec.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { Span } from '../../schemas/types.ts';
import { type TestKafka, testKafka } from '../../testkit/kafka.ts';
import { OtlpReceiver } from '../../testkit/otlp-receiver.ts';
import { makeTraces } from '../../testkit/span-traffic.ts';
import { jsonLines, runCli } from '../helpers/cli.ts';
import { registryGet, testSchemaRegistryUrl } from '../helpers/schema-registry.ts';
import { waitFor } from '../helpers/wait.ts';
import { COUNTER_INPUT, COUNTER_OUTPUT } from '../processors/runtime/fixtures/counter.ts';
import {
  COUNTER_PATH,
  caughtUp,
  counterInputs,
  counterTopics,
  produceCounterInputs,
  type RunningCli,
  readCounterOutputs,
  startCli,
  testConfigFile,
} from '../processors/runtime/helpers.ts';

const PYTHON = `${LOCAL_DIR}/python/bin/python`;
const CONSUMER = fileURLToPath(new URL('../helpers/confluent_avro_consumer.py', import.meta.url));

interface PythonRecord {
  partition: number;
  offset: number;
  schemaId: number;
  value: Record<string, unknown>;
  body: string;
  reencoded: string;
}

/** Reads `count` records of `topic` with Confluent's Python consumer and AvroDeserializer. */
function readWithConfluentPython(k: TestKafka, url: string, topic: string, count: number): PythonRecord[] {
  const r = spawnSync(PYTHON, [CONSUMER, k.brokers.join(','), url, topic, String(count), '60'], {
    encoding: 'utf8',
    timeout: 90_000,
  });
  assert.equal(r.status, 0, `${r.stderr}\n${r.error ?? ''}`);
  return jsonLines(r.stdout) as PythonRecord[];
}

describe('meshpipe with a Schema Registry', { timeout: 300_000 }, () => {
  let url: string;
  let k: TestKafka;
  let env: Record<string, string>;
  const running: RunningCli[] = [];

  before(async () => {
    url = await testSchemaRegistryUrl();
    k = await testKafka('schema-registry');
    await k.createTopics([...allTopicDefinitions(), COUNTER_INPUT, COUNTER_OUTPUT]);
    env = {
      ...k.env,
      MESHPIPE_SCHEMA_REGISTRY_URL: url,
      MESHPIPE_CONFIG: testConfigFile(['counter'], {}),
    };
    // This test process writes records too, with the registry's ids, like any meshpipe component.
    await connectSchemaRegistry({
      settings: { ...schemaRegistrySpec.default, url },
      topicPrefix: k.prefix,
      topics: [COUNTER_INPUT, COUNTER_OUTPUT],
    });
  });
  after(async () => {
    for (const run of running) run.child.kill('SIGKILL');
    await k.cleanup();
  });

  async function produceTo(
    topic: string,
    records: Array<{ partition: number; value: Buffer }>,
  ): Promise<void> {
    const producer = k.kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: records });
    await producer.disconnect();
  }

  it("`meshpipe topics` registers every topic's schema under <topic>-value", async () => {
    const r = await runCli(['topics', '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      schemaRegistry: { url: string; subjects: Array<{ subject: string; id: number; schema: string }> };
    };
    assert.equal(out.schemaRegistry.url, url);
    for (const t of Object.values(TOPICS)) {
      const subject = `${k.prefix}.${t.suffix}-value`;
      const mine = out.schemaRegistry.subjects.find((s) => s.subject === subject);
      assert.ok(mine, `${subject} registered`);
      const latest = await registryGet(url, `subjects/${subject}/versions/latest`);
      assert.equal((latest.body as { id: number }).id, mine.id);
      // The same id this process writes with.
      assert.equal(mine.id, schemaRegistry().current(t.schema).id);
    }
  });

  it("a user's processor reads and writes its own topics with registry ids; Confluent's Python consumer decodes them", async () => {
    const inputs = counterInputs(3, 4);
    await produceCounterInputs(k.kafka, k.prefix, inputs);
    const run = startCli(['process', COUNTER_PATH], env);
    running.push(run);
    const { group, input, output } = counterTopics(k.prefix);
    await waitFor('the counter to consume everything', () => caughtUp(k.admin, group, input), {
      timeoutMs: 90_000,
    });
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0, run.stderr().slice(-2000));

    const outputId = schemaRegistry().current('counter-output').id;
    assert.notEqual(outputId, schemaRegistry().current('counter-output').fingerprint);
    const outputs = await readCounterOutputs(k.kafka, k.admin, k.prefix);
    assert.deepEqual([...outputs.entries()].sort(), [
      ['k0', [1n, 2n, 3n, 4n]],
      ['k1', [1n, 2n, 3n, 4n]],
      ['k2', [1n, 2n, 3n, 4n]],
    ]);

    const decoded = readWithConfluentPython(k, url, output, inputs.length);
    for (const record of decoded) {
      assert.equal(record.schemaId, outputId);
      // Written again by fastavro with the registry's schema: byte for byte the record meshpipe wrote.
      assert.equal(record.reencoded, record.body);
    }
    const counts = new Map<string, string[]>();
    for (const r of decoded.sort((a, b) => a.partition - b.partition || a.offset - b.offset)) {
      const key = r.value.key as string;
      counts.set(key, [...(counts.get(key) ?? []), r.value.count as string]);
    }
    assert.deepEqual(counts.get('k0'), ['1', '2', '3', '4']);
  });

  it('the OTLP sink and tail decode span batches written with registry ids, also of a newer schema version registered while they run', async () => {
    const receiver = await OtlpReceiver.start();
    try {
      const sink = startCli(['sink', 'otlp', '--endpoint', receiver.endpoint, '--json'], {
        ...env,
        MESHPIPE_CONFIG: '',
      });
      running.push(sink);
      // Batch records, as trace-linker writes them, and one record of a single span, as tools write them.
      const spans = makeTraces(5, 71);
      const codec = topicCodec<Span>(TOPICS.spans);
      const single = makeTraces(1, 73)[0]!;
      await produceTo(k.topic('spans'), [
        ...batchRecordsOf(codec, spans, TOPICS.spans.partitions),
        { partition: 0, value: codec.item.encode(single) },
      ]);
      await waitFor('the first spans at the receiver', () => receiver.spans().length >= spans.length + 1, {
        timeoutMs: 90_000,
      });

      // A newer writer: one more (defaulted) field in the span, so a new span and span batch version,
      // registered while the sink runs. The sink has never seen their ids: it resolves them.
      const newer = new SchemaRegistry();
      const evolved = schemaRegistry().current('span').type.schema({ exportAttrs: true }) as unknown as {
        fields: unknown[];
      };
      evolved.fields.push({ name: 'sampledBy', type: ['null', 'string'], default: null });
      newer.register(evolved as unknown as AvroSchema, { file: 'span', current: true });
      newer.register(JSON.parse(readFileSync(join(SCHEMAS_DIR, `${TOPICS.spans.schema}.avsc`), 'utf8')), {
        file: TOPICS.spans.schema,
        current: true,
      });
      await connectSchemaRegistry({
        settings: { ...schemaRegistrySpec.default, url },
        topicPrefix: k.prefix,
        registry: newer,
      });
      const later = makeTraces(5, 72).map((s) => ({ ...s, sampledBy: 'tail' }));
      const newerRecords = batchRecordsOf(
        topicCodec<Span>(TOPICS.spans, newer),
        later,
        TOPICS.spans.partitions,
      );
      assert.notEqual(schemaIdOfRecord(newerRecords[0]!.value), codec.batchSchema!.id);
      await produceTo(k.topic('spans'), newerRecords);
      const all = [...spans, single, ...later].map((s) => s.spanId).sort();
      await waitFor(
        'every span, both schema versions, at the receiver',
        () => new Set(receiver.spans().map((s) => s.spanId)).size === all.length,
        { timeoutMs: 90_000 },
      );
      assert.deepEqual([...new Set(receiver.spans().map((s) => s.spanId))].sort(), all);
      sink.child.kill('SIGTERM');
      assert.equal(await sink.exited, 0, sink.stderr().slice(-2000));

      // tail, a fresh process: prints each span with the id its record was written with.
      const tail = await runCli(
        ['tail', k.topic('spans'), '--from-beginning', '--limit', String(all.length), '--json'],
        { env: { ...env, MESHPIPE_CONFIG: '' } },
      );
      assert.equal(tail.code, 0, tail.stderr);
      const lines = jsonLines(tail.stdout) as Array<{ schemaId: number; value: { spanId: string } }>;
      assert.deepEqual(lines.map((l) => l.value.spanId).sort(), all);
      assert.deepEqual(
        [...new Set(lines.map((l) => l.schemaId))].sort(),
        [codec.batchSchema!.id, codec.item.schema.id, schemaIdOfRecord(newerRecords[0]!.value)].sort(),
      );

      // And the consumer no one here wrote, through the same registry: batches and the single span.
      const records = newerRecords.length + batchRecordsOf(codec, spans, TOPICS.spans.partitions).length + 1;
      const decoded = readWithConfluentPython(k, url, k.topic('spans'), records);
      const pythonSpans = decoded.flatMap((r) =>
        'spans' in r.value ? (r.value.spans as Array<Record<string, unknown>>) : [r.value],
      );
      assert.deepEqual(pythonSpans.map((v) => v.spanId).sort(), all);
      const byId = new Map([...spans, single, ...later].map((s) => [s.spanId, s]));
      for (const v of pythonSpans) {
        const span = byId.get(v.spanId as string)!;
        assert.equal(v.startTimeUnixNano, String(span.startTimeUnixNano), 'exact nanoseconds');
        assert.equal(v.traceId, span.traceId);
      }
      for (const r of decoded) assert.equal(r.reencoded, r.body);
    } finally {
      await receiver.close();
    }
  });
});
