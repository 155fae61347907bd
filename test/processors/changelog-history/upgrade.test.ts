/**
 * A changelog written by the release before typed stores (7e13c05: one key space per processor, keys
 * told apart by prefixes; Avro values for span-assembler and trace-linker, JSON for the others), frozen
 * by make-sample.ts under test/processors/<processor>/history/, restores in every processor: the
 * restored partition emits for the rest of the workload exactly what that release emitted (that
 * release's anomaly-detector was also today's anomaly-deltas: its series cursors are dropped, and the
 * deltas it read back are the input, the anomalies the output compared), its first
 * transaction writes every entry under its store and deletes the old keys, and a restart from the
 * changelog as compaction then leaves it holds the same state.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createLogger } from '../../../lib/logger.ts';
import { changelogMessages } from '../../../processors/runtime/changelog.ts';
import { resolveProcessorSettings } from '../../../processors/runtime/config.ts';
import type { AnyProcessorDefinition } from '../../../processors/runtime/definition.ts';
import { STORE_HEADER } from '../../../processors/runtime/partition-stores.ts';
import { PartitionTask } from '../../../processors/runtime/partition-task.ts';
import { ProcessorTopics } from '../../../processors/runtime/processor-topics.ts';
import type { SourceRecord } from '../../../runtime/input-record.ts';
import { toJsonSafe } from '../../../schemas/codec.ts';
import type { ChangelogSample } from './make-sample.ts';

const PREFIX = 'meshpipe';
const PROCESSORS = ['span-assembler', 'trace-linker', 'red-metrics', 'anomaly-detector'];

function changelogRecord(
  sample: ChangelogSample,
  key: string,
  value: Buffer,
  headers: Record<string, string>,
): SourceRecord {
  return {
    topic: `${PREFIX}.${sample.processor}.changelog.v1`,
    partition: sample.partition,
    offset: '0',
    key: Buffer.from(key),
    value,
    timestampMs: 0,
    headers,
  };
}

/**
 * Every store's entries, as comparable trees. An optional field a value left out reads back from Avro as
 * null (trace-linker's slot lists: `parts` as 0), which the processors treat alike: they compare equal.
 */
function contents(task: PartitionTask): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, store] of Object.entries(task.context.stores)) {
    const entries = Object.fromEntries([...store.keys()].sort().map((k) => [k, toJsonSafe(store.get(k))]));
    out[name] = JSON.parse(
      JSON.stringify(entries, (k, v) => (v === null || (k === 'parts' && v === 0) ? undefined : v)),
    );
  }
  return out;
}

for (const processor of PROCESSORS) {
  describe(`${processor}: a changelog of the release before stores`, () => {
    it('restores, migrates to its stores, and carries on exactly as that release did', async () => {
      const sample = JSON.parse(
        readFileSync(new URL(`../${processor}/history/changelog-7e13c05.json`, import.meta.url), 'utf8'),
      ) as ChangelogSample;
      const definition = (await import(`../../../processors/${processor}/index.ts`))
        .default as AnyProcessorDefinition;
      const topics = new ProcessorTopics(definition, PREFIX);
      const clock = { now: sample.continuation[0]!.nowMs };
      const newTask = () =>
        new PartitionTask({
          definition,
          config: resolveProcessorSettings(definition, { processors: { [processor]: sample.config } }).config,
          partition: sample.partition,
          topics,
          now: () => clock.now,
          logger: createLogger({ component: `test/${processor}`, level: 'silent' }),
        });
      const task = newTask();
      for (const { key, value, headers } of sample.changelog) {
        assert.equal(headers[STORE_HEADER], undefined, 'the release before wrote no store names');
        task.state.restore(changelogRecord(sample, key, Buffer.from(value, 'base64'), headers));
      }

      const changelog = new Map<string, { value: Buffer; headers: Record<string, string> } | null>();
      const outputs: ChangelogSample['outputs'] = [];
      let first = true;
      const commit = () => {
        const work = task.work();
        assert.deepEqual(work.deadLetters, [], 'nothing dead-lettered');
        if (first) {
          for (const { key } of sample.changelog)
            assert.deepEqual(work.changes.get(key), { store: null, value: null }, `${key} deleted`);
          first = false;
        }
        for (const r of work.records)
          outputs.push({ topic: r.topic, key: r.key?.toString() ?? null, value: r.value.toString('base64') });
        // As the host writes them (changelog.ts): keyed by store, no headers.
        for (const m of changelogMessages(work.changes, sample.partition)) {
          assert.equal(m.headers, undefined);
          changelog.set(m.key as string, m.value === null ? null : { value: m.value, headers: {} });
        }
        task.commit();
      };
      for (const [i, call] of sample.continuation.entries()) {
        clock.now = call.nowMs;
        if (call.kind === 'punctuate') task.punctuate({ rethrow: true });
        else {
          // The release's anomaly-detector also read the metrics (anomaly-deltas' input now).
          const input = topics.input(call.record.topic);
          if (input === undefined) continue;
          task.processDecoded({
            ...call.record,
            input: input.ref,
            value: input.codec.decode(Buffer.from(call.record.value, 'base64')),
          });
        }
        if (i % 50 === 49) commit();
      }
      commit();

      // The same records, in the same order, as that release emitted. red-metrics' only by key (the
      // records of each key in the same order, what a consumer of a keyed topic can rely on): it keeps
      // route series and edges in two stores now, so a punctuation emits every route series, then every
      // edge, where that release went through one store of both.
      const decode = (o: ChangelogSample['outputs'][number]) => ({
        topic: o.topic,
        key: o.key,
        value: toJsonSafe(
          topics.outputs.find((t) => t.name === o.topic)!.codec.decode(Buffer.from(o.value, 'base64')),
        ),
      });
      // (Of the topics it still writes: the release's anomaly-detector also wrote the deltas.)
      const expected = sample.outputs.filter((o) => topics.outputs.some((t) => t.name === o.topic));
      assert.ok(expected.length > 0);
      assert.equal(outputs.length, expected.length);
      const byKey = (records: ChangelogSample['outputs']) => {
        const keys = new Map<string, unknown[]>();
        for (const o of records) {
          const key = `${o.topic} ${o.key}`;
          const list = keys.get(key) ?? [];
          list.push(decode(o));
          keys.set(key, list);
        }
        return Object.fromEntries([...keys].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      };
      if (processor === 'red-metrics') assert.deepEqual(byKey(outputs), byKey(expected));
      else assert.deepEqual(outputs.map(decode), expected.map(decode));

      // A restart from what compaction leaves of the changelog: only records under stores, same state.
      const compacted = [...changelog].filter(
        (e): e is [string, { value: Buffer; headers: Record<string, string> }] => e[1] !== null,
      );
      const stores = Object.keys(definition.stores ?? {});
      assert.ok(compacted.every(([key]) => stores.includes(key.slice(0, key.indexOf('/')))));
      const again = newTask();
      for (const [key, { value, headers }] of compacted)
        again.state.restore(changelogRecord(sample, key, value, headers));
      assert.deepEqual(contents(again), contents(task));
      assert.equal(again.hasWrites(), false, 'nothing left to migrate');
    });
  });
}
