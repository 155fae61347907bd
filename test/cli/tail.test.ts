import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { codecFor } from '../../schemas/codec.ts';
import { SchemaRegistry } from '../../schemas/registry.ts';
import { EXACT_NS, SPAN } from '../../testkit/fixtures.ts';
import { type TestKafka, testKafka } from '../../testkit/kafka.ts';
import { poisonSpan } from '../helpers/avro-hostile.ts';
import { jsonLines, runCli } from '../helpers/cli.ts';

interface TailLine {
  partition: number;
  offset: string;
  schema?: string;
  value?: { traceId: string; startTimeUnixNano: string };
  error?: { code: string; message: string };
}

describe('meshpipe tail', () => {
  let k: TestKafka;
  before(async () => {
    k = await testKafka('tail');
    await k.createTopics();
    const producer = k.kafka.producer();
    await producer.connect();
    const codec = codecFor('span');
    // All on one partition (same key) so the order is known: two good, one corrupt, one poison (a map
    // claiming 2^28 entries: it exhausted the heap before the codec's bounds check), one good.
    await producer.send({
      topic: k.topic('spans'),
      messages: [
        { key: 't', value: codec.encode({ ...SPAN, traceId: '1'.repeat(32) }) },
        { key: 't', value: codec.encode({ ...SPAN, traceId: '2'.repeat(32) }) },
        { key: 't', value: Buffer.from('this is not avro') },
        { key: 't', value: poisonSpan(SPAN) },
        { key: 't', value: codec.encode({ ...SPAN, traceId: '3'.repeat(32) }) },
      ],
    });
    await producer.disconnect();
  });
  after(async () => k.cleanup());

  it('decodes records as JSON lines, reports the corrupt and poison ones with partition/offset and goes on', async () => {
    const r = await runCli(['tail', k.topic('spans'), '--from-beginning', '--limit', '3', '--json'], {
      env: k.env,
    });
    assert.equal(r.code, 0, r.stderr);
    const lines = jsonLines(r.stdout) as TailLine[];
    const records = lines.filter((l) => l.value !== undefined);
    assert.deepEqual(
      records.map((l) => l.value!.traceId),
      ['1'.repeat(32), '2'.repeat(32), '3'.repeat(32)],
    );
    assert.equal(records[0]!.value!.startTimeUnixNano, EXACT_NS.toString(), 'timestamps exact, as strings');
    assert.equal(records[0]!.schema, 'dev.meshpipe.v1.Span');
    const [bad, poison] = lines.filter((l) => l.error !== undefined);
    assert.equal(bad!.error!.code, 'MESHPIPE_ERR_SCHEMA_NOT_WIRE_FORMAT');
    assert.equal(bad!.offset, '2');
    assert.equal(poison!.error!.code, 'MESHPIPE_ERR_SCHEMA_DECODE_FAILED');
    assert.match(poison!.error!.message, /a map of 268435456 items/);
    assert.equal(poison!.offset, '3');
    assert.match(r.stderr, new RegExp(`${k.topic('spans').replaceAll('.', '\\.')}\\[\\d\\]@2: skipped`));
    assert.match(r.stderr, new RegExp(`${k.topic('spans').replaceAll('.', '\\.')}\\[\\d\\]@3: skipped`));
  });

  it('prints one readable line per record without --json', async () => {
    const r = await runCli(['tail', k.topic('spans'), '--from-beginning', '--limit', '1'], { env: k.env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /SERVER orders GET \/users\/\{id\} 200 1\.23ms/);
  });

  it('exits after --idle-timeout when nothing new arrives', async () => {
    const r = await runCli(['tail', k.topic('anomalies'), '--idle-timeout', '2', '--json'], { env: k.env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '');
  });

  it("decodes a topic of the user's own schema when given --schema", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshpipe-tail-'));
    const schema = {
      type: 'record',
      name: 'Hits',
      namespace: 'dev.example',
      fields: [
        { name: 'route', type: 'string' },
        { name: 'count', type: 'long' },
      ],
    };
    writeFileSync(join(dir, 'hits.avsc'), JSON.stringify(schema));
    const registry = new SchemaRegistry();
    registry.register(schema as never, { file: 'hits', current: true });
    const topic = `${k.prefix}.hits.v1`;
    await k.admin.createTopics([{ topic, numPartitions: 1 }]);
    const producer = k.kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: [{ value: codecFor('hits', registry).encode({ route: '/x', count: 7n }) }],
    });
    await producer.disconnect();
    const without = await runCli(['tail', topic, '--from-beginning', '--idle-timeout', '3', '--json'], {
      env: k.env,
    });
    assert.equal((jsonLines(without.stdout)[0] as TailLine).error?.code, 'MESHPIPE_ERR_SCHEMA_UNKNOWN_ID');
    const r = await runCli(
      ['tail', topic, '--from-beginning', '--limit', '1', '--json', '--schema', join(dir, 'hits.avsc')],
      {
        env: k.env,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((jsonLines(r.stdout)[0] as { value: unknown }).value, { route: '/x', count: '7' });
    const bad = await runCli(['tail', topic, '--schema', '/nonexistent.avsc'], { env: k.env });
    assert.equal(bad.code, 64);
  });

  it('names a missing topic and how to create it', async () => {
    const r = await runCli(['tail', `${k.prefix}.nope.v1`, '--limit', '1'], { env: k.env });
    assert.equal(r.code, 69);
    assert.match(r.stderr, /MESHPIPE_ERR_KAFKA_TOPIC_MISSING/);
    assert.match(r.stderr, /meshpipe topics/);
  });
});
