/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mp_pending_connects — TCP connects whose handshake has not finished, keyed by the
 * struct sock address.
 *
 * Most clients connect non-blocking: connect() returns EINPROGRESS and a refused or timed
 * out handshake is only visible later, as SYN_SENT -> CLOSE on sock:inet_sock_set_state,
 * which runs in softirq context without the process. This map carries the process side
 * (tgid, fd, peer, start time) from connect() to that state change.
 *
 * `state` closes a race on loopback, where the whole handshake (or the RST) happens
 * inside connect(): the failure is recorded as MP_PENDING_FAILED_IN_CALL and the
 * connect() exit reports it, so each failure is emitted exactly once (cmpxchg).
 *
 * Size: 8192 handshakes in flight (~1.3 MiB). LRU: an entry whose state change we never
 * see (socket torn down by process exit) must not leak.
 */
#ifndef MP_MAP_PENDING_CONNECTS_H
#define MP_MAP_PENDING_CONNECTS_H

#include "../common.h"

enum mp_pending_state {
	MP_PENDING_IN_CALL = 1,        /* connect() has not returned yet */
	MP_PENDING_WAITING = 2,        /* connect() returned EINPROGRESS */
	MP_PENDING_FAILED_IN_CALL = 3, /* handshake failed before connect() returned */
};

struct mp_pending_connect {
	__u64 started_ns;
	__u64 cgroup_id;
	struct mp_conn_tuple peer; /* peer address from connect()'s sockaddr */
	__u32 tgid;
	__u32 tid;
	__s32 fd;
	__u32 state;               /* enum mp_pending_state */
	__s32 error;
	__u32 flags;               /* MP_F_V4_MAPPED */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct mp_pending_connect);
} mp_pending_connects SEC(".maps");

#endif
