/**
 * A partition's named stores on one changelog: each store its own key space, records keyed by store
 * (no header: the release that introduced stores also named the store in a header, which still
 * restores), a changelog of the layout before stores migrated key by key (and its old keys deleted),
 * and records that cannot be placed handed back with the reason instead of stopping the restore.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERRORS, type MeshpipeError } from '../../../lib/errors.ts';
import { changelogMessages } from '../../../processors/runtime/changelog.ts';
import type { AnyProcessorDefinition } from '../../../processors/runtime/definition.ts';
import { PartitionStores, STORE_HEADER } from '../../../processors/runtime/partition-stores.ts';
import { jsonStateCodec } from '../../../processors/runtime/state-codec.ts';
import { jsonStore } from '../../../processors/runtime/store-types.ts';
import type { SourceRecord } from '../../../runtime/input-record.ts';

const json = jsonStateCodec<unknown>();
let offset = 0;

/** A changelog record; `store`: named in a header too, as the release that introduced stores wrote it. */
function record(key: string, value: unknown, store?: string): SourceRecord {
  return {
    topic: 'meshpipe.test.changelog.v1',
    partition: 0,
    offset: String(offset++),
    key: Buffer.from(key),
    value: value === null ? null : json.encode(value),
    timestampMs: 0,
    headers: store === undefined ? {} : { [STORE_HEADER]: store },
  };
}

function stores(access: 'copy' | 'live', legacy = true) {
  const unreadable: MeshpipeError[] = [];
  const definition = {
    name: 'stores-test',
    stores: { counts: jsonStore<number>(), names: jsonStore<string>() },
    ...(legacy
      ? {
          legacyState: (key: string, value: Buffer) => {
            if (key.startsWith('n|')) return { store: 'names', key: key.slice(2), value: json.decode(value) };
            if (key.startsWith('c|'))
              return { store: 'counts', key: key.slice(2), value: json.decode(value) };
            if (key.startsWith('old/'))
              return { store: 'counts', key: key.slice(4), value: json.decode(value) };
            if (key === 'gone') return undefined;
            throw new Error(`unknown key ${key}`);
          },
        }
      : {}),
  } as unknown as AnyProcessorDefinition;
  const partition = new PartitionStores({
    definition,
    access,
    check: () => {},
    unreadable: (_, error) => unreadable.push(error),
  });
  return { partition, unreadable };
}

const changes = (p: PartitionStores) =>
  Object.fromEntries(
    [...p.pendingChanges()].map(([key, c]) => [
      key,
      [c.store, c.value === null ? null : json.decode(c.value)],
    ]),
  );

for (const access of ['copy', 'live'] as const) {
  describe(`partition stores (${access})`, () => {
    it('keeps each store its own key space, and names the store in every changelog key', () => {
      const { partition } = stores(access);
      partition.view.counts!.set('a', 1);
      partition.view.names!.set('a', 'alpha');
      partition.endCall(true);
      assert.deepEqual(changes(partition), { 'counts/a': ['counts', 1], 'names/a': ['names', 'alpha'] });
      const written = changelogMessages(partition.pendingChanges(), 3);
      assert.deepEqual(
        written.map((m) => [m.key, m.partition, m.headers]),
        [
          ['counts/a', 3, undefined],
          ['names/a', 3, undefined],
        ],
      );
      partition.commit();
      const again = stores(access).partition;
      again.restore(record('counts/a', 1));
      again.restore(record('names/a', 'alpha'));
      assert.equal(again.view.counts!.get('a'), 1);
      assert.equal(again.view.names!.get('a'), 'alpha');
      assert.equal(again.hasChanges(), false);
    });

    it('restores the records of the release that introduced stores, which named the store in a header too', () => {
      const { partition, unreadable } = stores(access);
      partition.restore(record('counts/a', 1, 'counts'));
      partition.restore(record('names/a', 'alpha', 'names'));
      partition.restore(record('counts/b', 2));
      partition.restore(record('counts/a', null, 'counts'));
      assert.deepEqual(unreadable, []);
      assert.equal(partition.view.counts!.has('a'), false);
      assert.equal(partition.view.counts!.get('b'), 2);
      assert.equal(partition.view.names!.get('a'), 'alpha');
      assert.equal(partition.hasChanges(), false);
    });

    it('a key with a slash whose prefix names no store is of the layout before stores', () => {
      const { partition, unreadable } = stores(access);
      partition.restore(record('old/z', 3));
      assert.deepEqual(unreadable, []);
      assert.equal(partition.view.counts!.get('z'), 3);
      assert.deepEqual(changes(partition), { 'old/z': [null, null], 'counts/z': ['counts', 3] });
    });

    it('migrates a changelog of the layout before stores, and deletes its old keys', () => {
      const { partition, unreadable } = stores(access);
      partition.restore(record('c|a', 1));
      partition.restore(record('n|a', 'alpha'));
      partition.restore(record('c|b', 2));
      partition.restore(record('c|b', null)); // deleted before the upgrade
      partition.restore(record('gone', 'dropped by legacyState'));
      assert.deepEqual(unreadable, []);
      assert.equal(partition.view.counts!.get('a'), 1);
      assert.equal(partition.view.counts!.has('b'), false);
      assert.ok(partition.hasChanges());
      const expected = {
        'c|a': [null, null],
        'n|a': [null, null],
        gone: [null, null],
        'counts/a': ['counts', 1],
        'names/a': ['names', 'alpha'],
      };
      assert.deepEqual(changes(partition), expected);
      partition.abort(); // the transaction failed: the next one writes the migration again
      assert.deepEqual(changes(partition), expected);
      partition.commit();
      assert.equal(partition.hasChanges(), false);

      // A restart from the changelog as it stands after the migration (old keys, then their tombstones
      // and the new keys): the same state, nothing more to migrate.
      const restarted = stores(access).partition;
      for (const r of [
        record('c|a', 1),
        record('n|a', 'alpha'),
        record('c|a', null),
        record('counts/a', 1),
        record('n|a', null),
        record('names/a', 'alpha'),
      ])
        restarted.restore(r);
      assert.equal(restarted.view.counts!.get('a'), 1);
      assert.equal(restarted.view.names!.get('a'), 'alpha');
      assert.equal(restarted.hasChanges(), false);
    });

    it('a record written under its store after a migration is not undone by the old key being deleted', () => {
      const { partition } = stores(access);
      for (const r of [record('c|a', 1), record('counts/a', 5), record('c|a', null)]) partition.restore(r);
      assert.equal(partition.view.counts!.get('a'), 5);
      assert.equal(partition.hasChanges(), false);
    });

    it('hands back records it cannot place, with the reason, and deletes them from the changelog', () => {
      const { partition, unreadable } = stores(access);
      // A store named by a header (the release that introduced stores) that is no longer declared.
      partition.restore(record('other/x', 1, 'other'));
      partition.restore(record('x|y', 1));
      const noLegacy = stores(access, false);
      noLegacy.partition.restore(record('c|a', 1));
      for (const error of [...unreadable, ...noLegacy.unreadable])
        assert.equal(error.code, ERRORS.PROCESSOR_STATE_UNREADABLE.code);
      assert.match(unreadable[0]!.message, /store "other" the processor does not declare \(counts, names\)/);
      assert.match(unreadable[1]!.message, /unknown key x\|y/);
      assert.match(noLegacy.unreadable[0]!.message, /no legacyState/);
      assert.deepEqual(changes(partition), { 'other/x': [null, null], 'x|y': [null, null] });
    });
  });
}
