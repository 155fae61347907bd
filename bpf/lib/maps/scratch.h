/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mp_scratch — per-CPU working memory, too large for the 512-byte BPF stack.
 *
 * A data record is assembled here (header immediately followed by the payload) and
 * handed to bpf_ringbuf_output() with its exact size, so a 100-byte read costs 100 bytes
 * of ring, not a fixed 4 KiB reservation. The payload area is 2 * MP_CAPTURE_MAX: copies
 * land at `offset & (MP_CAPTURE_MAX - 1)` with length <= MP_CAPTURE_MAX, which the
 * verifier can prove in bounds. Syscall tracepoint programs run with preemption
 * disabled and never nest on a CPU, so one slot per CPU is enough.
 *
 * Size: one ~17 KiB value per CPU.
 */
#ifndef MP_MAP_SCRATCH_H
#define MP_MAP_SCRATCH_H

#include "../common.h"
#include "conns.h"

/* struct iovec of the 64-bit user ABI (compat syscalls never reach syscall tracepoints). */
struct mp_iov {
	__u64 base;
	__u64 len;
};

/* Which iovecs of the current syscall s->iov holds (bpf/lib/capture.h): a window of at most
 * MP_IOV_MAX, [first, first + nr), of the user array at `user` (0: a flat buffer in iov[0]). */
struct mp_iov_cursor {
	__u64 user;
	__u32 vlen;  /* iovecs of the syscall */
	__u32 first;
	__u32 nr;
	__u32 _pad0;
	__u64 tail;  /* mp_ends_chunked_body(): the last bytes gathered so far */
	__u64 pos;   /* ... and the buffer offset of iovec `first` */
};

/* Where the HTTP/2 walk of one buffer is (bpf/lib/h2.h). */
struct mp_h2_walk {
	struct mp_h2_dir st;  /* the direction's frame position, written back at the end */
	__u64 iov_user;       /* user address of the iovec array (0: flat buffer in iov[0]) */
	__u32 vlen;           /* iovecs of the syscall (capped at MP_H2_IOV_MAX + 1) */
	__u32 loaded;         /* iovecs [loaded - window, loaded) are in iov[] */
	__u32 window;
	__u32 iov;            /* current iovec (absolute index) and offset in it */
	__u32 ioff;
	__u32 pos;            /* bytes of the buffer walked, of len */
	__u32 len;
	__u32 out;            /* bytes copied into the current record */
	__u32 rec_start;      /* buffer offset where the current record starts */
	__u32 rec_flags;      /* flags of the current record */
};

struct mp_scratch {
	struct mp_iov iov[MP_IOV_MAX];
	struct mp_iov_cursor cur;
	struct mp_h2_walk h2;
	struct mp_conn_info conn;
	struct mp_data_event data;
	__u8 payload[2 * MP_CAPTURE_MAX];
};

_Static_assert(__builtin_offsetof(struct mp_scratch, payload) ==
		       __builtin_offsetof(struct mp_scratch, data) + sizeof(struct mp_data_event),
	       "the payload must directly follow the data record header");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mp_scratch);
} mp_scratch SEC(".maps");

static __always_inline struct mp_scratch *mp_scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&mp_scratch, &zero);
}

#endif
