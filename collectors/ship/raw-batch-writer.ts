/**
 * The collector's hot path from events to Kafka records: raw events in the compact batch form of
 * schemas/l7-raw-batch.avsc, written once, when they are accepted.
 *
 *   add(event) ─► open window: the event's per-syscall fields, encoded at once (times and sequence
 *                 numbers as deltas from the window's bases), and a reference to its connection entry
 *   take()     ─► the windows so far, each split by partition (the one the event's connection key hashes
 *                 to) into batch records: bases, the entries of the connections they use (each encoded
 *                 once per connection, then copied), the events' bytes behind their entry index
 *
 * Why windows and not one open batch per partition: the partition count comes from the broker, which
 * may be unreachable when capture starts, while events must be accepted (or refused, counted) at once.
 * Grouping at send time costs one copy of bytes already encoded.
 *
 * The writer is also the bounded buffer between capture and Kafka (it replaces a queue of encoded
 * events): `add` refuses an event when `maxEvents` or `maxBytes` are pending, and the caller counts the
 * drop; it never waits. Refusing the newest keeps accepted events contiguous, so their sequence numbers
 * (given here, to accepted events only) have no gaps that are not produce failures.
 */
import { keyHash } from '../../lib/key-partition.ts';
import { AvroWriter } from '../../schemas/avro-writer.ts';
import { HEADER_BYTES, MAGIC_BYTE } from '../../schemas/codec.ts';
import { type RegisteredSchema, type SchemaRegistry, schemaRegistry } from '../../schemas/registry.ts';
import type {
  ConnectionInfo,
  Http2Event,
  L7RawEvent,
  PeerWorkload,
  ProcessIdentity,
  WorkloadIdentity,
} from '../../schemas/types.ts';

/** Avro int range of the per-event deltas: a window is sealed before an event would leave it. */
const INT_LIMIT = 2 ** 31 - 1;
/** Bytes of a batch record besides its connection entries and events (header, bases, array frames). */
const RECORD_FRAME_BYTES = HEADER_BYTES + 4 * 10 + 2 * 10 + 2;

/** The fields of RawBatchEvent this writer writes, in order: checked against the schema at start. */
const EVENT_FIELDS = [
  'connection',
  'kind',
  'monotonicDeltaNs',
  'seqDelta',
  'tid',
  'direction',
  'syscall',
  'byteCount',
  'protocol',
  'segments',
  'truncated',
  'redactions',
  'errno',
  'causalCandidates',
  'h2',
] as const;
const SEGMENT_FIELDS = ['kind', 'length', 'data', 'endsMessage'] as const;
const H2_FIELDS = [
  'kind',
  'sender',
  'streamId',
  'offsetNs',
  'endStream',
  'fields',
  'unresolved',
  'hpackError',
  'lost',
  'promisedStreamId',
  'length',
  'grpcMessages',
  'grpcMessagesExact',
  'errorCode',
  'reason',
] as const;
const H2_FIELD_FIELDS = ['name', 'value'] as const;
const BATCH_FIELDS = [
  'node',
  'clockOffsetNs',
  'baseMonotonicNs',
  'baseSeq',
  'connections',
  'events',
] as const;

interface AvscType {
  typeName: string;
  name?: string;
  fields?: Array<{ name: string; type: AvscType }>;
  symbols?: string[];
  itemsType?: AvscType;
  toBuffer(value: unknown): Buffer;
}

/** One connection as a batch entry: encoded once, copied into every batch that uses it. */
interface ConnectionEntry {
  readonly connection: ConnectionInfo;
  readonly workload: WorkloadIdentity;
  readonly peer: PeerWorkload | null;
  readonly process: ProcessIdentity;
  readonly bytes: Buffer;
  /** Positive murmur2 of the connection key: the partition is this modulo the partition count. */
  readonly hash: number;
}

/** Events between two sends (or two clock changes) of one node: their bytes and entries. */
interface Window {
  clockOffsetNs: bigint;
  baseMonotonicNs: bigint;
  baseSeq: number;
  /** Encoded per-event fields (everything after the entry index), back to back. */
  readonly data: AvroWriter;
  /** Per event: its entry, and where its bytes end in `data`. */
  readonly entries: ConnectionEntry[];
  readonly ends: number[];
}

export interface RawBatchRecord {
  partition: number;
  value: Buffer;
  events: number;
}

function enumIndex(type: AvscType, field: string): Map<string, number> {
  const f = type.fields!.find((x) => x.name === field)!;
  return new Map(f.type.symbols!.map((s, i) => [s, i]));
}

function fieldType(type: AvscType, field: string): AvscType {
  return type.fields!.find((x) => x.name === field)!.type;
}

function checkFields(type: AvscType, expected: readonly string[]): void {
  const names = type.fields!.map((f) => f.name);
  if (names.join(',') !== expected.join(','))
    throw new Error(
      `the raw batch writer (collectors/ship/raw-batch-writer.ts) writes ${type.name} as ${expected.join(', ')}, the schema has ${names.join(', ')}: update the writer with the schema`,
    );
}

export class RawBatchWriter {
  readonly node: string;
  readonly maxEvents: number;
  readonly maxBytes: number;
  readonly schema: RegisteredSchema;
  readonly #connectionType: AvscType;
  readonly #kinds: Map<string, number>;
  readonly #directions: Map<string, number>;
  readonly #syscalls: Map<string, number>;
  readonly #protocols: Map<string, number>;
  readonly #segmentKinds: Map<string, number>;
  readonly #h2Kinds: Map<string, number>;
  readonly #h2Senders: Map<string, number>;
  readonly #entries = new WeakMap<ConnectionInfo, ConnectionEntry>();
  #windows: Window[] = [];
  #open: Window | null = null;
  #seq = 0;
  #events = 0;
  #bytes = 0;
  /** Spare window buffers, reused after a send. */
  #spare: AvroWriter[] = [];
  readonly #out = new AvroWriter(256 * 1024);
  #waiter: (() => void) | null = null;

  constructor(options: { node: string; maxEvents: number; maxBytes: number; registry?: SchemaRegistry }) {
    this.node = options.node;
    this.maxEvents = options.maxEvents;
    this.maxBytes = options.maxBytes;
    this.schema = (options.registry ?? schemaRegistry()).current('l7-raw-batch');
    const batch = this.schema.type as unknown as AvscType;
    checkFields(batch, BATCH_FIELDS);
    const event = fieldType(batch, 'events').itemsType!;
    checkFields(event, EVENT_FIELDS);
    const segment = fieldType(event, 'segments').itemsType!;
    checkFields(segment, SEGMENT_FIELDS);
    const h2 = fieldType(event, 'h2').itemsType!;
    checkFields(h2, H2_FIELDS);
    checkFields(fieldType(h2, 'fields').itemsType!, H2_FIELD_FIELDS);
    this.#connectionType = fieldType(batch, 'connections').itemsType!;
    this.#kinds = enumIndex(event, 'kind');
    this.#directions = enumIndex(event, 'direction');
    this.#syscalls = enumIndex(event, 'syscall');
    this.#protocols = enumIndex(event, 'protocol');
    this.#segmentKinds = enumIndex(segment, 'kind');
    this.#h2Kinds = enumIndex(h2, 'kind');
    this.#h2Senders = enumIndex(h2, 'sender');
  }

  /** Events accepted and not yet taken. */
  get size(): number {
    return this.#events;
  }

  /** Their encoded bytes (events only; entries are shared). */
  get bytes(): number {
    return this.#bytes;
  }

  /** The sequence number the next accepted event gets. */
  get nextSeq(): number {
    return this.#seq;
  }

  /** Whether an event would be refused now. */
  full(): boolean {
    return this.#events >= this.maxEvents || this.#bytes >= this.maxBytes;
  }

  /**
   * Accepts an event (it gets the next sequence number; `event.seq` is not read), or refuses it when
   * the pending limits are reached (the caller counts the drop). Throws only on an event the compact
   * form cannot hold (a bug: the kernel's byte counts always fit).
   */
  add(event: L7RawEvent): boolean {
    if (this.full()) return false;
    const entry = this.#entry(event);
    const offset = event.timeUnixNano - event.monotonicNs;
    let w = this.#open;
    if (w !== null) {
      // A new window when the clock pair moved (one offset per batch) or a delta would not fit an int.
      const delta = event.monotonicNs - w.baseMonotonicNs;
      if (
        offset !== w.clockOffsetNs ||
        delta > BigInt(INT_LIMIT) ||
        delta < BigInt(-INT_LIMIT) ||
        this.#seq - w.baseSeq > INT_LIMIT
      )
        w = this.#seal();
    }
    if (w === null) w = this.#openWindow(event, offset);
    const data = w.data;
    const start = data.pos;
    try {
      this.#writeEvent(data, event, w);
    } catch (err) {
      data.pos = start;
      throw err;
    }
    this.#seq++;
    w.entries.push(entry);
    w.ends.push(data.pos);
    this.#events++;
    this.#bytes += data.pos - start;
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter();
    }
    return true;
  }

  /** Resolves when an event is pending, or when `signal` aborts. */
  whenNotEmpty(signal: AbortSignal): Promise<void> {
    if (this.#events > 0 || signal.aborted) return Promise.resolve();
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

  #openWindow(event: L7RawEvent, offset: bigint): Window {
    const data = this.#spare.pop() ?? new AvroWriter(64 * 1024);
    data.reset();
    const w: Window = {
      clockOffsetNs: offset,
      baseMonotonicNs: event.monotonicNs,
      baseSeq: this.#seq,
      data,
      entries: [],
      ends: [],
    };
    this.#open = w;
    return w;
  }

  /** Closes the open window (the next event opens another); returns null. */
  #seal(): null {
    if (this.#open !== null && this.#open.entries.length > 0) this.#windows.push(this.#open);
    this.#open = null;
    return null;
  }

  #entry(event: L7RawEvent): ConnectionEntry {
    const connection = event.connection;
    const cached = this.#entries.get(connection);
    const p = event.process;
    if (
      cached !== undefined &&
      cached.workload === event.workload &&
      cached.peer === event.peer &&
      cached.process.pid === p.pid &&
      cached.process.comm === p.comm &&
      cached.process.exe === p.exe &&
      cached.process.cgroupId === p.cgroupId &&
      cached.process.containerId === p.containerId
    )
      return cached;
    const entry: ConnectionEntry = {
      connection,
      workload: event.workload,
      peer: event.peer,
      process: p,
      bytes: this.#connectionType.toBuffer({
        connection,
        process: p,
        workload: event.workload,
        peer: event.peer,
      }),
      hash: keyHash(connection.key),
    };
    this.#entries.set(connection, entry);
    return entry;
  }

  #writeEvent(w: AvroWriter, ev: L7RawEvent, window: Window): void {
    w.long(index(this.#kinds, ev.kind));
    w.long(Number(ev.monotonicNs - window.baseMonotonicNs));
    w.long(this.#seq - window.baseSeq);
    w.long(ev.process.tid);
    w.long(index(this.#directions, ev.direction));
    w.long(index(this.#syscalls, ev.syscall));
    const byteCount = Number(ev.byteCount);
    if (byteCount > INT_LIMIT) throw new RangeError(`byteCount ${byteCount} does not fit a raw batch`);
    w.long(byteCount);
    w.long(index(this.#protocols, ev.protocol));
    const segments = ev.segments;
    if (segments.length > 0) {
      w.long(segments.length);
      for (let i = 0; i < segments.length; i++) {
        const s = segments[i]!;
        w.long(index(this.#segmentKinds, s.kind));
        w.long(Number(s.length));
        if (s.data === null) w.nullable(false);
        else {
          w.nullable(true);
          w.bytes(s.data);
        }
        w.boolean(s.endsMessage);
      }
    }
    w.long(0);
    w.boolean(ev.truncated);
    w.long(ev.redactions);
    if (ev.errno === null) w.nullable(false);
    else {
      w.nullable(true);
      w.long(ev.errno);
    }
    const hints = ev.causalCandidates;
    if (hints.length > 0) {
      w.long(hints.length);
      for (let i = 0; i < hints.length; i++) {
        const h = hints[i]!;
        if (h === null) w.nullable(false);
        else {
          w.nullable(true);
          w.long(h);
        }
      }
    }
    w.long(0);
    const h2 = ev.h2;
    if (h2.length > 0) {
      w.long(h2.length);
      for (let i = 0; i < h2.length; i++) this.#writeH2(w, h2[i]!);
    }
    w.long(0);
  }

  #writeH2(w: AvroWriter, e: Http2Event): void {
    w.long(index(this.#h2Kinds, e.kind));
    w.long(index(this.#h2Senders, e.sender));
    w.long(e.streamId);
    w.bigLong(e.offsetNs);
    w.boolean(e.endStream);
    const fields = e.fields;
    if (fields.length > 0) {
      w.long(fields.length);
      for (let i = 0; i < fields.length; i++) {
        const f = fields[i]!;
        nullableString(w, f.name);
        nullableString(w, f.value);
      }
    }
    w.long(0);
    w.long(e.unresolved);
    nullableString(w, e.hpackError);
    nullableString(w, e.lost);
    if (e.promisedStreamId === null) w.nullable(false);
    else {
      w.nullable(true);
      w.long(e.promisedStreamId);
    }
    w.long(e.length);
    w.long(e.grpcMessages);
    w.boolean(e.grpcMessagesExact);
    w.bigLong(e.errorCode);
    nullableString(w, e.reason);
  }

  /**
   * Everything accepted so far as batch records for a topic of `partitions` partitions, oldest window
   * first, each of at most `maxEvents` events and about `maxBytes` bytes (a larger group is split). The events are no
   * longer pending: the caller produces the records, and counts their events as produced or dropped.
   */
  take(partitions: number, limits: { maxEvents: number; maxBytes: number }): RawBatchRecord[] {
    this.#seal();
    const windows = this.#windows;
    this.#windows = [];
    const records: RawBatchRecord[] = [];
    for (const w of windows) {
      this.#recordsOf(w, partitions, limits, records);
      this.#spare.push(w.data);
    }
    if (this.#spare.length > 4) this.#spare.length = 4;
    this.#events = 0;
    this.#bytes = 0;
    return records;
  }

  #recordsOf(
    w: Window,
    partitions: number,
    limits: { maxEvents: number; maxBytes: number },
    out: RawBatchRecord[],
  ): void {
    // Events of each partition, in order.
    const groups = new Map<number, number[]>();
    for (let i = 0; i < w.entries.length; i++) {
      const partition = w.entries[i]!.hash % partitions;
      let list = groups.get(partition);
      if (list === undefined) {
        list = [];
        groups.set(partition, list);
      }
      list.push(i);
    }
    for (const [partition, events] of groups) {
      let from = 0;
      while (from < events.length) from = this.#record(w, partition, events, from, limits, out);
    }
  }

  /** Writes one record of `events[from..]` up to the size limit; returns where the next one starts. */
  #record(
    w: Window,
    partition: number,
    events: readonly number[],
    from: number,
    limits: { maxEvents: number; maxBytes: number },
    out: RawBatchRecord[],
  ): number {
    const o = this.#out;
    o.reset();
    const entryIndex = new Map<ConnectionEntry, number>();
    const order: ConnectionEntry[] = [];
    let to = from;
    let bytes = RECORD_FRAME_BYTES;
    for (; to < events.length; to++) {
      const i = events[to]!;
      const entry = w.entries[i]!;
      const size = w.ends[i]! - (i === 0 ? 0 : w.ends[i - 1]!) + 5;
      const entryBytes = entryIndex.has(entry) ? 0 : entry.bytes.length;
      if (to > from && (bytes + size + entryBytes > limits.maxBytes || to - from >= limits.maxEvents)) break;
      bytes += size + entryBytes;
      if (entryBytes > 0) {
        entryIndex.set(entry, order.length);
        order.push(entry);
      }
    }
    o.byte(MAGIC_BYTE);
    o.ensure(4);
    o.buf.writeUInt32BE(this.schema.id, o.pos);
    o.pos += 4;
    o.string(this.node);
    o.bigLong(w.clockOffsetNs);
    o.bigLong(w.baseMonotonicNs);
    o.long(w.baseSeq);
    o.long(order.length);
    for (const entry of order) o.raw(entry.bytes);
    o.long(0);
    o.long(to - from);
    const data = w.data.buf;
    for (let k = from; k < to; k++) {
      const i = events[k]!;
      o.long(entryIndex.get(w.entries[i]!)!);
      const start = i === 0 ? 0 : w.ends[i - 1]!;
      o.raw(data.subarray(start, w.ends[i]!));
    }
    o.long(0);
    out.push({ partition, value: Buffer.from(o.view()), events: to - from });
    return to;
  }
}

function nullableString(w: AvroWriter, value: string | null): void {
  if (value === null) w.nullable(false);
  else {
    w.nullable(true);
    w.string(value);
  }
}

function index(map: Map<string, number>, symbol: string): number {
  const i = map.get(symbol);
  if (i === undefined) throw new TypeError(`${symbol} is not a symbol of the raw batch schema`);
  return i;
}
