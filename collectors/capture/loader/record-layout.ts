/**
 * The TypeScript mirror of bpf/include/meshpipe_abi.h — keep in sync with that header.
 *
 * `LAYOUT` has exactly the shape that `meshpipe-loader --layout` prints (the compiler's own
 * sizeof/offsetof), and test/collectors/capture/loader/record-layout.test.ts asserts the two are equal, so a
 * change to the header that is not made here fails the build instead of corrupting records.
 *
 * Stream format (loader stdout): frames of [u32 little-endian length][record of `length` bytes], back
 * to back. Every record starts with a u16 `kind`. DATA records are followed, inside the same frame, by
 * `captured` payload bytes.
 */

export const LAYOUT = {
  abiVersion: 3,
  constants: {
    CAPTURE_DEFAULT: 4096,
    CAPTURE_MAX: 8192,
    IOV_MAX: 8,
    IOV_WALK_MAX: 1024,
    UNDECIDED_LIMIT: 128,
    H2_DATA_DEFAULT: 5,
    H2_DATA_MAX: 4096,
    FRAME_HEADER_SIZE: 4,
    TLS_PATH_MAX: 224,
    /** Drop reasons that are truncations (bit i: reason i): the record came, shortened. The rest are losses. */
    DROP_TRUNCATIONS: 2112,
  },
  structs: {
    mp_conn_tuple: {
      size: 40,
      fields: {
        local_addr: { offset: 0, size: 16 },
        peer_addr: { offset: 16, size: 16 },
        local_port: { offset: 32, size: 2 },
        peer_port: { offset: 34, size: 2 },
        family: { offset: 36, size: 2 },
        _pad0: { offset: 38, size: 2 },
      },
    },
    mp_event_header: {
      size: 96,
      fields: {
        kind: { offset: 0, size: 2 },
        syscall: { offset: 2, size: 2 },
        flags: { offset: 4, size: 4 },
        timestamp_ns: { offset: 8, size: 8 },
        conn_id: { offset: 16, size: 8 },
        cgroup_id: { offset: 24, size: 8 },
        tgid: { offset: 32, size: 4 },
        tid: { offset: 36, size: 4 },
        fd: { offset: 40, size: 4 },
        generation: { offset: 44, size: 4 },
        netns_ino: { offset: 48, size: 4 },
        role: { offset: 52, size: 1 },
        direction: { offset: 53, size: 1 },
        _pad0: { offset: 54, size: 2 },
        tuple: { offset: 56, size: 40 },
      },
    },
    mp_data_event: {
      size: 112,
      fields: {
        hdr: { offset: 0, size: 96 },
        byte_count: { offset: 96, size: 4 },
        captured: { offset: 100, size: 4 },
        duration_ns: { offset: 104, size: 4 },
        _pad0: { offset: 108, size: 4 },
      },
    },
    mp_open_event: {
      size: 96,
      fields: {
        hdr: { offset: 0, size: 96 },
      },
    },
    mp_close_event: {
      size: 120,
      fields: {
        hdr: { offset: 0, size: 96 },
        open_ns: { offset: 96, size: 8 },
        bytes_egress: { offset: 104, size: 8 },
        bytes_ingress: { offset: 112, size: 8 },
      },
    },
    mp_connect_failed_event: {
      size: 112,
      fields: {
        hdr: { offset: 0, size: 96 },
        started_ns: { offset: 96, size: 8 },
        error: { offset: 104, size: 4 },
        _pad0: { offset: 108, size: 4 },
      },
    },
    mp_stats_record: {
      size: 168,
      fields: {
        kind: { offset: 0, size: 2 },
        _pad0: { offset: 2, size: 2 },
        nr_drop_reasons: { offset: 4, size: 4 },
        monotonic_ns: { offset: 8, size: 8 },
        realtime_ns: { offset: 16, size: 8 },
        ring_records: { offset: 24, size: 8 },
        ring_bytes: { offset: 32, size: 8 },
        forwarded_records: { offset: 40, size: 8 },
        forwarded_bytes: { offset: 48, size: 8 },
        loader_dropped_records: { offset: 56, size: 8 },
        loader_dropped_bytes: { offset: 64, size: 8 },
        kernel_drops: { offset: 72, size: 96 },
      },
    },
    mp_ready_record: {
      size: 40,
      fields: {
        kind: { offset: 0, size: 2 },
        abi_version: { offset: 2, size: 2 },
        loader_tgid: { offset: 4, size: 4 },
        capture_cap: { offset: 8, size: 4 },
        ring_bytes: { offset: 12, size: 4 },
        poll_ms: { offset: 16, size: 4 },
        features: { offset: 20, size: 4 },
        monotonic_ns: { offset: 24, size: 8 },
        realtime_ns: { offset: 32, size: 8 },
      },
    },
    mp_nat_record: {
      size: 40,
      fields: {
        kind: { offset: 0, size: 2 },
        family: { offset: 2, size: 2 },
        _pad0: { offset: 4, size: 4 },
        conn_id: { offset: 8, size: 8 },
        addr: { offset: 16, size: 16 },
        port: { offset: 32, size: 2 },
        _pad1: { offset: 34, size: 2 },
        _pad2: { offset: 36, size: 4 },
      },
    },
    mp_tls_library_record: {
      size: 256,
      fields: {
        kind: { offset: 0, size: 2 },
        state: { offset: 2, size: 2 },
        tgid: { offset: 4, size: 4 },
        functions: { offset: 8, size: 4 },
        error: { offset: 12, size: 4 },
        dev: { offset: 16, size: 8 },
        ino: { offset: 24, size: 8 },
        path: { offset: 32, size: 224 },
      },
    },
  },
  enums: {
    recordKind: {
      DATA: 1,
      OPEN: 2,
      CLOSE: 3,
      CONNECT_FAILED: 4,
      STATS: 5,
      READY: 6,
      NAT: 7,
      TLS_LIBRARY: 8,
    },
    syscall: {
      NONE: 0,
      READ: 1,
      WRITE: 2,
      READV: 3,
      WRITEV: 4,
      SENDTO: 5,
      RECVFROM: 6,
      SENDMSG: 7,
      RECVMSG: 8,
      SENDFILE: 9,
      CONNECT: 10,
      ACCEPT: 11,
      ACCEPT4: 12,
      CLOSE: 13,
      SSL_READ: 14,
      SSL_WRITE: 15,
    },
    direction: { NONE: 0, EGRESS: 1, INGRESS: 2 },
    role: { UNKNOWN: 0, CLIENT: 1, SERVER: 2 },
    family: { INET: 2, INET6: 10 },
    flags: {
      MSG_START: 1,
      MSG_RESPONSE: 2,
      TRUNCATED: 4,
      CHUNK_END: 8,
      READ_FAILED: 16,
      IOV_LIMIT: 32,
      ROLE_INFERRED: 64,
      PREEXISTING: 128,
      V4_MAPPED: 256,
      ASYNC: 512,
      TLS: 1024,
      H2: 4096,
      H2_ELIDED: 8192,
      H2_FRAME_START: 16384,
    },
    dropReason: {
      RINGBUF_FULL: 0,
      CONN_MAP_FULL: 1,
      ARGS_MAP_FULL: 2,
      PENDING_MAP_FULL: 3,
      READ_USER: 4,
      READ_KERNEL: 5,
      IOV_LIMIT: 6,
      CONN_MISMATCH: 7,
      SCRATCH: 8,
      TLS_UNBOUND: 9,
      TLS_NOTICE: 10,
      READ_PAYLOAD: 11,
      _MAX: 12,
    },
    exitCode: {
      OK: 0,
      INTERNAL: 1,
      USAGE: 2,
      NO_BTF: 3,
      PERMISSION: 4,
      TRACEFS: 5,
      KERNEL: 6,
    },
    feature: { ASYNC_CONNECT: 1, TLS: 2 },
    tlsLibraryState: { ATTACHED: 1, DETACHED: 2, FAILED: 3, UNSUPPORTED: 4 },
    tlsFunction: { SSL_READ: 1, SSL_READ_EX: 2, SSL_WRITE: 4, SSL_WRITE_EX: 8, SSL_DO_HANDSHAKE: 16 },
  },
} as const;

export type StructName = keyof typeof LAYOUT.structs;

/** Record kinds (`enum mp_record_kind`). */
export const RecordKind = LAYOUT.enums.recordKind;
/** Syscalls that produce records (`enum mp_syscall`). */
export const Syscall = LAYOUT.enums.syscall;
/** `enum mp_direction`. */
export const Direction = LAYOUT.enums.direction;
/** `enum mp_role`. */
export const Role = LAYOUT.enums.role;
/** Address families as the kernel numbers them (`enum mp_family`: AF_INET, AF_INET6). */
export const Family = LAYOUT.enums.family;
/** Bits of `mp_event_header.flags` (`enum mp_flags`). */
export const Flag = LAYOUT.enums.flags;
/** Index of each kernel drop counter (`enum mp_drop_reason`); `_MAX` is the count. */
export const DropReason = LAYOUT.enums.dropReason;
/** meshpipe-loader exit codes (`enum mp_exit_code`). */
export const LoaderExitCode = LAYOUT.enums.exitCode;
/** Bits of the READY record's `features` (`enum mp_feature`). */
export const Feature = LAYOUT.enums.feature;
/** What the loader did with a TLS library (`enum mp_tls_library_state`). */
export const TlsLibraryState = LAYOUT.enums.tlsLibraryState;
/** Bits of the OpenSSL functions probed (`enum mp_tls_function`). */
export const TlsFunction = LAYOUT.enums.tlsFunction;

export type DropReasonName = Exclude<keyof typeof DropReason, '_MAX'>;

/**
 * Is a kernel drop reason a truncation (the record was emitted, flagged, with fewer payload bytes than
 * the copy budget wanted: IOV_LIMIT, READ_PAYLOAD) rather than a loss (`MP_DROP_TRUNCATIONS`)?
 */
export function isTruncationReason(reason: DropReasonName): boolean {
  return (LAYOUT.constants.DROP_TRUNCATIONS & (1 << DropReason[reason])) !== 0;
}

export type SyscallName = keyof typeof Syscall;

/** Offset of `field` in `struct name`. */
export function offsetOf<S extends StructName>(
  name: S,
  field: keyof (typeof LAYOUT.structs)[S]['fields'],
): number {
  const fields = LAYOUT.structs[name].fields as Record<PropertyKey, { offset: number }>;
  return fields[field as PropertyKey]!.offset;
}

/** sizeof(struct name). */
export function sizeOf(name: StructName): number {
  return LAYOUT.structs[name].size;
}
