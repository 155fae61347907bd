/**
 * The agent's per-connection state, bounded: at most `capacity` connections, least recently used
 * evicted first (and counted by the caller through `onEvict`).
 *
 * A connection normally leaves at its CLOSE record. Eviction covers what never closes from our point
 * of view: CLOSE lost in the kernel or the loader, processes killed with their sockets reclaimed by the
 * kernel without close(), connections idle for days. An evicted connection that speaks again is
 * recreated (without its framing state: the framer resynchronises on the next message start).
 *
 * Keyed by the loader's connection id, which is unique per connection for one loader run (the table is
 * cleared when the loader restarts). Recency is a JavaScript Map's insertion order: touching an entry
 * re-inserts it, so the first key is always the least recently used.
 */
export class ConnectionTable<V> {
  readonly #capacity: number;
  readonly #onEvict: (value: V) => void;
  readonly #map = new Map<number, V>();

  constructor(capacity: number, onEvict: (value: V) => void) {
    this.#capacity = Math.max(1, capacity);
    this.#onEvict = onEvict;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The entry, marked as most recently used. */
  get(id: number): V | undefined {
    const map = this.#map;
    const value = map.get(id);
    if (value !== undefined) {
      map.delete(id);
      map.set(id, value);
    }
    return value;
  }

  /** Adds an entry (the most recently used), evicting the least recently used one when full. */
  add(id: number, value: V): void {
    const map = this.#map;
    map.delete(id);
    if (map.size >= this.#capacity) {
      const oldest = map.keys().next();
      if (!oldest.done) {
        const evicted = map.get(oldest.value)!;
        map.delete(oldest.value);
        this.#onEvict(evicted);
      }
    }
    map.set(id, value);
  }

  delete(id: number): V | undefined {
    const value = this.#map.get(id);
    if (value !== undefined) this.#map.delete(id);
    return value;
  }

  values(): IterableIterator<V> {
    return this.#map.values();
  }

  /** Removes everything without calling `onEvict` (the caller handles the entries). */
  clear(): V[] {
    const all = [...this.#map.values()];
    this.#map.clear();
    return all;
  }
}
