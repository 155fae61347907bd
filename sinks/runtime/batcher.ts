/**
 * Groups records into export batches: a batch closes when it holds `maxSize` entries or when its
 * first entry has waited `lingerMs`, whichever comes first. Size bounds the request a receiver gets;
 * linger bounds how stale a record can be when traffic is light.
 *
 * Synchronous and single-threaded by design: the host adds entries from its Kafka fetch handler and
 * receives closed batches through `onBatch`, in order.
 */

export interface BatcherOptions {
  maxSize: number;
  lingerMs: number;
}

export interface Batch<E> {
  readonly entries: E[];
  /** When the first entry arrived (Date.now()). */
  readonly openedAt: number;
  /** What closed it. */
  readonly closedBy: 'size' | 'linger' | 'flush';
}

export class Batcher<E> {
  readonly #options: BatcherOptions;
  readonly #onBatch: (batch: Batch<E>) => void;
  #entries: E[] = [];
  #openedAt = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: BatcherOptions, onBatch: (batch: Batch<E>) => void) {
    if (!(options.maxSize >= 1)) throw new RangeError(`maxSize must be at least 1, got ${options.maxSize}`);
    this.#options = options;
    this.#onBatch = onBatch;
  }

  /** Entries waiting in the open batch. */
  get size(): number {
    return this.#entries.length;
  }

  add(entry: E): void {
    if (this.#entries.length === 0) {
      this.#openedAt = Date.now();
      // unref: a pending linger must not keep a stopping process alive; stop() flushes explicitly.
      this.#timer = setTimeout(() => this.#close('linger'), this.#options.lingerMs).unref();
    }
    this.#entries.push(entry);
    if (this.#entries.length >= this.#options.maxSize) this.#close('size');
  }

  /** Closes the open batch now (shutdown). */
  flush(): void {
    this.#close('flush');
  }

  /** Drops the open batch without emitting it (its records will be fetched again); returns how many. */
  clear(): number {
    const dropped = this.#entries.length;
    this.#disarm();
    this.#entries = [];
    return dropped;
  }

  #close(closedBy: Batch<E>['closedBy']): void {
    this.#disarm();
    if (this.#entries.length === 0) return;
    const batch: Batch<E> = { entries: this.#entries, openedAt: this.#openedAt, closedBy };
    this.#entries = [];
    this.#onBatch(batch);
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
