/**
 * Decodes the framed record stream of `meshpipe-loader` (its stdout) into typed records.
 *
 * This is the agent's hot path: one call per pipe chunk, thousands of records per second. So: one
 * DataView per chunk, fixed offsets from the layout mirror, no per-record closures, flags objects and
 * address strings served from small caches, and payloads handed out as `subarray` views of the chunk
 * (no copy). Only a frame split across two chunks is copied, into a buffer of exactly its size.
 *
 * Errors on this path are counted (`counters`), not thrown: a record of an unknown kind or with an
 * impossible size is skipped. The one exception is a frame length no loader can produce, after which
 * the stream cannot be re-synchronised (frames carry no magic): `push` throws RecordStreamError.
 */
import { constants as osConstants } from 'node:os';
import {
  type SyscallName as AbiSyscallName,
  Direction,
  DropReason,
  type DropReasonName,
  Family,
  Feature,
  Flag,
  LAYOUT,
  RecordKind,
  Role,
  Syscall,
  TlsFunction,
  TlsLibraryState,
} from './record-layout.ts';

export type SyscallName = Lowercase<AbiSyscallName>;
export type DirectionName = 'none' | 'egress' | 'ingress';
export type RoleName = 'unknown' | 'client' | 'server';

/** Decoded `mp_event_header.flags`. Objects are shared between records: never mutate them. */
export interface RecordFlags {
  /** The buffer starts an HTTP/1.x message (request line, or status line if `response`). */
  readonly messageStart: boolean;
  /** The message start is a status line. */
  readonly response: boolean;
  /** Not all of the syscall's bytes are in `captured` (copy budget spent, or read failure). */
  readonly truncated: boolean;
  /** The uncaptured tail ends with the chunked-body terminator ("\r\n0\r\n\r\n" or "0\r\n\r\n"). */
  readonly chunkTerminator: boolean;
  /** Copying from the process's memory failed: `captured` is short or empty. */
  readonly readFailed: boolean;
  /** The data spans more iovecs than the kernel walks: `captured` is short. */
  readonly iovLimit: boolean;
  /** `role` was guessed from the first HTTP message seen, not from connect()/accept(). */
  readonly roleInferred: boolean;
  /** The connection was opened before the capture (or outside its view): OPEN time is first sight. */
  readonly preexisting: boolean;
  /** An AF_INET6 socket carrying IPv4: addresses are reported as IPv4. */
  readonly v4Mapped: boolean;
  /** CONNECT_FAILED seen on the failed handshake of a non-blocking connect(). */
  readonly async: boolean;
  /** A TLS connection: its data records are the plaintext OpenSSL read or wrote (syscall ssl_read/ssl_write). */
  readonly tls: boolean;
}

/** Fields common to DATA, OPEN, CLOSE and CONNECT_FAILED (`struct mp_event_header`). */
export interface ConnRecordBase {
  readonly tgid: number;
  readonly tid: number;
  readonly fd: number;
  /** Unique per connection for one loader run (0 for CONNECT_FAILED: no connection was made). */
  readonly connId: number;
  /** How many connections this (tgid, fd) slot has carried; changes when the fd is reused. */
  readonly generation: number;
  /** CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns); see ReadyRecord for wall-clock conversion. */
  readonly timestampNs: bigint;
  readonly direction: DirectionName;
  readonly role: RoleName;
  readonly roleInferred: boolean;
  readonly family: 4 | 6;
  readonly localAddr: string;
  readonly localPort: number;
  readonly peerAddr: string;
  readonly peerPort: number;
  /** cgroup v2 id of the task (inode of its cgroup directory). */
  readonly cgroupId: bigint;
  /** Inode of the socket's network namespace, as in `stat -L /proc/<pid>/ns/net`. */
  readonly netnsInode: number;
  readonly syscall: SyscallName;
  readonly flags: RecordFlags;
  /** The raw flag bits (`Flag` in record-layout.ts). */
  readonly flagBits: number;
}

export interface DataRecord extends ConnRecordBase {
  readonly kind: 'data';
  /** Bytes the syscall transferred (its return value). */
  readonly byteCount: number;
  /** The copied bytes: a view into the chunk the record arrived in, valid as long as it is referenced. */
  readonly captured: Uint8Array;
  /** Syscall entry to exit; for reads this includes waiting for data. */
  readonly durationNs: number;
}

export interface OpenRecord extends ConnRecordBase {
  readonly kind: 'open';
}

export interface CloseRecord extends ConnRecordBase {
  readonly kind: 'close';
  readonly openNs: bigint;
  readonly bytesEgress: number;
  readonly bytesIngress: number;
}

export interface ConnectFailedRecord extends ConnRecordBase {
  readonly kind: 'connect_failed';
  readonly startedNs: bigint;
  /** Positive errno, e.g. 111. */
  readonly errno: number;
  /** Its name, e.g. 'ECONNREFUSED' ('E<n>' if unknown). */
  readonly errorCode: string;
}

export interface StatsRecord {
  readonly kind: 'stats';
  readonly monotonicNs: bigint;
  readonly realtimeNs: bigint;
  readonly ringRecords: number;
  readonly ringBytes: number;
  readonly forwardedRecords: number;
  readonly forwardedBytes: number;
  readonly loaderDroppedRecords: number;
  readonly loaderDroppedBytes: number;
  /** Cumulative kernel-side drop counters by reason. */
  readonly kernelDrops: Readonly<Record<DropReasonName, number>>;
}

export interface ReadyRecord {
  readonly kind: 'ready';
  readonly abiVersion: number;
  readonly loaderTgid: number;
  readonly captureCap: number;
  readonly ringBytes: number;
  readonly pollMs: number;
  readonly features: { readonly asyncConnect: boolean; readonly tls: boolean };
  /** Sampled together: wall-clock ns of a timestamp t = realtimeNs + (t - monotonicNs). */
  readonly monotonicNs: bigint;
  readonly realtimeNs: bigint;
}

/** Written by the loader with --conntrack before the OPEN of a client connection that was NATed. */
export interface NatRecord {
  readonly kind: 'nat';
  readonly connId: number;
  /** The address and port the connection really reached (conntrack's reply source). */
  readonly addr: string;
  readonly port: number;
}

export type TlsLibraryStateName = 'attached' | 'detached' | 'failed' | 'unsupported';

/** What the loader did with a TLS library it found (a libssl, or an executable with OpenSSL in it). */
export interface TlsLibraryRecord {
  readonly kind: 'tls_library';
  readonly state: TlsLibraryStateName;
  /** A process mapping the file when it was found (0: found on disk). */
  readonly tgid: number;
  /** The OpenSSL functions probed (attached) or found, e.g. ['SSL_read', 'SSL_write']. */
  readonly functions: readonly string[];
  /** Why attaching failed (errno name), null otherwise. */
  readonly error: string | null;
  /** The file as the kernel names it: device (major << 20 | minor) and inode. */
  readonly dev: number;
  readonly ino: number;
  /** Its path as the process that maps it sees it. */
  readonly path: string;
}

export type LoaderRecord =
  | NatRecord
  | DataRecord
  | OpenRecord
  | CloseRecord
  | ConnectFailedRecord
  | StatsRecord
  | ReadyRecord
  | TlsLibraryRecord;

/** The stream is corrupt beyond repair (an impossible frame length). */
export class RecordStreamError extends Error {
  readonly code = 'MESHPIPE_ERR_LOADER_STREAM_CORRUPT';
  constructor(message: string) {
    super(message);
    this.name = 'RecordStreamError';
  }
}

export interface DecoderCounters {
  /** Records decoded. */
  records: number;
  /** Frames skipped: unknown kind or a size that does not fit the kind. */
  malformed: number;
  /** Bytes of an incomplete frame left when the stream ended (see `end()`). */
  truncatedBytes: number;
}

// Offsets, read once from the mirror. ----------------------------------------------------------------
const S = LAYOUT.structs;
const H = S.mp_event_header.fields;
const T = S.mp_conn_tuple.fields;
const TUPLE = H.tuple.offset;
const O_KIND = H.kind.offset;
const O_SYSCALL = H.syscall.offset;
const O_FLAGS = H.flags.offset;
const O_TS = H.timestamp_ns.offset;
const O_CONN = H.conn_id.offset;
const O_CGROUP = H.cgroup_id.offset;
const O_TGID = H.tgid.offset;
const O_TID = H.tid.offset;
const O_FD = H.fd.offset;
const O_GEN = H.generation.offset;
const O_NETNS = H.netns_ino.offset;
const O_ROLE = H.role.offset;
const O_DIR = H.direction.offset;
const O_LADDR = TUPLE + T.local_addr.offset;
const O_PADDR = TUPLE + T.peer_addr.offset;
const O_LPORT = TUPLE + T.local_port.offset;
const O_PPORT = TUPLE + T.peer_port.offset;
const O_FAMILY = TUPLE + T.family.offset;

const DATA_SIZE = S.mp_data_event.size;
const O_BYTES = S.mp_data_event.fields.byte_count.offset;
const O_CAPTURED = S.mp_data_event.fields.captured.offset;
const O_DURATION = S.mp_data_event.fields.duration_ns.offset;
const OPEN_SIZE = S.mp_open_event.size;
const CLOSE_SIZE = S.mp_close_event.size;
const O_CLOSE_OPEN = S.mp_close_event.fields.open_ns.offset;
const O_CLOSE_EGRESS = S.mp_close_event.fields.bytes_egress.offset;
const O_CLOSE_INGRESS = S.mp_close_event.fields.bytes_ingress.offset;
const FAILED_SIZE = S.mp_connect_failed_event.size;
const O_FAILED_STARTED = S.mp_connect_failed_event.fields.started_ns.offset;
const O_FAILED_ERROR = S.mp_connect_failed_event.fields.error.offset;
const STATS = S.mp_stats_record.fields;
const STATS_SIZE = S.mp_stats_record.size;
const READY = S.mp_ready_record.fields;
const READY_SIZE = S.mp_ready_record.size;
const TLS_LIBRARY = S.mp_tls_library_record.fields;
const TLS_LIBRARY_SIZE = S.mp_tls_library_record.size;
const NAT = S.mp_nat_record.fields;
const NAT_SIZE = S.mp_nat_record.size;

const FRAME_HEADER = LAYOUT.constants.FRAME_HEADER_SIZE;
/** Larger than any record the loader writes (a DATA record with CAPTURE_MAX bytes is ~8.3 KiB). */
export const MAX_FRAME_SIZE = 1 << 16;

// Enum code -> name tables (arrays: one bounds-checked load per record). -----------------------------
function table<T extends string>(
  entries: Record<string, number>,
  name: (key: string) => T,
  fallback: T,
): T[] {
  const out: T[] = [];
  for (const [key, code] of Object.entries(entries)) if (key !== '_MAX') out[code] = name(key);
  for (let i = 0; i < out.length; i++) if (out[i] === undefined) out[i] = fallback;
  return out;
}
const SYSCALL_NAMES = table<SyscallName>(Syscall, (k) => k.toLowerCase() as SyscallName, 'none');
const DIRECTION_NAMES = table<DirectionName>(Direction, (k) => k.toLowerCase() as DirectionName, 'none');
const ROLE_NAMES = table<RoleName>(Role, (k) => k.toLowerCase() as RoleName, 'unknown');
const DROP_REASON_NAMES = Object.entries(DropReason)
  .filter(([name]) => name !== '_MAX')
  .sort((a, b) => a[1] - b[1])
  .map(([name]) => name as DropReasonName);

const ERRNO_NAMES = new Map<number, string>();
for (const [name, code] of Object.entries(osConstants.errno))
  if (!ERRNO_NAMES.has(code)) ERRNO_NAMES.set(code, name);

// Flags: every combination of the defined bits is one shared frozen object. ---------------------------
const FLAG_MASK = Object.values(Flag).reduce((a, b) => a | b, 0);
const flagCache: RecordFlags[] = [];
function flagsOf(bits: number): RecordFlags {
  const key = bits & FLAG_MASK;
  let flags = flagCache[key];
  if (flags === undefined) {
    flags = Object.freeze({
      messageStart: (key & Flag.MSG_START) !== 0,
      response: (key & Flag.MSG_RESPONSE) !== 0,
      truncated: (key & Flag.TRUNCATED) !== 0,
      chunkTerminator: (key & Flag.CHUNK_END) !== 0,
      readFailed: (key & Flag.READ_FAILED) !== 0,
      iovLimit: (key & Flag.IOV_LIMIT) !== 0,
      roleInferred: (key & Flag.ROLE_INFERRED) !== 0,
      preexisting: (key & Flag.PREEXISTING) !== 0,
      v4Mapped: (key & Flag.V4_MAPPED) !== 0,
      async: (key & Flag.ASYNC) !== 0,
      tls: (key & Flag.TLS) !== 0,
    });
    flagCache[key] = flags;
  }
  return flags;
}

// Addresses. -----------------------------------------------------------------------------------------
/** RFC 5952 text of 8 16-bit groups: lowercase, longest run (>= 2) of zero groups as "::". */
export function formatIPv6(groups: ArrayLike<number>): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  // ::ffff:a.b.c.d keeps its dotted tail (RFC 5952 section 5).
  if (bestStart === 0 && bestLen === 5 && groups[5] === 0xffff) {
    const a = groups[6]!;
    const b = groups[7]!;
    return `::ffff:${a >>> 8}.${a & 0xff}.${b >>> 8}.${b & 0xff}`;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    out += groups[i]!.toString(16);
    if (i < 7) out += ':';
  }
  return out;
}

const ADDRESS_CACHE_LIMIT = 4096;

// The decoder. ---------------------------------------------------------------------------------------
export class RecordDecoder {
  readonly counters: DecoderCounters = { records: 0, malformed: 0, truncatedBytes: 0 };

  // A frame split across chunks: its 4-byte length first, then the frame of exactly that size.
  #head = new Uint8Array(FRAME_HEADER);
  #headFilled = 0;
  #frame: Uint8Array | null = null;
  #frameFilled = 0;

  #v4Cache = new Map<number, string>();
  #v6Cache = new Map<string, string>();
  #groups = new Uint16Array(8);

  /** Decode every complete record in `chunk` (plus one completed from the previous chunk). */
  push(chunk: Uint8Array): LoaderRecord[] {
    const out: LoaderRecord[] = [];
    let off = 0;
    if (this.#headFilled > 0 || this.#frame !== null) {
      off = this.#continueSplit(chunk, out);
      if (off === chunk.length) return out;
    }
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const end = chunk.length;
    while (off + FRAME_HEADER <= end) {
      const size = view.getUint32(off, true);
      if (size > MAX_FRAME_SIZE) throw new RecordStreamError(`frame of ${size} bytes at offset ${off}`);
      const start = off + FRAME_HEADER;
      if (start + size > end) break;
      this.#decode(view, chunk, start, size, out);
      off = start + size;
    }
    if (off < end) this.#continueSplit(chunk.subarray(off), out);
    return out;
  }

  /**
   * The stream ended. Returns how many bytes of an incomplete last frame were discarded (also added
   * to `counters.truncatedBytes`); 0 for a clean end.
   */
  end(): number {
    const dangling = this.#headFilled + this.#frameFilled;
    this.#headFilled = 0;
    this.#frame = null;
    this.#frameFilled = 0;
    this.counters.truncatedBytes += dangling;
    return dangling;
  }

  /** Feed the start of `bytes` into the split frame; returns how many bytes were used. */
  #continueSplit(bytes: Uint8Array, out: LoaderRecord[]): number {
    let used = 0;
    if (this.#frame === null) {
      const take = Math.min(FRAME_HEADER - this.#headFilled, bytes.length);
      this.#head.set(bytes.subarray(0, take), this.#headFilled);
      this.#headFilled += take;
      used = take;
      if (this.#headFilled < FRAME_HEADER) return used;
      const size = new DataView(this.#head.buffer).getUint32(0, true);
      if (size > MAX_FRAME_SIZE) throw new RecordStreamError(`frame of ${size} bytes across chunks`);
      this.#frame = new Uint8Array(size);
      this.#frameFilled = 0;
    }
    const frame = this.#frame;
    const take = Math.min(frame.length - this.#frameFilled, bytes.length - used);
    frame.set(bytes.subarray(used, used + take), this.#frameFilled);
    this.#frameFilled += take;
    used += take;
    if (this.#frameFilled < frame.length) return used;
    this.#frame = null;
    this.#frameFilled = 0;
    this.#headFilled = 0;
    this.#decode(new DataView(frame.buffer), frame, 0, frame.length, out);
    return used;
  }

  #decode(view: DataView, bytes: Uint8Array, off: number, size: number, out: LoaderRecord[]): void {
    if (size < 2) {
      this.counters.malformed++;
      return;
    }
    const record = this.#decodeRecord(view, bytes, off, size, view.getUint16(off + O_KIND, true));
    if (record === null) {
      this.counters.malformed++;
      return;
    }
    this.counters.records++;
    out.push(record);
  }

  #decodeRecord(
    view: DataView,
    bytes: Uint8Array,
    off: number,
    size: number,
    kind: number,
  ): LoaderRecord | null {
    switch (kind) {
      case RecordKind.DATA: {
        if (size < DATA_SIZE) return null;
        const captured = view.getUint32(off + O_CAPTURED, true);
        if (DATA_SIZE + captured !== size) return null;
        // The hot path: one object literal, no intermediate header object to spread.
        const start = off + DATA_SIZE;
        const bits = view.getUint32(off + O_FLAGS, true);
        const family = view.getUint16(off + O_FAMILY, true) === Family.INET6 ? 6 : 4;
        return {
          kind: 'data',
          tgid: view.getUint32(off + O_TGID, true),
          tid: view.getUint32(off + O_TID, true),
          fd: view.getInt32(off + O_FD, true),
          connId: readU64(view, off + O_CONN),
          generation: view.getUint32(off + O_GEN, true),
          timestampNs: view.getBigUint64(off + O_TS, true),
          direction: DIRECTION_NAMES[bytes[off + O_DIR]!] ?? 'none',
          role: ROLE_NAMES[bytes[off + O_ROLE]!] ?? 'unknown',
          roleInferred: (bits & Flag.ROLE_INFERRED) !== 0,
          family,
          localAddr: this.#address(view, off + O_LADDR, family),
          localPort: view.getUint16(off + O_LPORT, true),
          peerAddr: this.#address(view, off + O_PADDR, family),
          peerPort: view.getUint16(off + O_PPORT, true),
          cgroupId: view.getBigUint64(off + O_CGROUP, true),
          netnsInode: view.getUint32(off + O_NETNS, true),
          syscall: SYSCALL_NAMES[view.getUint16(off + O_SYSCALL, true)] ?? 'none',
          flags: flagsOf(bits),
          flagBits: bits,
          byteCount: view.getUint32(off + O_BYTES, true),
          captured: bytes.subarray(start, start + captured),
          durationNs: view.getUint32(off + O_DURATION, true),
        };
      }
      case RecordKind.OPEN:
        if (size !== OPEN_SIZE) return null;
        return { kind: 'open', ...this.#header(view, bytes, off) };
      case RecordKind.CLOSE:
        if (size !== CLOSE_SIZE) return null;
        return {
          kind: 'close',
          ...this.#header(view, bytes, off),
          openNs: view.getBigUint64(off + O_CLOSE_OPEN, true),
          bytesEgress: readU64(view, off + O_CLOSE_EGRESS),
          bytesIngress: readU64(view, off + O_CLOSE_INGRESS),
        };
      case RecordKind.CONNECT_FAILED: {
        if (size !== FAILED_SIZE) return null;
        const errno = view.getInt32(off + O_FAILED_ERROR, true);
        return {
          kind: 'connect_failed',
          ...this.#header(view, bytes, off),
          startedNs: view.getBigUint64(off + O_FAILED_STARTED, true),
          errno,
          errorCode: ERRNO_NAMES.get(errno) ?? `E${errno}`,
        };
      }
      case RecordKind.STATS:
        return size === STATS_SIZE ? decodeStats(view, off) : null;
      case RecordKind.READY:
        return size === READY_SIZE ? decodeReady(view, off) : null;
      case RecordKind.TLS_LIBRARY:
        return size === TLS_LIBRARY_SIZE ? decodeTlsLibrary(view, bytes, off) : null;
      case RecordKind.NAT: {
        if (size !== NAT_SIZE) return null;
        const family = view.getUint16(off + NAT.family.offset, true) === Family.INET6 ? 6 : 4;
        return {
          kind: 'nat',
          connId: readU64(view, off + NAT.conn_id.offset),
          addr: this.#address(view, off + NAT.addr.offset, family),
          port: view.getUint16(off + NAT.port.offset, true),
        };
      }
      default:
        return null;
    }
  }

  /** The common header, for the rare kinds (DATA builds its literal inline). */
  #header(view: DataView, bytes: Uint8Array, off: number): ConnRecordBase {
    const bits = view.getUint32(off + O_FLAGS, true);
    const family = view.getUint16(off + O_FAMILY, true) === Family.INET6 ? 6 : 4;
    return {
      tgid: view.getUint32(off + O_TGID, true),
      tid: view.getUint32(off + O_TID, true),
      fd: view.getInt32(off + O_FD, true),
      connId: readU64(view, off + O_CONN),
      generation: view.getUint32(off + O_GEN, true),
      timestampNs: view.getBigUint64(off + O_TS, true),
      direction: DIRECTION_NAMES[bytes[off + O_DIR]!] ?? 'none',
      role: ROLE_NAMES[bytes[off + O_ROLE]!] ?? 'unknown',
      roleInferred: (bits & Flag.ROLE_INFERRED) !== 0,
      family,
      localAddr: this.#address(view, off + O_LADDR, family),
      localPort: view.getUint16(off + O_LPORT, true),
      peerAddr: this.#address(view, off + O_PADDR, family),
      peerPort: view.getUint16(off + O_PPORT, true),
      cgroupId: view.getBigUint64(off + O_CGROUP, true),
      netnsInode: view.getUint32(off + O_NETNS, true),
      syscall: SYSCALL_NAMES[view.getUint16(off + O_SYSCALL, true)] ?? 'none',
      flags: flagsOf(bits),
      flagBits: bits,
    };
  }

  /** Address text, cached: a node talks to few distinct peers, and each record repeats its tuple. */
  #address(view: DataView, off: number, family: 4 | 6): string {
    if (family === 4) {
      const v = view.getUint32(off, false);
      let text = this.#v4Cache.get(v);
      if (text === undefined) {
        text = `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
        if (this.#v4Cache.size >= ADDRESS_CACHE_LIMIT) this.#v4Cache.clear();
        this.#v4Cache.set(v, text);
      }
      return text;
    }
    const g = this.#groups;
    for (let i = 0; i < 8; i++) g[i] = view.getUint16(off + 2 * i, false);
    const key = `${g[0]},${g[1]},${g[2]},${g[3]},${g[4]},${g[5]},${g[6]},${g[7]}`;
    let text = this.#v6Cache.get(key);
    if (text === undefined) {
      text = formatIPv6(g);
      if (this.#v6Cache.size >= ADDRESS_CACHE_LIMIT) this.#v6Cache.clear();
      this.#v6Cache.set(key, text);
    }
    return text;
  }
}

/** u64 counter as a number: exact below 2^53, which no counter or connection id reaches in practice. */
function readU64(view: DataView, off: number): number {
  return view.getUint32(off, true) + view.getUint32(off + 4, true) * 0x1_0000_0000;
}

function decodeStats(view: DataView, off: number): StatsRecord {
  const kernelDrops = {} as Record<DropReasonName, number>;
  const reasons = Math.min(
    view.getUint32(off + STATS.nr_drop_reasons.offset, true),
    DROP_REASON_NAMES.length,
  );
  for (let i = 0; i < DROP_REASON_NAMES.length; i++) {
    kernelDrops[DROP_REASON_NAMES[i]!] =
      i < reasons ? readU64(view, off + STATS.kernel_drops.offset + 8 * i) : 0;
  }
  return {
    kind: 'stats',
    monotonicNs: view.getBigUint64(off + STATS.monotonic_ns.offset, true),
    realtimeNs: view.getBigUint64(off + STATS.realtime_ns.offset, true),
    ringRecords: readU64(view, off + STATS.ring_records.offset),
    ringBytes: readU64(view, off + STATS.ring_bytes.offset),
    forwardedRecords: readU64(view, off + STATS.forwarded_records.offset),
    forwardedBytes: readU64(view, off + STATS.forwarded_bytes.offset),
    loaderDroppedRecords: readU64(view, off + STATS.loader_dropped_records.offset),
    loaderDroppedBytes: readU64(view, off + STATS.loader_dropped_bytes.offset),
    kernelDrops,
  };
}

function decodeReady(view: DataView, off: number): ReadyRecord {
  const features = view.getUint32(off + READY.features.offset, true);
  return {
    kind: 'ready',
    abiVersion: view.getUint16(off + READY.abi_version.offset, true),
    loaderTgid: view.getUint32(off + READY.loader_tgid.offset, true),
    captureCap: view.getUint32(off + READY.capture_cap.offset, true),
    ringBytes: view.getUint32(off + READY.ring_bytes.offset, true),
    pollMs: view.getUint32(off + READY.poll_ms.offset, true),
    features: {
      asyncConnect: (features & Feature.ASYNC_CONNECT) !== 0,
      tls: (features & Feature.TLS) !== 0,
    },
    monotonicNs: view.getBigUint64(off + READY.monotonic_ns.offset, true),
    realtimeNs: view.getBigUint64(off + READY.realtime_ns.offset, true),
  };
}

const TLS_STATE_NAMES = table<TlsLibraryStateName | 'none'>(
  TlsLibraryState,
  (k) => k.toLowerCase() as TlsLibraryStateName,
  'none',
);
const TLS_FUNCTION_NAMES = Object.entries(TlsFunction).map(
  ([name, bit]) =>
    [bit, name.replace(/^SSL_(.*)$/, (_, rest: string) => `SSL_${rest.toLowerCase()}`)] as const,
);

function decodeTlsLibrary(view: DataView, bytes: Uint8Array, off: number): TlsLibraryRecord | null {
  const state = TLS_STATE_NAMES[view.getUint16(off + TLS_LIBRARY.state.offset, true)] ?? 'none';
  if (state === 'none') return null;
  const bits = view.getUint32(off + TLS_LIBRARY.functions.offset, true);
  const errno = view.getInt32(off + TLS_LIBRARY.error.offset, true);
  const pathStart = off + TLS_LIBRARY.path.offset;
  const path = bytes.subarray(pathStart, pathStart + TLS_LIBRARY.path.size);
  const end = path.indexOf(0);
  return {
    kind: 'tls_library',
    state,
    tgid: view.getUint32(off + TLS_LIBRARY.tgid.offset, true),
    functions: TLS_FUNCTION_NAMES.filter(([bit]) => (bits & bit) !== 0).map(([, name]) => name),
    error: errno === 0 ? null : (ERRNO_NAMES.get(errno) ?? `E${errno}`),
    dev: readU64(view, off + TLS_LIBRARY.dev.offset),
    ino: readU64(view, off + TLS_LIBRARY.ino.offset),
    path: Buffer.from(end < 0 ? path : path.subarray(0, end)).toString('utf8'),
  };
}
