/**
 * The state stores of one input partition (definition.ts `stores`), and how they share the processor's
 * one changelog topic: each change is a record keyed `<store>/<key>`, so every store is its own key
 * space under compaction, and a restore finds a record's store from the key: the name before its first
 * `/` (store names have none) when the processor declares a store of that name.
 *
 * No header carries the store name. The release that introduced stores wrote one per record,
 * `meshpipe-store: <store>` — and a header per record cost the transactional producer about half as
 * much CPU again per changelog record, which made trace-linker (several changelog records per span)
 * 1.4x slower on bench/pipeline (docs/benchmarks.md). Records of that release still restore: the header, when present,
 * names the store.
 *
 * A record whose key names no declared store was written by a release from before the processor
 * declared its stores (one key space, prefixes in the keys: `c:…`, `s:…`, `m`). Restoring hands it to
 * the definition's `legacyState`, which says what it is now (store, key, value); the value is re-encoded
 * with the store's type, and the next transaction writes it under its store and deletes the old key — so
 * a changelog written by the releases before restores, and is rewritten as the current layout key by
 * key. (A processor whose keys of before stores began with the name of one of its stores and a `/`
 * would have them read as that store's: none of the built-in processors' did.)
 *
 * A record that cannot be placed (an unknown store, a legacy record `legacyState` cannot read) is handed
 * to `unreadable` — the partition task dead-letters it with the reason — and its key is deleted from the
 * changelog, so the next restore does not meet it again. A value of a known store that does not decode
 * is found when a handler first reads it, and dead-letters the record of that call, as before.
 */
import { ERRORS, errorMessage, MeshpipeError } from '../../lib/errors.ts';
import type { SourceRecord } from '../../runtime/input-record.ts';
import type { AnyProcessorDefinition, PartitionState } from './definition.ts';
import {
  type ChangeCheck,
  type StateAccess,
  type StateChange,
  type StateStats,
  StateStore,
} from './state-store.ts';

/** The header that named the store of a changelog record in the release that introduced stores. */
export const STORE_HEADER = 'meshpipe-store';

/** The changelog key of `key` in `store`. */
export function changelogKey(store: string, key: string): string {
  return `${store}/${key}`;
}

/** A changelog record to write: the new value of a key of a store (null: deleted). */
export interface ChangelogChange {
  /** null: a key of the layout before stores, being deleted. */
  store: string | null;
  value: StateChange;
}

/** The changes of a transaction, by changelog key. */
export type ChangelogChanges = ReadonlyMap<string, ChangelogChange>;

const STORE_NAME = /^[a-z][a-zA-Z0-9]*(-[a-z0-9]+)*$/;

/** The store names of a definition, validated. */
export function storeNamesOf(definition: AnyProcessorDefinition): string[] {
  const stores = definition.stores ?? {};
  if (stores === null || typeof stores !== 'object' || Array.isArray(stores)) {
    throw new MeshpipeError(ERRORS.PROCESSOR_INVALID_DEFINITION, [
      definition.name,
      'stores must be an object of store name → store type (avroStore, jsonStore)',
    ]);
  }
  for (const [name, type] of Object.entries(stores)) {
    if (!STORE_NAME.test(name)) {
      throw new MeshpipeError(ERRORS.PROCESSOR_INVALID_DEFINITION, [
        definition.name,
        `store name ${JSON.stringify(name)} must be camelCase or kebab-case (letters and digits)`,
      ]);
    }
    if (typeof (type as { codec?: unknown } | null)?.codec !== 'function') {
      throw new MeshpipeError(ERRORS.PROCESSOR_INVALID_DEFINITION, [
        definition.name,
        `stores.${name} must be a store type: avroStore<T>(schema) or jsonStore<T>() (processors/runtime/store-types.ts)`,
      ]);
    }
  }
  return Object.keys(stores);
}

export class PartitionStores {
  /** What handlers get as `ctx.stores`. */
  readonly view: Readonly<Record<string, PartitionState<unknown>>>;
  readonly #stores = new Map<string, StateStore<unknown>>();
  /** The same stores as a list: endCall runs once per handler call, without an iterator. */
  readonly #list: StateStore<unknown>[] = [];
  readonly #definition: AnyProcessorDefinition;
  readonly #unreadable: (source: SourceRecord, error: MeshpipeError) => void;
  /** Legacy keys restored into a store, not yet written under it: legacy key → changelog key. */
  readonly #migrated = new Map<string, { store: string; key: string }>();
  readonly #migratedFrom = new Map<string, string>();
  /** Changelog keys to delete: legacy keys migrated, records that could not be placed. */
  readonly #drop = new Set<string>();

  constructor(options: {
    definition: AnyProcessorDefinition;
    access: StateAccess;
    check: ChangeCheck;
    unreadable: (source: SourceRecord, error: MeshpipeError) => void;
  }) {
    this.#definition = options.definition;
    this.#unreadable = options.unreadable;
    const view: Record<string, PartitionState<unknown>> = {};
    for (const name of storeNamesOf(options.definition)) {
      const type = options.definition.stores![name]!;
      const store = new StateStore<unknown>(type.codec(), options.access, (key, value) =>
        options.check(changelogKey(name, key), value),
      );
      this.#stores.set(name, store);
      this.#list.push(store);
      view[name] = store;
    }
    this.view = Object.freeze(view);
  }

  store(name: string): StateStore<unknown> | undefined {
    return this.#stores.get(name);
  }

  /** Applies one changelog record while restoring; see the file comment. */
  restore(source: SourceRecord): void {
    const key = source.key!.toString('utf8');
    try {
      this.#restore(key, source);
    } catch (err) {
      this.#drop.add(key);
      this.#unreadable(
        source,
        new MeshpipeError(
          ERRORS.PROCESSOR_STATE_UNREADABLE,
          [this.#definition.name, key, errorMessage(err)],
          {
            cause: err,
          },
        ),
      );
    }
  }

  /** The declared store a changelog key is under, if any (see the file comment). */
  #storeOf(key: string): string | undefined {
    const slash = key.indexOf('/');
    if (slash <= 0) return undefined;
    const name = key.slice(0, slash);
    return this.#stores.has(name) ? name : undefined;
  }

  #restore(key: string, source: SourceRecord): void {
    const name = source.headers[STORE_HEADER] ?? this.#storeOf(key);
    if (name !== undefined) {
      const store = this.#stores.get(name);
      if (store === undefined)
        throw new Error(`it belongs to a store "${name}" the processor does not declare (${this.#names()})`);
      if (!key.startsWith(`${name}/`))
        throw new Error(`its key does not begin with its store's name "${name}/"`);
      // Written after a migration: whatever a legacy key migrated here said is superseded.
      const legacy = this.#migratedFrom.get(key);
      if (legacy !== undefined) {
        this.#migrated.delete(legacy);
        this.#migratedFrom.delete(key);
      }
      store.restore(key.slice(name.length + 1), source.value);
      return;
    }
    if (source.value === null) {
      // A legacy key deleted: what it held is gone (unless written under its store since, above).
      const migrated = this.#migrated.get(key);
      if (migrated !== undefined) {
        this.#stores.get(migrated.store)!.restore(migrated.key, null);
        this.#migrated.delete(key);
        this.#migratedFrom.delete(changelogKey(migrated.store, migrated.key));
      }
      this.#drop.delete(key);
      return;
    }
    const legacyState = this.#definition.legacyState;
    if (legacyState === undefined)
      throw new Error(
        'it has no store name (an older layout) and the processor defines no legacyState to read it',
      );
    const entry = legacyState(key, source.value) as
      | { store: string; key: string; value: unknown }
      | undefined;
    if (entry === undefined) {
      this.#drop.add(key);
      return;
    }
    const store = this.#stores.get(entry.store);
    if (store === undefined)
      throw new Error(
        `legacyState put it in a store "${entry.store}" the processor does not declare (${this.#names()})`,
      );
    store.restoreValue(entry.key, entry.value);
    const target = changelogKey(entry.store, entry.key);
    this.#migrated.set(key, { store: entry.store, key: entry.key });
    this.#migratedFrom.set(target, key);
  }

  #names(): string {
    return [...this.#stores.keys()].join(', ') || 'none';
  }

  setStrict(strict: boolean): void {
    for (let i = 0; i < this.#list.length; i++) this.#list[i]!.setStrict(strict);
  }

  endCall(keep: boolean): void {
    for (let i = 0; i < this.#list.length; i++) this.#list[i]!.endCall(keep);
  }

  hasChanges(): boolean {
    if (this.#migrated.size > 0 || this.#drop.size > 0) return true;
    for (let i = 0; i < this.#list.length; i++) if (this.#list[i]!.hasChanges()) return true;
    return false;
  }

  /**
   * The changelog records of the transaction being built (live access: changed values are encoded
   * here, and it throws if one cannot be). Migrated legacy keys are written under their store here.
   */
  pendingChanges(): ChangelogChanges {
    for (const { store, key } of this.#migrated.values()) this.#stores.get(store)!.rewrite(key);
    const changes = new Map<string, ChangelogChange>();
    for (const key of this.#drop) changes.set(key, { store: null, value: null });
    for (const key of this.#migrated.keys()) changes.set(key, { store: null, value: null });
    for (const [name, store] of this.#stores) {
      for (const [key, value] of store.pendingChanges())
        changes.set(changelogKey(name, key), { store: name, value });
    }
    return changes;
  }

  commit(): void {
    for (const store of this.#stores.values()) store.commit();
    this.#migrated.clear();
    this.#migratedFrom.clear();
    this.#drop.clear();
  }

  /** Back to the last commit; migrations and deletions not written yet are written by the next one. */
  abort(): void {
    for (const store of this.#stores.values()) store.abort();
  }

  stats(): StateStats {
    let keys = 0;
    let bytes = 0;
    for (const [name, store] of this.#stores) {
      const s = store.stats();
      keys += s.keys;
      // As the changelog holds them: the store's name is in every key.
      bytes += s.bytes + s.keys * (Buffer.byteLength(name) + 1);
    }
    return { keys, bytes };
  }
}
