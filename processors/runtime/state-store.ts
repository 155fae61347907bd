/**
 * One state store of one input partition (partition-stores.ts holds a partition's stores). What the committed changelog holds is kept encoded, as the
 * changelog holds it (`committed`: also what a restore rebuilds). How handlers reach it depends on the
 * definition's `stateAccess` (definition.ts):
 *
 * `copy` (the default), in three layers:
 *
 *   call       changes made by the handler call in progress      → kept (merged into `batch`) when the
 *                                                                   call returns, dropped when it throws
 *   batch      changes of the transaction being built            → written to the changelog; applied to
 *                                                                   `committed` when the transaction
 *                                                                   commits, dropped when it aborts
 *   committed  what the committed changelog holds
 *
 * Values are held encoded: `get` decodes a copy, `set` encodes at once. So a handler cannot change
 * state behind the store's back by mutating an object it read, every change is a changelog record,
 * and discarding a layer is dropping a Map. The cost is a decode per `get` and an encode per `set`,
 * the trade Kafka Streams makes with its serialized stores.
 *
 * `live`: values are held decoded, and a handler gets the object the store holds. A key's value is
 * decoded from `committed` the first time it is read, then kept; `set` (after changing the object in
 * place, or with a new one) marks the key changed, and changed keys are encoded once, when the
 * transaction is written (`pendingChanges`), however many calls changed them. That is what lets a
 * handler touching the same keys record after record — the span assembler, one connection's entry per
 * raw event — avoid a decode and an encode per record. What copy mode gets for free, undoing a call
 * that threw, the store cannot do alone for in-place changes: the partition task rolls the whole unit
 * of work back (`abort`: the cache is dropped, committed bytes are the truth) and runs its calls again
 * in *strict* mode, where the store keeps each key's encoded value from before the call (an undo log)
 * and encodes at `set`, so a failing call is undone exactly as in copy mode (partition-task.ts).
 */
import type { PartitionState, StateCodec } from './definition.ts';

/** A pending change: the encoded new value, or null for a delete (a tombstone on the changelog). */
export type StateChange = Buffer | null;

export interface StateStats {
  keys: number;
  /** Key and value bytes of the committed state (what the changelog holds after compaction). */
  bytes: number;
}

export type StateAccess = 'copy' | 'live';

/** Live mode, strict: a key's value and changed mark from before the call, to undo the call. */
interface Undo {
  bytes: Buffer | null;
  changed: boolean;
}

/**
 * Checks an encoded value before it becomes a change: throws (in the handler call that made it) if the
 * changelog could never hold it (message-size.ts).
 */
export type ChangeCheck = (key: string, value: Buffer) => void;

export class StateStore<S> implements PartitionState<S> {
  readonly access: StateAccess;
  readonly #codec: StateCodec<S>;
  readonly #check: ChangeCheck | undefined;
  readonly #committed = new Map<string, Buffer>();
  #committedBytes = 0;
  // copy mode
  readonly #batch = new Map<string, StateChange>();
  readonly #call = new Map<string, StateChange>();
  // live mode: decoded values (read ones and changed ones; a changed key missing here is deleted),
  // the keys changed since the last commit, their encoding once asked for, the strict-mode undo log.
  readonly #values = new Map<string, S>();
  readonly #changed = new Set<string>();
  #encoded: Map<string, StateChange> | null = null;
  #strict = false;
  readonly #undo = new Map<string, Undo>();

  constructor(codec: StateCodec<S>, access: StateAccess = 'copy', check?: ChangeCheck) {
    this.#codec = codec;
    this.access = access;
    this.#check = check;
  }

  #encode(key: string, value: S): Buffer {
    const bytes = this.#codec.encode(value);
    this.#check?.(key, bytes);
    return bytes;
  }

  #lookup(key: string): Buffer | undefined {
    const inCall = this.#call.get(key);
    if (inCall !== undefined) return inCall ?? undefined;
    const inBatch = this.#batch.get(key);
    if (inBatch !== undefined) return inBatch ?? undefined;
    return this.#committed.get(key);
  }

  get(key: string): S | undefined {
    if (this.access === 'copy') {
      const bytes = this.#lookup(key);
      return bytes === undefined ? undefined : this.#codec.decode(bytes);
    }
    if (this.#strict) this.#remember(key);
    const value = this.#values.get(key);
    if (value !== undefined) return value;
    if (this.#changed.has(key)) return undefined; // deleted
    const bytes = this.#committed.get(key);
    if (bytes === undefined) return undefined;
    const decoded = this.#codec.decode(bytes);
    this.#values.set(key, decoded);
    return decoded;
  }

  set(key: string, value: S): void {
    if (this.access === 'copy') {
      this.#call.set(key, this.#encode(key, value));
      return;
    }
    // JSON has no undefined (and a live value of undefined would read as a missing key).
    if (value === undefined) throw new TypeError('state value is undefined: use state.delete(key)');
    if (this.#strict) {
      this.#remember(key);
      this.#encode(key, value); // throws here, in the call, if the value cannot be encoded or is too large
    }
    this.#values.set(key, value);
    this.#changed.add(key);
    this.#encoded = null;
  }

  delete(key: string): void {
    if (this.access === 'copy') {
      this.#call.set(key, null);
      return;
    }
    if (this.#strict) this.#remember(key);
    this.#values.delete(key);
    this.#changed.add(key);
    this.#encoded = null;
  }

  has(key: string): boolean {
    if (this.access === 'copy') return this.#lookup(key) !== undefined;
    if (this.#values.has(key)) return true;
    return !this.#changed.has(key) && this.#committed.has(key);
  }

  keys(): IterableIterator<string> {
    const keys = new Set(this.#committed.keys());
    if (this.access === 'copy') {
      for (const layer of [this.#batch, this.#call]) {
        for (const [key, change] of layer) {
          if (change === null) keys.delete(key);
          else keys.add(key);
        }
      }
    } else {
      for (const key of this.#changed) {
        if (this.#values.has(key)) keys.add(key);
        else keys.delete(key);
      }
    }
    return [...keys].values();
  }

  get size(): number {
    let size = this.#committed.size;
    const touched =
      this.access === 'copy' ? new Set([...this.#batch.keys(), ...this.#call.keys()]) : this.#changed;
    for (const key of touched) {
      const before = this.#committed.has(key);
      const after = this.access === 'copy' ? this.#lookup(key) !== undefined : this.#values.has(key);
      if (before && !after) size--;
      else if (!before && after) size++;
    }
    return size;
  }

  /**
   * Live mode: strict calls (the partition task's rebuild of a unit of work after a failure) keep an
   * undo log per call and encode at `set`; see the file comment.
   */
  setStrict(strict: boolean): void {
    this.#strict = strict && this.access === 'live';
    this.#undo.clear();
  }

  /**
   * Ends a handler call: its changes join the transaction, or are forgotten if it failed. In live
   * mode only a strict call can be forgotten here; a failed fast call is the partition task's to undo
   * (it aborts and rebuilds the unit of work).
   */
  endCall(keep: boolean): void {
    if (this.access === 'copy') {
      if (keep) for (const [key, change] of this.#call) this.#batch.set(key, change);
      this.#call.clear();
      return;
    }
    if (!keep && this.#strict) {
      for (const [key, undo] of this.#undo) {
        if (undo.bytes === null) this.#values.delete(key);
        else this.#values.set(key, this.#codec.decode(undo.bytes));
        if (undo.changed) this.#changed.add(key);
        else this.#changed.delete(key);
      }
      this.#encoded = null;
    }
    this.#undo.clear();
  }

  /** Live mode, strict: the key as it was before the call, the first time the call touches it. */
  #remember(key: string): void {
    if (this.#undo.has(key)) return;
    const changed = this.#changed.has(key);
    let bytes: Buffer | null;
    if (!changed) bytes = this.#committed.get(key) ?? null;
    else {
      const value = this.#values.get(key);
      bytes = value === undefined ? null : this.#codec.encode(value);
    }
    this.#undo.set(key, { bytes, changed });
  }

  /** Whether the transaction being built changed any key. */
  hasChanges(): boolean {
    return this.access === 'copy' ? this.#batch.size > 0 : this.#changed.size > 0;
  }

  /**
   * The changes of the transaction being built, one per key (the changelog records to write). In live
   * mode this is where changed values are encoded (once per transaction, remembered until the next
   * change); it throws if one cannot be, or is too large for the changelog.
   */
  pendingChanges(): ReadonlyMap<string, StateChange> {
    if (this.access === 'copy') return this.#batch;
    if (this.#encoded === null) {
      const encoded = new Map<string, StateChange>();
      for (const key of this.#changed) {
        const value = this.#values.get(key);
        encoded.set(key, value === undefined ? null : this.#encode(key, value));
      }
      this.#encoded = encoded;
    }
    return this.#encoded;
  }

  /** The transaction committed: its changes are now the committed state. */
  commit(): void {
    if (this.access === 'copy') {
      for (const [key, change] of this.#batch) this.#apply(key, change);
      this.#batch.clear();
      return;
    }
    for (const [key, change] of this.pendingChanges()) this.#apply(key, change);
    this.#changed.clear();
    this.#encoded = null;
  }

  /** The transaction aborted: the state is what the changelog holds. */
  abort(): void {
    this.#batch.clear();
    this.#call.clear();
    // Live values may have been changed in place by the calls being discarded: decode afresh.
    this.#values.clear();
    this.#changed.clear();
    this.#encoded = null;
    this.#undo.clear();
  }

  /** Applies one changelog record while restoring (later records of a key win, as in compaction). */
  restore(key: string, change: StateChange): void {
    this.#apply(key, change);
    this.#values.delete(key);
  }

  /** Restores a value given decoded (a migrated legacy record, partition-stores.ts): encoded with the store's type. */
  restoreValue(key: string, value: S): void {
    this.restore(key, this.#codec.encode(value));
  }

  /**
   * Marks a committed key to be written again by this transaction, unchanged, unless the transaction
   * already changed it (a migrated legacy key: its value must reach the changelog under its store).
   */
  rewrite(key: string): void {
    const bytes = this.#committed.get(key);
    if (bytes === undefined) return;
    if (this.access === 'copy') {
      if (!this.#batch.has(key)) this.#batch.set(key, bytes);
      return;
    }
    if (this.#changed.has(key)) return;
    if (!this.#values.has(key)) this.#values.set(key, this.#codec.decode(bytes));
    this.#changed.add(key);
    this.#encoded = null;
  }

  stats(): StateStats {
    return { keys: this.#committed.size, bytes: this.#committedBytes };
  }

  #apply(key: string, change: StateChange): void {
    const previous = this.#committed.get(key);
    if (previous !== undefined) this.#committedBytes -= Buffer.byteLength(key) + previous.length;
    if (change === null) {
      this.#committed.delete(key);
    } else {
      this.#committed.set(key, change);
      this.#committedBytes += Buffer.byteLength(key) + change.length;
    }
  }
}
