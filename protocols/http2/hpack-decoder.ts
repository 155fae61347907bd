/**
 * HPACK (RFC 7541) decoding of one direction of one HTTP/2 connection: header blocks in, header fields
 * out, with the dynamic table that the peer's encoder keeps in step with it.
 *
 * HPACK is stateful: every header block may insert entries that later blocks refer to by position, so
 * one decoder per connection and direction must see every header block, in order. Two situations
 * break that, and both are handled by the same rule instead of by guessing:
 * - the capture started after the connection did (the table already held entries we never saw);
 * - a header block was lost (a gap in the capture, or a block that did not decode).
 * In both, the decoder switches to **unsynced** mode: it forgets what it had and records every
 * insertion from then on. Index 62 + j always names the j-th most recent insertion that is still in
 * the table (§2.3.3), and the encoder only refers to entries that are still there, so a reference to
 * one of the insertions seen since is resolved exactly; a reference past them is to an entry inserted
 * before we looked, and is reported as unresolved (the field's name and/or value is `null`). Static
 * entries (1..61) always resolve. A table size update to 0 empties the table and ends unsynced mode.
 *
 * In synced mode (seen from the connection's first header block) the table follows §4 exactly: entry
 * sizes (name + value + 32), eviction of the oldest, size updates only at the start of a block.
 * Malformed input (§5, §6) is reported as an error with the fields decoded so far; the table state is
 * then unknown (a real endpoint would have closed the connection with COMPRESSION_ERROR), so the
 * decoder goes unsynced. Nothing here throws on traffic.
 *
 * Why not an npm HPACK implementation: `hpack.js` (the one with users, via spdy) has had no release
 * since 2016, is a stream API that throws on any error and cannot tell a reference it cannot resolve
 * from a malformed block; none offers a table whose unknown part is tracked rather than fatal, which
 * is what a passive observer that can start mid-connection needs.
 */

import { latin1 } from '../http1/parse-head.ts';
import { decodeHuffman, type HuffmanError } from './huffman.ts';
import { STATIC_TABLE, STATIC_TABLE_LENGTH } from './static-table.ts';

/** The initial and default maximum table size (SETTINGS_HEADER_TABLE_SIZE, RFC 9113 §6.5.2). */
export const DEFAULT_HEADER_TABLE_SIZE = 4096;
/**
 * The largest table this decoder holds (bytes as §4.1 counts them). A peer may allow more; a larger
 * size update switches to unsynced mode, which keeps the newest entries up to this size.
 */
export const MAX_HEADER_TABLE_SIZE = 65536;
/** Per-entry overhead of §4.1. */
export const ENTRY_OVERHEAD = 32;
/** Fields in one block before the block is rejected (a bound on work, far above real traffic). */
export const MAX_FIELDS_PER_BLOCK = 1024;

/** Why a header block is malformed. */
export type HpackError =
  | HuffmanError
  | 'index-zero'
  | 'index-out-of-range'
  | 'integer-overflow'
  | 'truncated'
  | 'late-table-size-update'
  | 'table-size-over-limit'
  | 'too-many-fields';

/** One decoded field. `null` name/value: a table reference this decoder cannot resolve (see above). */
export interface HpackField {
  readonly name: string | null;
  readonly value: string | null;
  /** Sent as "never indexed" (§6.2.3): the sender marked the value sensitive. */
  readonly neverIndexed: boolean;
}

export interface HpackResult {
  readonly fields: HpackField[];
  /** References to entries inserted before this decoder could see them (names and values counted once per field). */
  readonly unresolved: number;
  /** The block is malformed; `fields` holds what came before the error. */
  readonly error: HpackError | null;
}

export interface HpackDecoderOptions {
  /** Seen from the connection's start (default true). False: first seen mid-way, start unsynced. */
  readonly synced?: boolean;
  /** Default {@link MAX_HEADER_TABLE_SIZE}. */
  readonly maxTableSize?: number;
  /**
   * The table's maximum size before any size update (default {@link DEFAULT_HEADER_TABLE_SIZE}, what
   * HTTP/2 starts with; RFC 7541's response examples use 256).
   */
  readonly initialTableSize?: number;
}

export interface HpackCounters {
  blocks: number;
  fields: number;
  /** Blocks with at least one unresolved reference. */
  unresolvedBlocks: number;
  unresolvedReferences: number;
  /** Malformed blocks by reason. */
  errors: Partial<Record<HpackError, number>>;
  /** Times the decoder went unsynced (mid-way start excluded): gaps and errors. */
  syncLosses: number;
  /** Table size updates to 0 that made an unsynced table known again. */
  resyncs: number;
}

export function newHpackCounters(): HpackCounters {
  return {
    blocks: 0,
    fields: 0,
    unresolvedBlocks: 0,
    unresolvedReferences: 0,
    errors: {},
    syncLosses: 0,
    resyncs: 0,
  };
}

interface Entry {
  readonly name: string | null;
  readonly value: string | null;
  /** §4.1 size; for an entry whose name or value is unknown, the overhead only (a lower bound). */
  readonly size: number;
}

/** The decoder's state as plain JSON data (`toState` / `fromState`). */
export interface HpackDecoderState {
  synced: boolean;
  /** Newest first. */
  entries: Array<[name: string | null, value: string | null]>;
  maxSize: number;
  /** The maximum size is known (synced, or an update seen while unsynced). */
  maxKnown: boolean;
}

/** Thrown inside `decode` only, to unwind to its single catch; never escapes. */
class Malformed {
  readonly reason: HpackError;
  constructor(reason: HpackError) {
    this.reason = reason;
  }
}

export class HpackDecoder {
  readonly counters: HpackCounters = newHpackCounters();
  readonly #cap: number;
  #synced: boolean;
  /** Oldest first: the newest entry is the last, index 62 is entries[length - 1]. */
  #entries: Entry[] = [];
  #size = 0;
  #maxSize = DEFAULT_HEADER_TABLE_SIZE;
  #maxKnown: boolean;
  /** Scratch for Huffman output, grown on demand. */
  #scratch = new Uint8Array(256);

  constructor(options: HpackDecoderOptions = {}) {
    this.#cap = options.maxTableSize ?? MAX_HEADER_TABLE_SIZE;
    this.#synced = options.synced ?? true;
    this.#maxKnown = this.#synced;
    this.#maxSize = this.#synced ? (options.initialTableSize ?? DEFAULT_HEADER_TABLE_SIZE) : this.#cap;
  }

  static fromState(state: HpackDecoderState, options: HpackDecoderOptions = {}): HpackDecoder {
    const d = new HpackDecoder(options);
    d.#synced = state.synced;
    d.#maxSize = state.maxSize;
    d.#maxKnown = state.maxKnown;
    for (let i = state.entries.length - 1; i >= 0; i--) {
      const [name, value] = state.entries[i]!;
      d.#insert({ name, value, size: entrySize(name, value) });
    }
    return d;
  }

  toState(): HpackDecoderState {
    const entries: Array<[string | null, string | null]> = [];
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const e = this.#entries[i]!;
      entries.push([e.name, e.value]);
    }
    return { synced: this.#synced, entries, maxSize: this.#maxSize, maxKnown: this.#maxKnown };
  }

  /** Every dynamic entry is known: references resolve or are errors. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Entries held (for tests and metrics). */
  get tableLength(): number {
    return this.#entries.length;
  }

  /** §4.1 size of the entries held. */
  get tableSize(): number {
    return this.#size;
  }

  /**
   * The SETTINGS_HEADER_TABLE_SIZE the decoding endpoint announced (RFC 9113 §6.5.2): the encoder's
   * table can never be larger. While unsynced with an unknown size, entries beyond it are certainly
   * gone, so they are not kept.
   */
  settingsLimit(size: number): void {
    if (!this.#synced && !this.#maxKnown && size < this.#maxSize) {
      this.#maxSize = Math.min(size, this.#cap);
      this.#evict(0);
    }
  }

  /**
   * A header block of this direction was lost (or could not be read): from now on only insertions
   * seen after this point can be resolved.
   */
  loseSync(): void {
    this.counters.syncLosses++;
    this.#goUnsynced();
  }

  /** Decodes one complete header block (HEADERS/PUSH_PROMISE fragment plus its CONTINUATIONs). */
  decode(block: Uint8Array, start = 0, end: number = block.length): HpackResult {
    this.counters.blocks++;
    const fields: HpackField[] = [];
    let unresolved = 0;
    let pos = start;
    let error: HpackError | null = null;
    try {
      while (pos < end) {
        const b = block[pos]!;
        if (fields.length >= MAX_FIELDS_PER_BLOCK) throw new Malformed('too-many-fields');
        if (b & 0x80) {
          // Indexed field (§6.1).
          const [index, next] = readInt(block, pos, end, 7);
          pos = next;
          const e = this.#lookup(index);
          if (e.name === null || e.value === null) unresolved++;
          fields.push({ name: e.name, value: e.value, neverIndexed: false });
        } else if ((b & 0xe0) === 0x20) {
          // Dynamic table size update (§6.3): only before the first field of a block (§4.2).
          if (fields.length > 0) throw new Malformed('late-table-size-update');
          const [size, next] = readInt(block, pos, end, 5);
          pos = next;
          this.#resize(size);
        } else {
          // Literal (§6.2): with incremental indexing (01), never indexed (0001), without indexing (0000).
          const incremental = (b & 0xc0) === 0x40;
          const prefix = incremental ? 6 : 4;
          const [index, afterIndex] = readInt(block, pos, end, prefix);
          pos = afterIndex;
          let name: string | null;
          if (index === 0) {
            const [s, next] = this.#readString(block, pos, end);
            name = s;
            pos = next;
          } else {
            name = this.#lookup(index).name;
          }
          const [value, next] = this.#readString(block, pos, end);
          pos = next;
          if (name === null) unresolved++;
          fields.push({ name, value, neverIndexed: !incremental && (b & 0xf0) === 0x10 });
          if (incremental) this.#insert({ name, value, size: entrySize(name, value) });
        }
      }
    } catch (err) {
      if (!(err instanceof Malformed)) throw err;
      error = err.reason;
      this.counters.errors[error] = (this.counters.errors[error] ?? 0) + 1;
      this.loseSync();
    }
    this.counters.fields += fields.length;
    if (unresolved > 0) {
      this.counters.unresolvedBlocks++;
      this.counters.unresolvedReferences += unresolved;
    }
    return { fields, unresolved, error };
  }

  #lookup(index: number): Entry {
    if (index === 0) throw new Malformed('index-zero');
    if (index <= STATIC_TABLE_LENGTH) {
      const [name, value] = STATIC_TABLE[index - 1]!;
      return { name, value, size: 0 };
    }
    const j = index - STATIC_TABLE_LENGTH - 1;
    if (j < this.#entries.length) return this.#entries[this.#entries.length - 1 - j]!;
    // Past what we hold: an error for a table we know whole, an entry we never saw otherwise.
    if (this.#synced) throw new Malformed('index-out-of-range');
    return UNKNOWN_ENTRY;
  }

  #resize(size: number): void {
    if (size > this.#cap) {
      // Allowed by the peer perhaps, but more than we hold: keep the newest entries up to our cap.
      if (this.#synced) throw new Malformed('table-size-over-limit');
      this.#maxSize = this.#cap;
      this.#maxKnown = false;
      this.#evict(0);
      return;
    }
    this.#maxSize = size;
    this.#maxKnown = true;
    if (size === 0 && !this.#synced) {
      // An empty table is a known table.
      this.#synced = true;
      this.counters.resyncs++;
    }
    this.#evict(0);
  }

  #insert(e: Entry): void {
    this.#evict(e.size);
    if (e.size > this.#maxSize) {
      // §4.4: an entry larger than the table empties it and is not added.
      return;
    }
    this.#entries.push(e);
    this.#size += e.size;
  }

  /** Evicts the oldest entries until `room` more bytes fit under the maximum size (§4.4). */
  #evict(room: number): void {
    let drop = 0;
    while (drop < this.#entries.length && this.#size + room > this.#maxSize) {
      this.#size -= this.#entries[drop]!.size;
      drop++;
    }
    if (drop > 0) this.#entries.splice(0, drop);
  }

  #goUnsynced(): void {
    this.#synced = false;
    this.#entries = [];
    this.#size = 0;
    if (!this.#maxKnown) this.#maxSize = this.#cap;
  }

  /** A string literal (§5.2); Latin-1 decoded so that every byte survives. */
  #readString(block: Uint8Array, pos: number, end: number): [string, number] {
    if (pos >= end) throw new Malformed('truncated');
    const huffman = (block[pos]! & 0x80) !== 0;
    const [length, start] = readInt(block, pos, end, 7);
    const stop = start + length;
    if (stop > end) throw new Malformed('truncated');
    if (!huffman) return [latin1(block, start, stop), stop];
    const need = Math.ceil((length * 8) / 5);
    if (this.#scratch.length < need) this.#scratch = new Uint8Array(Math.max(need, this.#scratch.length * 2));
    const n = decodeHuffman(block, start, stop, this.#scratch);
    if (typeof n === 'string') throw new Malformed(n);
    return [latin1(this.#scratch, 0, n), stop];
  }
}

const UNKNOWN_ENTRY: Entry = { name: null, value: null, size: ENTRY_OVERHEAD };

function entrySize(name: string | null, value: string | null): number {
  return (name?.length ?? 0) + (value?.length ?? 0) + ENTRY_OVERHEAD;
}

/** Largest integer accepted (§5.1 leaves it to the implementation; far above any table or length). */
const MAX_INT = 2 ** 31 - 1;

/** An integer with an N-bit prefix (§5.1) at block[pos]; returns [value, next position]. */
function readInt(block: Uint8Array, pos: number, end: number, prefixBits: number): [number, number] {
  const mask = (1 << prefixBits) - 1;
  let value = block[pos]! & mask;
  pos++;
  if (value < mask) return [value, pos];
  let shift = 0;
  for (;;) {
    if (pos >= end) throw new Malformed('truncated');
    const b = block[pos++]!;
    value += (b & 0x7f) * 2 ** shift;
    if (value > MAX_INT) throw new Malformed('integer-overflow');
    if ((b & 0x80) === 0) return [value, pos];
    shift += 7;
  }
}
