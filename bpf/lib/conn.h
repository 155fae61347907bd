/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * conn.h — connection identity: conn ids, generations, and the conn-info lifecycle.
 */
#ifndef MP_CONN_H
#define MP_CONN_H

#include "common.h"
#include "filters.h"
#include "maps/conns.h"
#include "maps/drops.h"
#include "maps/scratch.h"
#include "sock.h"

/* Source of conn ids: unique for the lifetime of the loaded programs (one loader run).
 * Starts at 1 so that 0 can mean "no connection" (CONNECT_FAILED). */
__u64 mp_next_conn_id = 0;

/* (Re)initialise the entry of (tgid, fd) for socket sk: a new connection on this fd,
 * with the next generation of the slot. `old` is the previous entry, if any. */
static __always_inline struct mp_conn_info *
mp_conn_init(struct mp_scratch *s, struct mp_conn_key *key, const struct mp_conn_info *old,
	     struct sock *sk, __u64 now, __u8 role, __u16 open_syscall)
{
	struct mp_conn_info *ci = &s->conn;

	__builtin_memset(ci, 0, sizeof(*ci));
	ci->sk = (__u64)sk;
	ci->conn_id = __sync_fetch_and_add(&mp_next_conn_id, 1) + 1;
	ci->generation = old ? old->generation + 1 : 1;
	ci->open_ns = now;
	ci->role = role;
	ci->open_syscall = open_syscall;
	if (role == MP_ROLE_UNKNOWN)
		ci->flags = MP_F_PREEXISTING;
	mp_read_tuple(sk, &ci->tuple, &ci->flags);
	ci->netns_ino = mp_sock_netns(sk);
	ci->state = mp_traced(key->tgid, ci->tuple.local_port, ci->tuple.peer_port)
			    ? MP_CONN_UNDECIDED
			    : MP_CONN_IGNORED;
	if (bpf_map_update_elem(&mp_conns, key, ci, BPF_ANY)) {
		mp_count_drop(MP_DROP_CONN_MAP_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&mp_conns, key);
}

/* The entry for (tgid, fd) if it still describes socket sk; otherwise the fd was reused
 * behind our back (or the connection predates the capture) and a new connection starts
 * here with an unknown role. */
static __always_inline struct mp_conn_info *mp_conn_get(struct mp_scratch *s, __u32 tgid,
							 __s32 fd, struct sock *sk, __u64 now)
{
	struct mp_conn_key key = {.tgid = tgid, .fd = fd};
	struct mp_conn_info *ci = bpf_map_lookup_elem(&mp_conns, &key);

	if (ci && ci->sk == (__u64)sk)
		return ci;
	return mp_conn_init(s, &key, ci, sk, now, MP_ROLE_UNKNOWN, MP_SYS_NONE);
}

#endif
