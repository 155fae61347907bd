/**
 * The keyed state of one input partition, in three layers:
 *
 *   call       changes made by the handler call in progress      → kept (merged into `batch`) when the
 *                                                                   call returns, dropped when it throws
 *   batch      changes of the transaction being built            → written to the changelog; applied to
 *                                                                   `committed` when the transaction
 *                                                                   commits, dropped when it aborts
 *   committed  what the committed changelog holds                 → also what a restore rebuilds
 *
 * Values are held encoded, as the changelog holds them: `get` decodes a copy, `set` encodes at once. So
 * a handler cannot change state behind the store's back by mutating an object it read, every change is
 * a changelog record, and discarding a layer is dropping a Map. The cost is a decode per `get`, the
 * same trade Kafka Streams makes with its serialized stores.
 */
import type { PartitionState, StateCodec } from './definition.ts';

/** A pending change: the encoded new value, or null for a delete (a tombstone on the changelog). */
export type StateChange = Buffer | null;

export interface StateStats {
  keys: number;
  /** Key and value bytes of the committed state (what the changelog holds after compaction). */
  bytes: number;
}

export class StateStore<S> implements PartitionState<S> {
  readonly #codec: StateCodec<S>;
  readonly #committed = new Map<string, Buffer>();
  #committedBytes = 0;
  readonly #batch = new Map<string, StateChange>();
  readonly #call = new Map<string, StateChange>();

  constructor(codec: StateCodec<S>) {
    this.#codec = codec;
  }

  #lookup(key: string): Buffer | undefined {
    const inCall = this.#call.get(key);
    if (inCall !== undefined) return inCall ?? undefined;
    const inBatch = this.#batch.get(key);
    if (inBatch !== undefined) return inBatch ?? undefined;
    return this.#committed.get(key);
  }

  get(key: string): S | undefined {
    const bytes = this.#lookup(key);
    return bytes === undefined ? undefined : this.#codec.decode(bytes);
  }

  set(key: string, value: S): void {
    this.#call.set(key, this.#codec.encode(value));
  }

  delete(key: string): void {
    this.#call.set(key, null);
  }

  has(key: string): boolean {
    return this.#lookup(key) !== undefined;
  }

  keys(): IterableIterator<string> {
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

  /** Ends a handler call: its changes join the transaction, or are forgotten if it failed. */
  endCall(keep: boolean): void {
    if (keep) for (const [key, change] of this.#call) this.#batch.set(key, change);
    this.#call.clear();
  }

  /** The changes of the transaction being built, one per key (the changelog records to write). */
  pendingChanges(): ReadonlyMap<string, StateChange> {
    return this.#batch;
  }

  /** The transaction committed: its changes are now the committed state. */
  commit(): void {
    for (const [key, change] of this.#batch) this.#apply(key, change);
    this.#batch.clear();
  }

  /** The transaction aborted: the state is what the changelog holds. */
  abort(): void {
    this.#batch.clear();
    this.#call.clear();
  }

  /** Applies one changelog record while restoring (later records of a key win, as in compaction). */
  restore(key: string, change: StateChange): void {
    this.#apply(key, change);
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
