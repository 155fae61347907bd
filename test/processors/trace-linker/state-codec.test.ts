/**
 * trace-linker's changelog values (state.avsc): every value the linker keeps on a recorded workload
 * round-trips exactly and is smaller than its JSON; and a changelog written by the release before it
 * (JSON values without a store name, a frozen sample made by that release under history/) restores:
 * the restored linker emits for the rest of the workload exactly what that release emitted, its first
 * transaction writes every entry as Avro under its store (`entries/<key>`) and deletes the old keys,
 * and a restart from the changelog as compaction leaves it holds the same state again.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { chainWorkload, PREFIX } from '../../../bench/processors/workload.ts';
import { ERRORS } from '../../../lib/errors.ts';
import { createLogger } from '../../../lib/logger.ts';
import { resolveProcessorSettings } from '../../../processors/runtime/config.ts';
import type { AnyProcessorDefinition, InputRecord } from '../../../processors/runtime/definition.ts';
import { STORE_HEADER } from '../../../processors/runtime/partition-stores.ts';
import { PartitionTask } from '../../../processors/runtime/partition-task.ts';
import { ProcessorTopics } from '../../../processors/runtime/processor-topics.ts';
import { jsonStateCodec } from '../../../processors/runtime/state-codec.ts';
import traceLinker from '../../../processors/trace-linker/index.ts';
import type { LinkerState } from '../../../processors/trace-linker/state.ts';
import type { linkerStores } from '../../../processors/trace-linker/state-codec.ts';
import type { SourceRecord } from '../../../runtime/input-record.ts';
import { codecFor, MAGIC_BYTE, toJsonSafe } from '../../../schemas/codec.ts';
import type { TraceLinkingEvent } from '../../../schemas/types.ts';

const definition = traceLinker as unknown as AnyProcessorDefinition;
const codec = traceLinker.stores!.entries.codec();
const json = jsonStateCodec<LinkerState>();
const linkingCodec = codecFor<TraceLinkingEvent>('trace-linking-event');
const topics = new ProcessorTopics(definition, PREFIX);

/** What the JSON release wrote (history/json-changelog-f106427.json). */
interface JsonReleaseSample {
  partition: number;
  /** The compacted changelog: key, JSON value. */
  changelog: Array<[string, string]>;
  /** The partition's calls after it, linking records encoded (base64). */
  continuation: Array<
    | { kind: 'punctuate'; nowMs: number }
    | {
        kind: 'process';
        nowMs: number;
        record: Omit<InputRecord<TraceLinkingEvent>, 'value'> & { value: string };
      }
  >;
  /** What that release emitted for them, after restoring from the changelog. */
  outputs: Array<{ topic: string; key: string | null; value: string }>;
}

const sample = JSON.parse(
  readFileSync(new URL('./history/json-changelog-f106427.json', import.meta.url), 'utf8'),
) as JsonReleaseSample;

/** An entry as a comparable tree: an absent optional field reads back as null. */
const comparable = (value: unknown): unknown =>
  JSON.parse(
    JSON.stringify(toJsonSafe(value), (k, v) => {
      if (k === 'causes' && v === null) return undefined;
      if (k === 'parts' && v === 0) return undefined;
      return v;
    }),
  );

type LinkerTask = PartitionTask<unknown, typeof linkerStores>;

function newTask(partition: number, clock: { now: number }): LinkerTask {
  const { config } = resolveProcessorSettings(definition, { processors: {} });
  return new PartitionTask<unknown, typeof linkerStores>({
    definition,
    config,
    partition,
    topics,
    now: () => clock.now,
    logger: createLogger({ component: 'test/trace-linker', level: 'silent' }),
  });
}

/** A changelog record as a restore reads it (`store`: written under that store). */
function changelogRecord(key: string, value: Buffer, store?: string): SourceRecord {
  return {
    topic: 'meshpipe.trace-linker.changelog.v1',
    partition: sample.partition,
    offset: '0',
    key: Buffer.from(key),
    value,
    timestampMs: 0,
    headers: store === undefined ? {} : { [STORE_HEADER]: store },
  };
}

describe('trace-linker state codec', () => {
  it('round-trips every value the linker keeps on a recorded workload, smaller than JSON', () => {
    const w = chainWorkload({ variant: 'cross-node', connections: 30, exchangesPerConnection: 6 });
    const kinds = new Set<string>();
    let values = 0;
    let avroBytes = 0;
    let jsonBytes = 0;
    for (const { partition, calls } of w.linker) {
      const clock = { now: calls[0]!.nowMs };
      const task = newTask(partition, clock);
      for (const [i, call] of calls.entries()) {
        clock.now = call.nowMs;
        if (call.kind === 'punctuate') task.punctuate({ rethrow: true });
        else task.processDecoded(call.record);
        // Every change is encoded when the unit is written: this throws if one does not fit the type.
        task.work();
        task.commit();
        if (i % 5 !== 0) continue;
        const entries = task.context.stores.entries;
        for (const key of entries.keys()) {
          const value = entries.get(key)!;
          const bytes = codec.encode(value);
          assert.equal(bytes[0], MAGIC_BYTE);
          assert.deepEqual(comparable(codec.decode(bytes)), comparable(value), key);
          kinds.add(value.t);
          avroBytes += bytes.length;
          jsonBytes += json.encode(value).length;
          values++;
        }
      }
    }
    assert.deepEqual([...kinds].sort(), ['arrivals', 'bucket', 'meta', 'process', 'remote', 'span', 'wheel']);
    assert.ok(values > 1_000, `${values} values`);
    assert.ok(avroBytes * 2 < jsonBytes, `${avroBytes} B Avro, ${jsonBytes} B JSON`);
  });

  it('rejects a value that is not an entry of the declared type, naming the field', () => {
    assert.throws(() => codec.encode(undefined as never), /undefined/);
    assert.throws(() => codec.encode({ t: 'other' } as never), /not a trace-linker state entry/);
    assert.throws(
      () =>
        codec.encode({
          t: 'remote',
          spanId: 'a',
          node: 'n',
          traceId: null,
          children: [],
          askedMs: 'soon',
        } as never),
      (err: Error & { code?: string }) =>
        err.code === ERRORS.SCHEMA_ENCODE_FAILED.code && /askedMs/.test(err.message),
    );
  });

  it('restores a changelog written as JSON by the release before, and carries on exactly as it did', () => {
    // The sample holds every kind of entry, spans in every waiting state, and CLIENT spans waiting for
    // counted causes.
    const decoded = sample.changelog.map(([key, value]) => [key, json.decode(Buffer.from(value))] as const);
    const entryKinds = new Set(decoded.map(([, v]) => v.t));
    assert.deepEqual([...entryKinds].sort(), [
      'arrivals',
      'bucket',
      'meta',
      'process',
      'remote',
      'span',
      'wheel',
    ]);
    const statuses = new Set(decoded.flatMap(([, v]) => (v.t === 'span' ? [v.status] : [])));
    assert.ok(statuses.has('causality') && statuses.has('parent') && statuses.has('resolved'));
    assert.ok(decoded.some(([, v]) => v.t === 'span' && v.causes != null));

    const clock = { now: sample.continuation[0]!.nowMs };
    const restored = newTask(sample.partition, clock);
    for (const [key, value] of sample.changelog)
      restored.state.restore(changelogRecord(key, Buffer.from(value)));
    // Restored keys read as the current types (a bucket's rows as records).
    const entries = (task: LinkerTask) => task.context.stores.entries;
    for (const key of entries(restored).keys()) {
      const v = entries(restored).get(key)!;
      if (v.t === 'bucket') for (const row of v.servers) assert.equal(typeof row.spanId, 'string', key);
    }

    const outputs: JsonReleaseSample['outputs'] = [];
    const changelog = new Map<string, Buffer | null>(sample.changelog.map(([k, v]) => [k, Buffer.from(v)]));
    let avroWritten = 0;
    let firstCommit = true;
    const run = (task: LinkerTask, calls: JsonReleaseSample['continuation']) => {
      const commit = () => {
        const work = task.work();
        for (const r of work.records)
          outputs.push({ topic: r.topic, key: r.key?.toString() ?? null, value: r.value.toString('base64') });
        if (firstCommit) {
          // The migration: every old key deleted, its entry written under the store.
          for (const [key] of sample.changelog) {
            assert.deepEqual(work.changes.get(key), { store: null, value: null }, key);
            assert.equal(work.changes.get(`entries/${key}`)?.store, 'entries', key);
          }
          firstCommit = false;
        }
        for (const [key, { value: change }] of work.changes) {
          if (change !== null) {
            assert.equal(change[0], MAGIC_BYTE, `${key} is written as Avro`);
            avroWritten++;
          }
          changelog.set(key, change);
        }
        task.commit();
      };
      let n = 0;
      for (const call of calls) {
        clock.now = call.nowMs;
        if (call.kind === 'punctuate') task.punctuate({ rethrow: true });
        else
          task.processDecoded({
            ...call.record,
            value: linkingCodec.decode(Buffer.from(call.record.value, 'base64')),
          });
        if (++n % 200 === 0) commit();
      }
      commit();
    };
    // The records of the sample, then a restart while the wheel still holds entries of both releases.
    const split = sample.continuation.findLastIndex((c) => c.kind === 'process') + 1;
    run(restored, sample.continuation.slice(0, split));

    // A restart from the changelog as compaction leaves it: only Avro values under the store, the same
    // state.
    const compacted = [...changelog].filter((e): e is [string, Buffer] => e[1] !== null);
    assert.ok(avroWritten > 0);
    assert.ok(compacted.every(([key, v]) => key.startsWith('entries/') && v[0] === MAGIC_BYTE));
    const again = newTask(sample.partition, clock);
    for (const [key, value] of compacted) again.state.restore(changelogRecord(key, value, 'entries'));
    assert.deepEqual([...entries(again).keys()].sort(), [...entries(restored).keys()].sort());
    for (const key of entries(restored).keys())
      assert.deepEqual(comparable(entries(again).get(key)), comparable(entries(restored).get(key)), key);
    assert.equal(again.hasWrites(), false, 'nothing left to migrate');
    run(again, sample.continuation.slice(split));

    // The same records, in the same order, as the JSON release emitted.
    const decode = (o: JsonReleaseSample['outputs'][number]) => ({
      topic: o.topic,
      key: o.key,
      value: toJsonSafe(
        topics.outputs.find((t) => t.name === o.topic)!.codec.decode(Buffer.from(o.value, 'base64')),
      ),
    });
    assert.equal(outputs.length, sample.outputs.length);
    assert.deepEqual(outputs.map(decode), sample.outputs.map(decode));
  });
});
