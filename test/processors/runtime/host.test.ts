import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ERRORS } from '../../../lib/errors.ts';
import { readPartitionsToEnd } from '../../../lib/kafka.ts';
import { resolveProcessorSettings } from '../../../processors/runtime/config.ts';
import { ProcessorHost } from '../../../processors/runtime/host.ts';
import { DEAD_LETTER_HEADERS } from '../../../runtime/dead-letter.ts';
import { codecFor } from '../../../schemas/codec.ts';
import type { DeadLetter, MetricSample } from '../../../schemas/types.ts';
import { type TestKafka, testKafka, testLogger } from '../../../testkit/kafka.ts';
import { varint } from '../../helpers/avro-hostile.ts';
import { waitFor } from '../../helpers/wait.ts';
import counter, { COUNTER_INPUT } from './fixtures/counter.ts';
import {
  caughtUp,
  counterTopics,
  encodeCounterInput,
  produceCounterInputs,
  readCounterOutputs,
  readCounterState,
  TEST_RUNTIME,
} from './helpers.ts';

// Wire-format bytes that are not a valid record: no magic byte, an unknown schema id, a truncated body.
const NOT_WIRE_FORMAT = Buffer.from('not avro at all');
const UNKNOWN_SCHEMA = Buffer.from([0, 0x7f, 0xff, 0xff, 0xfe, 2, 0x61, 2]);
const TRUNCATED = encodeCounterInput({ key: 'k1', n: 5n }).subarray(0, 7);
// A record whose `tags` array claims 2^28 items in the last bytes: before the codec's bounds check, avsc
// allocated them and the process died of an exhausted heap, before committing, on every restart.
const POISON = Buffer.concat([
  encodeCounterInput({ key: 'k1', n: 6n }).subarray(0, -1),
  Buffer.from(varint(2 ** 28)),
]);

describe('processor host', () => {
  let k: TestKafka;
  let host: ProcessorHost;
  before(async () => {
    k = await testKafka('host');
    await k.createTopics([COUNTER_INPUT]);
  });
  after(async () => {
    await host?.stop();
    await k.cleanup();
  });

  it('dead-letters poison records with reason and source, goes on, and punctuates transactionally', async () => {
    // All on key k1, so on one partition, in this order.
    const raw = [
      { key: 'k1', value: encodeCounterInput({ key: 'k1', n: 1n }) },
      { key: 'k1', value: NOT_WIRE_FORMAT },
      { key: 'k1', value: encodeCounterInput({ key: 'k1', n: 2n }) },
      { key: 'k1', value: UNKNOWN_SCHEMA },
      { key: 'k1', value: TRUNCATED },
      { key: 'k1', value: POISON },
      // The handler counts it, emits, then throws: both must be discarded.
      { key: 'k1', value: encodeCounterInput({ key: 'k1', n: -1n }) },
      { key: 'k1', value: encodeCounterInput({ key: 'k1', n: 3n }) },
    ];
    await produceCounterInputs(k.kafka, k.prefix, [], { raw });
    host = new ProcessorHost({
      definition: counter,
      settings: resolveProcessorSettings(counter, {
        processors: { counter: { tickMs: 100, runtime: TEST_RUNTIME } },
      }),
      kafka: k.kafka,
      topicPrefix: k.prefix,
      replicationFactor: -1,
      logger: testLogger,
      instanceId: 'in-test',
    });
    await host.start();
    const { group, input } = counterTopics(k.prefix);
    await waitFor('the input consumed', () => caughtUp(k.admin, group, input), { timeoutMs: 30_000 });
    // A few punctuations (every 100 ms, per partition) after the records.
    await waitFor(
      'ticks',
      async () => ((await readCounterOutputs(k.kafka, k.admin, k.prefix)).get('tick-0')?.length ?? 0) >= 3,
      {
        timeoutMs: 30_000,
        intervalMs: 300,
      },
    );
    await host.stop();

    const outputs = await readCounterOutputs(k.kafka, k.admin, k.prefix);
    assert.deepEqual(outputs.get('k1'), [1n, 2n, 3n], 'the throwing call left no output and no state change');
    const state = await readCounterState(k.kafka, k.admin, k.prefix);
    assert.equal(state.get('k1'), 3n);
    for (const p of [0, 1, 2, 3]) {
      const ticks = outputs.get(`tick-${p}`) ?? [];
      assert.ok(ticks.length >= 1, `partition ${p} punctuated`);
      assert.deepEqual(
        ticks,
        ticks.map((_, i) => BigInt(i + 1)),
        `ticks of partition ${p}: state and outputs together`,
      );
      assert.equal(state.get(`tick-${p}`), BigInt(ticks.length));
    }

    const dlqCodec = codecFor<DeadLetter>('dead-letter');
    const letters: Array<{ value: DeadLetter; headers: Record<string, string>; key: string | null }> = [];
    await readPartitionsToEnd({
      kafka: k.kafka,
      admin: k.admin,
      topic: k.topic('dlq'),
      partitions: [0],
      onRecord(_p, m) {
        const headers: Record<string, string> = {};
        for (const [name, v] of Object.entries(m.headers ?? {})) headers[name] = String(v);
        letters.push({ value: dlqCodec.decode(m.value!), headers, key: m.key?.toString() ?? null });
      },
    });
    assert.deepEqual(
      letters.map((l) => l.value.errorCode),
      [
        ERRORS.SCHEMA_NOT_WIRE_FORMAT.code,
        ERRORS.SCHEMA_UNKNOWN_ID.code,
        ERRORS.SCHEMA_DECODE_FAILED.code,
        ERRORS.SCHEMA_DECODE_FAILED.code,
        ERRORS.PROCESSOR_HANDLER_FAILED.code,
      ],
    );
    const offsets = [1n, 3n, 4n, 5n, 6n];
    const bytes = [NOT_WIRE_FORMAT, UNKNOWN_SCHEMA, TRUNCATED, POISON, raw[6]!.value];
    letters.forEach((letter, i) => {
      assert.equal(letter.value.component, 'counter');
      assert.equal(letter.value.sourceTopic, input);
      assert.equal(letter.value.sourceOffset, offsets[i]);
      assert.deepEqual(letter.value.sourceValue, bytes[i]);
      assert.equal(letter.key, 'k1');
      assert.equal(letter.headers[DEAD_LETTER_HEADERS.errorCode], letter.value.errorCode);
      assert.equal(letter.headers[DEAD_LETTER_HEADERS.sourceTopic], input);
      assert.equal(letter.headers[DEAD_LETTER_HEADERS.sourcePartition], String(letter.value.sourcePartition));
      assert.equal(letter.headers[DEAD_LETTER_HEADERS.sourceOffset], String(offsets[i]));
    });
    assert.match(letters[3]!.value.errorMessage, /an array of 268435456 items with 0 bytes left/);
    assert.match(letters[4]!.value.errorMessage, /negative n -1/);

    // Pipeline health reached the metrics topic, cumulative, under this instance's stream.
    const metricCodec = codecFor<MetricSample>('metric-sample');
    const latest = new Map<string, MetricSample>();
    await readPartitionsToEnd({
      kafka: k.kafka,
      admin: k.admin,
      topic: k.topic('metrics'),
      partitions: [0, 1, 2],
      onRecord(_p, m) {
        const sample = metricCodec.decode(m.value!);
        latest.set(sample.seriesId, sample);
      },
    });
    const find = (name: string, labels: Record<string, string>) =>
      [...latest.values()].find(
        (s) => s.name === name && Object.entries(labels).every(([l, v]) => s.labels[l] === v),
      );
    assert.equal(find('meshpipe.processor.records.consumed', { topic: input })?.value, 8);
    assert.equal(
      find('meshpipe.processor.dead_letters', { code: ERRORS.PROCESSOR_HANDLER_FAILED.code })?.value,
      1,
    );
    const consumed = find('meshpipe.processor.records.consumed', { topic: input })!;
    assert.equal(consumed.stream, 'processor/counter/in-test');
    assert.equal(consumed.type, 'COUNTER');
    const duration = find('meshpipe.processor.handler.duration', { kind: 'process' })!;
    // Four records decoded and reached the handler (one of them threw).
    assert.ok(duration.histogram !== null && duration.histogram.count >= 4n);
  });
});
