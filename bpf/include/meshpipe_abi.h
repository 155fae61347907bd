/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * meshpipe_abi.h — the one contract between the in-kernel capture, the loader and the
 * TypeScript agent.
 *
 * Everything that crosses the kernel/user boundary (ring-buffer records) or the
 * loader/agent boundary (framed stdout stream, stats, exit codes) is defined here and
 * nowhere else. The TypeScript mirror is collectors/capture/loader/record-layout.ts; the test
 * test/collectors/capture/loader/record-layout.test.ts compares it against
 * `meshpipe-loader --layout`, which prints sizeof/offsetof of every field below.
 *
 * Rules (Cilium style): fixed-width types only, natural alignment, padding written out
 * as `_padN` fields, never `__attribute__((packed))`. Records are little-endian as
 * produced by the host; meshpipe only supports little-endian 64-bit hosts (x86-64,
 * arm64), which is checked at compile time in the loader.
 *
 * Bump MP_ABI_VERSION on any incompatible change; the loader announces it in its READY
 * record and the agent refuses a version it does not know.
 */
#ifndef MESHPIPE_ABI_H
#define MESHPIPE_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define MP_ABI_VERSION 3

/* ---------------------------------------------------------------------------------------
 * Limits
 */

/* Default per-message copy budget (--cap-bytes). Large enough for the request line and
 * headers of nearly all HTTP/1.x messages (nginx's default large header buffer is 8 KiB,
 * typical API traffic is far below 4 KiB). */
#define MP_CAPTURE_DEFAULT 4096

/* Upper bound for --cap-bytes. The per-CPU scratch record holds 2 * MP_CAPTURE_MAX
 * payload bytes so the verifier can prove `offset + length` in bounds with two
 * independent masks, and per-CPU map values are limited to 32 KiB. */
#define MP_CAPTURE_MAX 8192

/* iovecs read from user memory at a time (one probe read of the array per window). */
#define MP_IOV_MAX 8

/* iovecs walked per readv/writev/sendmsg/recvmsg, window after window: the kernel's own limit
 * (UIO_MAXIOV), so a syscall that succeeded is walked whole. Node writes a response's head and
 * body chunks in one writev (2-30 iovecs; a chunked body is 3 iovecs per chunk). Bytes past
 * this many iovecs would be neither captured nor checked for the chunked terminator
 * (MP_F_IOV_LIMIT and MP_DROP_IOV_LIMIT). */
#define MP_IOV_WALK_MAX 1024

/* Data buffers seen on a connection that predates the capture before we give up
 * looking for an HTTP/1.x message start and treat it as opaque. Such a connection may
 * be in the middle of a large body when we attach, hence more than one buffer. */
#define MP_UNDECIDED_LIMIT 128

/* HTTP/2: bytes of each DATA frame's payload copied in MP_F_H2_ELIDED records
 * (--h2-data-bytes): the gRPC message prefix (a flag byte and a 4-byte length). */
#define MP_H2_DATA_DEFAULT 5
/* Upper bound for --h2-data-bytes. */
#define MP_H2_DATA_MAX 4096

/* ---------------------------------------------------------------------------------------
 * Enumerations. Values are wire format: never renumber, only append.
 */

/* What a record is. DATA/OPEN/CLOSE/CONNECT_FAILED come from the kernel; STATS, READY, NAT
 * and TLS_LIBRARY are written by the loader into the same stream. */
enum mp_record_kind {
	MP_REC_DATA = 1,
	MP_REC_OPEN = 2,
	MP_REC_CLOSE = 3,
	MP_REC_CONNECT_FAILED = 4,
	MP_REC_STATS = 5,
	MP_REC_READY = 6,
	MP_REC_NAT = 7,
	MP_REC_TLS_LIBRARY = 8,
};

/* The syscall a record was produced by. MP_SYS_NONE marks records not tied to a syscall
 * of the process (an asynchronous connect failure seen on a TCP state change). */
enum mp_syscall {
	MP_SYS_NONE = 0,
	MP_SYS_READ = 1,
	MP_SYS_WRITE = 2,
	MP_SYS_READV = 3,
	MP_SYS_WRITEV = 4,
	MP_SYS_SENDTO = 5,
	MP_SYS_RECVFROM = 6,
	MP_SYS_SENDMSG = 7,
	MP_SYS_RECVMSG = 8,
	MP_SYS_SENDFILE = 9,
	MP_SYS_CONNECT = 10,
	MP_SYS_ACCEPT = 11,
	MP_SYS_ACCEPT4 = 12,
	MP_SYS_CLOSE = 13,
	/* Not syscalls: OpenSSL calls whose plaintext a uprobe read (MP_F_TLS connections). */
	MP_SYS_SSL_READ = 14,  /* SSL_read, SSL_read_ex */
	MP_SYS_SSL_WRITE = 15, /* SSL_write, SSL_write_ex */
};

enum mp_direction {
	MP_DIR_NONE = 0,
	MP_DIR_EGRESS = 1,  /* the process wrote/sent */
	MP_DIR_INGRESS = 2, /* the process read/received */
};

enum mp_role {
	MP_ROLE_UNKNOWN = 0,
	MP_ROLE_CLIENT = 1, /* connect() seen, or inferred (MP_F_ROLE_INFERRED) */
	MP_ROLE_SERVER = 2, /* accept() seen, or inferred */
};

/* Address families as the kernel numbers them (AF_INET, AF_INET6). */
enum mp_family {
	MP_FAMILY_INET = 2,
	MP_FAMILY_INET6 = 10,
};

/* mp_event_header.flags */
enum mp_flags {
	MP_F_MSG_START = 1 << 0,     /* buffer begins with an HTTP/1.x request or status line */
	MP_F_MSG_RESPONSE = 1 << 1,  /* ... and it is a status line ("HTTP/1.x ") */
	MP_F_TRUNCATED = 1 << 2,     /* captured < byte_count: the rest was not copied */
	MP_F_CHUNK_END = 1 << 3,     /* uncopied tail ends with the chunked terminator */
	MP_F_READ_FAILED = 1 << 4,   /* copying from user memory failed: payload absent */
	MP_F_IOV_LIMIT = 1 << 5,     /* data spans more than MP_IOV_WALK_MAX iovecs */
	MP_F_ROLE_INFERRED = 1 << 6, /* role guessed from the first HTTP message seen */
	MP_F_PREEXISTING = 1 << 7,   /* opened before capture: OPEN timestamp is first sight */
	MP_F_V4_MAPPED = 1 << 8,     /* AF_INET6 socket carrying IPv4: reported as IPv4 */
	MP_F_ASYNC = 1 << 9,         /* CONNECT_FAILED learnt from the handshake, not connect() */
	MP_F_TLS = 1 << 10,          /* TLS connection: its data records are OpenSSL's plaintext */
	/* HTTP/2 (bits from 12 on: 10 and 11 are TLS's). Payload layout: bpf/lib/h2.h. */
	MP_F_H2 = 1 << 12,            /* the connection carries HTTP/2 (every record of it) */
	MP_F_H2_ELIDED = 1 << 13,     /* payload: the buffer without DATA payloads past their
				       * first --h2-data-bytes; byte_count covers what it spans */
	MP_F_H2_FRAME_START = 1 << 14, /* payload begins at a frame boundary (kernel in sync) */
};

/* Why something was not captured, or not whole. Indexes of the per-CPU counter array
 * (mp_drops) and of mp_stats_record.kernel_drops. Every reason is a counter, never a log line.
 *
 * Two kinds, told apart by MP_DROP_TRUNCATIONS: a loss (a record, a syscall or a connection
 * that user space never hears of) and a truncation (the record is emitted, flagged
 * MP_F_IOV_LIMIT or MP_F_READ_FAILED, with fewer payload bytes than the copy budget wanted).
 * User space counts them apart (meshpipe_collector_dropped_total / _truncated_total), and only
 * losses make the collector's status degraded. */
enum mp_drop_reason {
	MP_DROP_RINGBUF_FULL = 0,    /* loss: ring buffer full, the loader is behind */
	MP_DROP_CONN_MAP_FULL = 1,   /* loss: conn-info insert failed, connection not traced */
	MP_DROP_ARGS_MAP_FULL = 2,   /* loss: syscall-args stash full, one syscall not traced */
	MP_DROP_PENDING_MAP_FULL = 3, /* loss: pending-connect map full, async failure unseen */
	MP_DROP_READ_USER = 4,       /* loss: a msghdr or sockaddr unreadable, syscall skipped */
	MP_DROP_READ_KERNEL = 5,     /* loss: reading kernel memory failed (socket walk) */
	MP_DROP_IOV_LIMIT = 6,       /* truncation: more iovecs than MP_IOV_WALK_MAX */
	MP_DROP_CONN_MISMATCH = 7,   /* loss: fd closed/reused between syscall enter and exit */
	MP_DROP_SCRATCH = 8,         /* loss: per-CPU scratch lookup failed (cannot happen) */
	MP_DROP_TLS_UNBOUND = 9,     /* loss: TLS plaintext of an SSL* not yet tied to its socket */
	MP_DROP_TLS_NOTICE = 10,     /* loss: library-discovery notice lost, a library attaches late */
	MP_DROP_READ_PAYLOAD = 11,   /* truncation: payload bytes or the iovec array unreadable */
	MP_DROP__MAX = 12,
};

/* The reasons that are truncations (bit i: reason i); every other reason is a loss. */
#define MP_DROP_TRUNCATIONS ((1u << MP_DROP_IOV_LIMIT) | (1u << MP_DROP_READ_PAYLOAD))

/* Exit status of meshpipe-loader; collectors/capture/loader/loader-process.ts maps each to a
 * typed error with the fix. */
enum mp_exit_code {
	MP_EXIT_OK = 0,         /* stopped by SIGTERM/SIGINT or stdin closed */
	MP_EXIT_INTERNAL = 1,   /* unexpected failure (out of memory, epoll, ...) */
	MP_EXIT_USAGE = 2,      /* bad command line */
	MP_EXIT_NO_BTF = 3,     /* no kernel BTF: needs CONFIG_DEBUG_INFO_BTF or --btf */
	MP_EXIT_PERMISSION = 4, /* not root / missing CAP_BPF, CAP_PERFMON, CAP_SYS_RESOURCE */
	MP_EXIT_TRACEFS = 5,    /* tracefs absent and could not be mounted */
	MP_EXIT_KERNEL = 6,     /* the kernel refused a program, map or tracepoint */
};

/* mp_ready_record.features */
enum mp_feature {
	MP_FEAT_ASYNC_CONNECT = 1 << 0, /* sock:inet_sock_set_state attached */
	MP_FEAT_TLS = 1 << 1,           /* TLS plaintext capture on (uprobes on OpenSSL) */
};

/* mp_tls_library_record.state: what the loader did with a TLS library it found. */
enum mp_tls_library_state {
	MP_TLS_ATTACHED = 1,    /* OpenSSL found, uprobes attached (every process mapping the file) */
	MP_TLS_DETACHED = 2,    /* no process maps it any more: uprobes removed */
	MP_TLS_FAILED = 3,      /* OpenSSL found, attaching failed (error) */
	MP_TLS_UNSUPPORTED = 4, /* a TLS library meshpipe does not read (BoringSSL) */
};

/* mp_tls_library_record.functions: the OpenSSL functions probed. */
enum mp_tls_function {
	MP_TLS_FN_SSL_READ = 1 << 0,
	MP_TLS_FN_SSL_READ_EX = 1 << 1,
	MP_TLS_FN_SSL_WRITE = 1 << 2,
	MP_TLS_FN_SSL_WRITE_EX = 1 << 3,
	MP_TLS_FN_SSL_DO_HANDSHAKE = 1 << 4,
};

/* Bytes of mp_tls_library_record.path, NUL included; longer paths are cut. */
#define MP_TLS_PATH_MAX 224

/* ---------------------------------------------------------------------------------------
 * Records. The framed stream is a sequence of [__u32 length][record of `length` bytes],
 * little-endian, no padding between frames. Every record starts with a __u16 kind.
 */

/* The connection 4-tuple as the socket sees it. IPv4 addresses occupy the first 4 bytes
 * of the 16-byte arrays (network order), the rest is zero. */
struct mp_conn_tuple {
	__u8 local_addr[16];
	__u8 peer_addr[16];
	__u16 local_port; /* host byte order */
	__u16 peer_port;  /* host byte order */
	__u16 family;     /* enum mp_family */
	__u16 _pad0;
};

/* Common head of DATA, OPEN, CLOSE and CONNECT_FAILED. */
struct mp_event_header {
	__u16 kind;           /* enum mp_record_kind */
	__u16 syscall;        /* enum mp_syscall */
	__u32 flags;          /* enum mp_flags */
	__u64 timestamp_ns;   /* bpf_ktime_get_ns() (CLOCK_MONOTONIC): see each record */
	__u64 conn_id;        /* unique per connection for the lifetime of the loaded programs */
	__u64 cgroup_id;      /* cgroup v2 id of the current task (bpf_get_current_cgroup_id) */
	__u32 tgid;           /* process id */
	__u32 tid;            /* thread id */
	__s32 fd;
	__u32 generation;     /* how many connections this (tgid, fd) slot has carried */
	__u32 netns_ino;      /* inode of the socket's network namespace (/proc/PID/ns/net) */
	__u8 role;            /* enum mp_role */
	__u8 direction;       /* enum mp_direction (MP_DIR_NONE for lifecycle records) */
	__u16 _pad0;
	struct mp_conn_tuple tuple;
};

/* MP_REC_DATA: one successful data syscall on an HTTP/1.x or HTTP/2 connection.
 * timestamp_ns is the syscall exit; the syscall entered duration_ns earlier.
 * The record is followed by `captured` payload bytes (the frame length is
 * sizeof(struct mp_data_event) + captured). On HTTP/2 a large buffer may be reported by
 * several records of the same syscall whose byte_counts add up to its return value. */
struct mp_data_event {
	struct mp_event_header hdr;
	__u32 byte_count;  /* syscall return value: bytes transferred */
	__u32 captured;    /* payload bytes following this struct (<= capture cap) */
	__u32 duration_ns; /* syscall enter to exit, saturated at 2^32-1 */
	__u32 _pad0;
};

/* MP_REC_OPEN: emitted right before the first DATA record of a connection.
 * timestamp_ns is the connect()/accept() exit, or the first sight of a connection that
 * predates the capture (MP_F_PREEXISTING). */
struct mp_open_event {
	struct mp_event_header hdr;
};

/* MP_REC_CLOSE: close() of a connection that produced an OPEN. timestamp_ns is the
 * close() entry. Byte totals count the traced data syscalls only. */
struct mp_close_event {
	struct mp_event_header hdr;
	__u64 open_ns;
	__u64 bytes_egress;
	__u64 bytes_ingress;
};

/* MP_REC_CONNECT_FAILED: a TCP connect() that failed. Synchronously (connect() returned
 * an error other than EINPROGRESS: timestamp_ns is the connect() exit) or, with
 * MP_F_ASYNC, when the handshake of a non-blocking connect failed (timestamp_ns is the
 * state change; tid/cgroup are those of the task that called connect()). */
struct mp_connect_failed_event {
	struct mp_event_header hdr;
	__u64 started_ns; /* connect() entry */
	__s32 error;      /* positive errno: ECONNREFUSED, ETIMEDOUT, ENETUNREACH, ... */
	__u32 _pad0;
};

/* MP_REC_STATS: written by the loader every --stats-ms. Counters are cumulative since
 * the loader started (monotonic; a lost stats record loses no information). */
struct mp_stats_record {
	__u16 kind;
	__u16 _pad0;
	__u32 nr_drop_reasons;           /* MP_DROP__MAX at build time */
	__u64 monotonic_ns;              /* CLOCK_MONOTONIC, the clock of timestamp_ns */
	__u64 realtime_ns;               /* CLOCK_REALTIME sampled with monotonic_ns */
	__u64 ring_records;              /* records consumed from the ring buffer */
	__u64 ring_bytes;
	__u64 forwarded_records;         /* records queued to stdout (excl. STATS/READY) */
	__u64 forwarded_bytes;
	__u64 loader_dropped_records;    /* dropped in user space: stdout too slow */
	__u64 loader_dropped_bytes;
	__u64 kernel_drops[MP_DROP__MAX]; /* per-CPU mp_drops summed, by enum mp_drop_reason */
};

/* MP_REC_READY: first record of the stream, written once all programs are attached. */
struct mp_ready_record {
	__u16 kind;
	__u16 abi_version;  /* MP_ABI_VERSION */
	__u32 loader_tgid;
	__u32 capture_cap;
	__u32 ring_bytes;
	__u32 poll_ms;
	__u32 features;     /* enum mp_feature */
	__u64 monotonic_ns; /* with realtime_ns: converts timestamp_ns to wall-clock time */
	__u64 realtime_ns;
};

/* MP_REC_NAT: written by the loader (--conntrack) right before the OPEN of a CLIENT connection
 * whose destination conntrack says was translated on its way (DNAT: a Kubernetes ClusterIP),
 * with the address the connection really reached (loader/conntrack.h). */
struct mp_nat_record {
	__u16 kind;
	__u16 family;  /* enum mp_family */
	__u32 _pad0;
	__u64 conn_id; /* the OPEN's conn_id */
	__u8 addr[16]; /* as in struct mp_conn_tuple */
	__u16 port;    /* host byte order */
	__u16 _pad1;
	__u32 _pad2;
};

/* MP_REC_TLS_LIBRARY: written by the loader when it attaches to a TLS library (a libssl, or an
 * executable with OpenSSL linked in, such as node), detaches from it, fails, or finds one it does
 * not support. Files are identified as the kernel does (s_dev, i_ino): one per inode. */
struct mp_tls_library_record {
	__u16 kind;
	__u16 state;       /* enum mp_tls_library_state */
	__u32 tgid;        /* a process mapping the file when it was found (0: found on disk) */
	__u32 functions;   /* enum mp_tls_function bits probed (ATTACHED) or found */
	__s32 error;       /* positive errno of a failed attach (FAILED), else 0 */
	__u64 dev;         /* the file's device as the kernel encodes it (major << 20 | minor) */
	__u64 ino;
	char path[MP_TLS_PATH_MAX]; /* as the process sees it (its mount namespace), NUL-terminated */
};

/* The loader's verdict on a file, written into the kernel's mp_tls_files map (loader -> kernel). */
enum mp_tls_verdict {
	MP_TLS_FILE_OTHER = 1,   /* not OpenSSL (or not supported): no more notices about it */
	MP_TLS_FILE_OPENSSL = 2, /* OpenSSL: a notice for every process that maps it */
};

enum mp_tls_notice_kind {
	MP_TLS_NOTICE_EXEC = 1, /* the file is the process's new executable */
	MP_TLS_NOTICE_MMAP = 2, /* the process mapped the file (a shared library) */
};

/* Kernel -> loader only (never forwarded to the agent): "process tgid maps file (dev, ino) as
 * executable code" for a file the loader has not classified yet, or one that is OpenSSL (so the
 * loader knows who uses it). Sent on exec (the executable) and on mmap(PROT_EXEC) of a file. */
struct mp_tls_notice {
	__u32 tgid;
	__u32 kind; /* enum mp_tls_notice_kind */
	__u64 dev;  /* super_block.s_dev (major << 20 | minor) */
	__u64 ino;
};

#endif /* MESHPIPE_ABI_H */
