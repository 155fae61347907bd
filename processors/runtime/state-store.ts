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
 * `live`: values are held decoded, and a handler gets the object the store holds. Each key has one
 * slot (its committed bytes, its decoded value, whether it changed), so a get or a set is one hash
 * lookup. A key's value is decoded from its committed bytes the first time it is read, then kept; `set` (after changing the object in
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

/**
 * Live mode: everything about one key, found with one lookup (a store of a few hundred thousand keys
 * spends most of a get or set in the hash table: bench/processors). `value` counts only when `epoch` is
 * the store's (an abort drops every decoded value at once by starting a new epoch).
 */
interface Slot<S> {
  readonly key: string;
  /** The committed value, encoded; null when none is committed. */
  bytes: Buffer | null;
  /** The value handlers see: decoded from `bytes`, or set; undefined when not decoded, or deleted if changed. */
  value: S | undefined;
  epoch: number;
  /** Changed since the last commit (then listed in the store's changed slots). */
  changed: boolean;
}

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
  // live mode: one slot per key (committed bytes, decoded value, changed mark), the slots changed since
  // the last commit in the order they were first changed, their encoding once asked for, the epoch
  // decoded values belong to (an abort starts a new one), the strict-mode undo log.
  readonly #slots = new Map<string, Slot<S>>();
  #changedSlots: Slot<S>[] = [];
  #encoded: Map<string, StateChange> | null = null;
  #encodedList: StateChange[] = [];
  #epoch = 0;
  #committedKeys = 0;
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
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    if (slot.changed) return slot.value; // undefined: deleted
    if (slot.value !== undefined && slot.epoch === this.#epoch) return slot.value;
    if (slot.bytes === null) return undefined;
    slot.value = this.#codec.decode(slot.bytes);
    slot.epoch = this.#epoch;
    return slot.value;
  }

  /** Live mode: the slot of `key`, made when there is none. */
  #slot(key: string): Slot<S> {
    let slot = this.#slots.get(key);
    if (slot === undefined) {
      slot = { key, bytes: null, value: undefined, epoch: this.#epoch, changed: false };
      this.#slots.set(key, slot);
    }
    return slot;
  }

  /** Live mode: the slot joins the changes of the transaction (once). */
  #change(slot: Slot<S>, value: S | undefined): void {
    slot.value = value;
    slot.epoch = this.#epoch;
    if (!slot.changed) {
      slot.changed = true;
      this.#changedSlots.push(slot);
    }
    this.#encoded = null;
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
    this.#change(this.#slot(key), value);
  }

  delete(key: string): void {
    if (this.access === 'copy') {
      this.#call.set(key, null);
      return;
    }
    if (this.#strict) this.#remember(key);
    this.#change(this.#slot(key), undefined);
  }

  has(key: string): boolean {
    if (this.access === 'copy') return this.#lookup(key) !== undefined;
    const slot = this.#slots.get(key);
    return slot !== undefined && this.#present(slot);
  }

  #present(slot: Slot<S>): boolean {
    return slot.changed ? slot.value !== undefined : slot.bytes !== null;
  }

  keys(): IterableIterator<string> {
    if (this.access === 'live') {
      const keys: string[] = [];
      for (const slot of this.#slots.values()) if (this.#present(slot)) keys.push(slot.key);
      return keys.values();
    }
    const keys = new Set(this.#committed.keys());
    for (const layer of [this.#batch, this.#call]) {
      for (const [key, change] of layer) {
        if (change === null) keys.delete(key);
        else keys.add(key);
      }
    }
    return [...keys].values();
  }

  get size(): number {
    if (this.access === 'live') {
      let size = this.#committedKeys;
      for (const slot of this.#changedSlots) {
        const before = slot.bytes !== null;
        const after = slot.value !== undefined;
        if (before && !after) size--;
        else if (!before && after) size++;
      }
      return size;
    }
    let size = this.#committed.size;
    const touched = new Set([...this.#batch.keys(), ...this.#call.keys()]);
    for (const key of touched) {
      const before = this.#committed.has(key);
      const after = this.#lookup(key) !== undefined;
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
      let unchanged = false;
      for (const [key, undo] of this.#undo) {
        const slot = this.#slot(key);
        slot.value = undo.bytes === null ? undefined : this.#codec.decode(undo.bytes);
        slot.epoch = this.#epoch;
        if (undo.changed && !slot.changed) this.#changedSlots.push(slot);
        else if (!undo.changed && slot.changed) unchanged = true;
        slot.changed = undo.changed;
        if (!slot.changed && slot.bytes === null) this.#slots.delete(key);
      }
      // Changed only by the failed call: no longer a change (a later one lists it again, at the end).
      if (unchanged) this.#changedSlots = this.#changedSlots.filter((slot) => slot.changed);
      this.#encoded = null;
    }
    this.#undo.clear();
  }

  /** Live mode, strict: the key as it was before the call, the first time the call touches it. */
  #remember(key: string): void {
    if (this.#undo.has(key)) return;
    const slot = this.#slots.get(key);
    const changed = slot?.changed ?? false;
    let bytes: Buffer | null;
    if (!changed) bytes = slot?.bytes ?? null;
    else bytes = slot!.value === undefined ? null : this.#codec.encode(slot!.value);
    this.#undo.set(key, { bytes, changed });
  }

  /** Whether the transaction being built changed any key. */
  hasChanges(): boolean {
    return this.access === 'copy' ? this.#batch.size > 0 : this.#changedSlots.length > 0;
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
      const list: StateChange[] = [];
      for (const slot of this.#changedSlots) {
        const change = slot.value === undefined ? null : this.#encode(slot.key, slot.value);
        encoded.set(slot.key, change);
        list.push(change);
      }
      this.#encoded = encoded;
      this.#encodedList = list;
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
    this.pendingChanges();
    const slots = this.#changedSlots;
    const changes = this.#encodedList;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!;
      slot.changed = false;
      this.#applySlot(slot, changes[i]!);
    }
    this.#changedSlots = [];
    this.#encoded = null;
    this.#encodedList = [];
  }

  /** The transaction aborted: the state is what the changelog holds. */
  abort(): void {
    this.#batch.clear();
    this.#call.clear();
    // Live values may have been changed in place by the calls being discarded: decode afresh.
    for (const slot of this.#changedSlots) {
      slot.changed = false;
      slot.value = undefined;
      if (slot.bytes === null) this.#slots.delete(slot.key);
    }
    this.#changedSlots = [];
    this.#epoch++;
    this.#encoded = null;
    this.#encodedList = [];
    this.#undo.clear();
  }

  /** Applies one changelog record while restoring (later records of a key win, as in compaction). */
  restore(key: string, change: StateChange): void {
    if (this.access === 'copy') {
      this.#apply(key, change);
      return;
    }
    const slot = change === null ? this.#slots.get(key) : this.#slot(key);
    if (slot === undefined) return;
    slot.value = undefined;
    this.#applySlot(slot, change);
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
    if (this.access === 'copy') {
      const bytes = this.#committed.get(key);
      if (bytes !== undefined && !this.#batch.has(key)) this.#batch.set(key, bytes);
      return;
    }
    const slot = this.#slots.get(key);
    if (slot === undefined || slot.bytes === null || slot.changed) return;
    this.#change(slot, this.get(key));
  }

  stats(): StateStats {
    return {
      keys: this.access === 'copy' ? this.#committed.size : this.#committedKeys,
      bytes: this.#committedBytes,
    };
  }

  /** Live mode: `change` is the slot's committed value now (the slot goes when it holds nothing). */
  #applySlot(slot: Slot<S>, change: StateChange): void {
    if (slot.bytes !== null) {
      this.#committedBytes -= Buffer.byteLength(slot.key) + slot.bytes.length;
      this.#committedKeys--;
    }
    slot.bytes = change;
    if (change !== null) {
      this.#committedBytes += Buffer.byteLength(slot.key) + change.length;
      this.#committedKeys++;
    } else if (!slot.changed) this.#slots.delete(slot.key);
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
