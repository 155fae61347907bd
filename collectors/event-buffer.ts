/**
 * The bounded buffer between capture and Kafka: encoded events wait here for the producer.
 *
 * Capture must never wait for Kafka (it would back up into the loader, then the kernel ring, and cost
 * the traced applications latency), and memory must not grow while Kafka is slow or down. So `offer`
 * never blocks: when the buffer holds `maxEvents` events or `maxBytes` bytes it refuses the event, and
 * the caller counts the drop. Refusing the newest (tail drop) rather than evicting the oldest keeps the
 * accepted events contiguous, so their sequence numbers have no gaps that are not produce failures.
 *
 * A ring of slots (no shift() of a growing array), so offer and take are O(1) per event.
 */
export interface BufferedEvent {
  readonly key: Buffer;
  readonly value: Buffer;
}

export class EventBuffer {
  readonly maxEvents: number;
  readonly maxBytes: number;
  #slots: (BufferedEvent | undefined)[];
  #head = 0;
  #size = 0;
  #bytes = 0;
  #waiter: (() => void) | null = null;

  constructor(maxEvents: number, maxBytes: number) {
    this.maxEvents = maxEvents;
    this.maxBytes = maxBytes;
    this.#slots = new Array(Math.min(maxEvents, 1024));
  }

  get size(): number {
    return this.#size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Whether an event of `bytes` would be refused now (checked before encoding, to save the work). */
  full(bytes = 0): boolean {
    return this.#size >= this.maxEvents || this.#bytes + bytes > this.maxBytes;
  }

  /** Adds an event, or returns false (buffer full: the caller counts the drop). Never blocks. */
  offer(event: BufferedEvent): boolean {
    const size = event.key.length + event.value.length;
    if (this.full(size)) return false;
    if (this.#size === this.#slots.length) this.#grow();
    this.#slots[(this.#head + this.#size) % this.#slots.length] = event;
    this.#size++;
    this.#bytes += size;
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter();
    }
    return true;
  }

  /** Removes up to `maxEvents` events and about `maxBytes` bytes (at least one event), oldest first. */
  take(maxEvents: number, maxBytes: number): BufferedEvent[] {
    const out: BufferedEvent[] = [];
    let bytes = 0;
    const slots = this.#slots;
    while (this.#size > 0 && out.length < maxEvents) {
      const event = slots[this.#head]!;
      const size = event.key.length + event.value.length;
      if (out.length > 0 && bytes + size > maxBytes) break;
      slots[this.#head] = undefined;
      this.#head = (this.#head + 1) % slots.length;
      this.#size--;
      this.#bytes -= size;
      bytes += size;
      out.push(event);
    }
    return out;
  }

  /** Resolves when the buffer holds an event, or when `signal` aborts. */
  whenNotEmpty(signal: AbortSignal): Promise<void> {
    if (this.#size > 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        this.#waiter = null;
        resolve();
      };
      this.#waiter = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  #grow(): void {
    const old = this.#slots;
    const next: (BufferedEvent | undefined)[] = new Array(Math.min(this.maxEvents, old.length * 2));
    for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) % old.length];
    this.#slots = next;
    this.#head = 0;
  }
}
