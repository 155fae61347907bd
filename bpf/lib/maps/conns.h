/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mp_conns — what we know about each TCP socket a process does I/O on, keyed by
 * (tgid, fd).
 *
 * Why (tgid, fd) and not the socket: every hook starts from a syscall's fd argument, and
 * the fd table is per process. Fds are reused, so each entry remembers the struct sock it
 * was made for; when the fd now points at another socket (reuse we did not see: dup2,
 * exec closing O_CLOEXEC fds, close_range, fds inherited or passed over SCM_RIGHTS) the
 * entry is re-initialised with generation + 1, exactly as after close()+connect().
 *
 * Entries also cache the verdict on non-HTTP TCP (MP_CONN_OPAQUE) and filtered traffic
 * (MP_CONN_IGNORED), so a Kafka or Redis connection costs one fd walk and one lookup per
 * syscall and nothing else. Closed entries stay (MP_CONN_CLOSED) to carry the generation
 * to the fd's next connection; being least recently used they are the first evicted.
 *
 * Size: 65536 entries (--max-conns), ~14 MiB with hash overhead (32 bytes of it HTTP/2
 * frame state: no second lookup on the data path): every TCP fd doing
 * I/O on the node at once. LRU because a connection can vanish without a close() we see
 * (process killed, fd table torn down at exit); an evicted live connection comes back as
 * a new generation whose role is inferred (MP_F_PREEXISTING).
 */
#ifndef MP_MAP_CONNS_H
#define MP_MAP_CONNS_H

#include "../common.h"

struct mp_conn_key {
	__u32 tgid;
	__s32 fd;
};

enum mp_conn_state {
	MP_CONN_UNDECIDED = 0, /* TCP, no HTTP/1.x message start seen yet */
	MP_CONN_L7 = 1,        /* HTTP/1.x or HTTP/2 (MP_F_H2) seen: data records are emitted */
	MP_CONN_OPAQUE = 2,    /* neither: ignored until the fd is reused */
	MP_CONN_IGNORED = 3,   /* excluded by a filter */
	MP_CONN_CLOSED = 4,    /* close() seen; kept for its generation */
};

/* Where one direction of an HTTP/2 connection is in its frames (bpf/lib/h2.h). */
struct mp_h2_dir {
	__u32 left;            /* payload bytes of the current frame still to come */
	__u32 copy;            /* of which the first `copy` are copied (the rest is DATA) */
	__u8 have;             /* bytes seen of a frame header split across buffers */
	__u8 sync;             /* frame boundaries known */
	__u8 hdr[6];           /* its first bytes: length (3), type, flags */
};

struct mp_conn_info {
	__u64 sk;              /* struct sock address: identity of the socket behind the fd */
	__u64 conn_id;
	__u64 open_ns;         /* connect()/accept() exit, or first sight */
	__u64 bytes[2];        /* traced bytes, indexed by direction - 1 */
	struct mp_conn_tuple tuple;
	__u32 netns_ino;
	__u32 generation;
	__u32 budget[2];       /* copy budget left for the current message, by direction - 1 */
	__u32 undecided;       /* buffers seen while MP_CONN_UNDECIDED */
	__u32 open_emitted;    /* 0 -> 1 once the OPEN record is out (cmpxchg) */
	__u32 flags;           /* connection-level MP_F_* copied into every record */
	__u8 state;            /* enum mp_conn_state */
	__u8 role;             /* enum mp_role */
	__u16 open_syscall;    /* enum mp_syscall that opened it, MP_SYS_NONE if unseen */
	struct mp_h2_dir h2[2]; /* HTTP/2 (MP_F_H2): frame position, by direction - 1 */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct mp_conn_key);
	__type(value, struct mp_conn_info);
} mp_conns SEC(".maps");

#endif
