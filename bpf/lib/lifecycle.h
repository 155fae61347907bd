/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lifecycle.h — connect(), accept(), close() and failed handshakes.
 *
 * connect()/accept() give a connection its role and open timestamp and start a new
 * generation of the (tgid, fd) slot. Nothing is emitted for them: most TCP connections
 * on a node are not HTTP/1.x, so OPEN waits for the first message (data.h).
 */
#ifndef MP_LIFECYCLE_H
#define MP_LIFECYCLE_H

#include "common.h"
#include "config.h"
#include "conn.h"
#include "emit.h"
#include "filters.h"
#include "maps/conns.h"
#include "maps/pending_connects.h"
#include "maps/syscall_args.h"
#include "sock.h"

static __always_inline void mp_emit_connect_failed(const struct mp_pending_connect *p,
						   struct sock *sk, __u16 syscall, __u32 flags,
						   __s32 error, __u64 now)
{
	struct mp_connect_failed_event ev = {};
	struct mp_conn_tuple local;
	__u32 local_flags = 0;

	ev.hdr.kind = MP_REC_CONNECT_FAILED;
	ev.hdr.syscall = syscall;
	ev.hdr.flags = flags;
	ev.hdr.timestamp_ns = now;
	ev.hdr.cgroup_id = p->cgroup_id;
	ev.hdr.tgid = p->tgid;
	ev.hdr.tid = p->tid;
	ev.hdr.fd = p->fd;
	ev.hdr.netns_ino = mp_sock_netns(sk);
	ev.hdr.role = MP_ROLE_CLIENT;
	/* Peer from connect()'s argument. Local as the state-change hook saw it (the
	 * kernel releases the port right after), else from the socket. */
	ev.hdr.tuple = p->peer;
	if (!ev.hdr.tuple.local_port) {
		mp_read_tuple(sk, &local, &local_flags);
		if (local.family == ev.hdr.tuple.family)
			__builtin_memcpy(ev.hdr.tuple.local_addr, local.local_addr, 16);
		ev.hdr.tuple.local_port = local.local_port;
	}
	ev.started_ns = p->started_ns;
	ev.error = error;
	mp_submit(&ev, sizeof(ev));
}

/* sys_enter_connect: stash the socket and the destination. */
static __always_inline void mp_connect_enter(__s32 fd, __u64 uaddr)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct mp_syscall_args a = {};
	struct mp_pending_connect p = {};
	struct sock *sk = mp_tcp_sock_from_fd(fd);
	__u64 key;

	if (!sk)
		return;
	a.buf = uaddr;
	a.sk = (__u64)sk;
	a.fd = fd;
	a.syscall = MP_SYS_CONNECT;
	a.enter_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&mp_syscall_args, &pid_tgid, &a, BPF_ANY)) {
		mp_count_drop(MP_DROP_ARGS_MAP_FULL);
		return;
	}
	if (!mp_track_async_connect)
		return;
	if (mp_read_user_sockaddr(uaddr, &p.peer, &p.flags))
		return;
	if (!mp_traced(pid_tgid >> 32, 0, p.peer.peer_port))
		return;
	p.started_ns = a.enter_ns;
	p.cgroup_id = bpf_get_current_cgroup_id();
	p.tgid = pid_tgid >> 32;
	p.tid = (__u32)pid_tgid;
	p.fd = fd;
	p.state = MP_PENDING_IN_CALL;
	key = (__u64)sk;
	/* NOEXIST: a repeated connect() on a socket whose handshake is under way
	 * (EALREADY) must not reset the first attempt's start time or state. */
	if (bpf_map_update_elem(&mp_pending_connects, &key, &p, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&mp_pending_connects, &key))
		mp_count_drop(MP_DROP_PENDING_MAP_FULL);
}

/* sys_exit_connect. 0: connected. EINPROGRESS (non-blocking) and EINTR (blocking,
 * interrupted: the handshake goes on): a connection is on its way. EALREADY/EISCONN:
 * a repeated call on such a socket, nothing new. Anything else: it failed. */
static __always_inline void mp_connect_exit(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct mp_syscall_args *stash = bpf_map_lookup_elem(&mp_syscall_args, &pid_tgid);
	struct mp_syscall_args a;
	struct mp_pending_connect *p;
	struct mp_scratch *s;
	__u64 now, key;

	if (!stash)
		return;
	a = *stash;
	bpf_map_delete_elem(&mp_syscall_args, &pid_tgid);
	if (a.syscall != MP_SYS_CONNECT || ret == -EALREADY || ret == -EISCONN)
		return;
	now = bpf_ktime_get_ns();
	key = a.sk;

	if (ret == 0 || ret == -EINPROGRESS || ret == -EINTR) {
		struct mp_conn_key ck = {.tgid = pid_tgid >> 32, .fd = a.fd};

		s = mp_scratch_get();
		if (!s) {
			mp_count_drop(MP_DROP_SCRATCH);
			return;
		}
		mp_conn_init(s, &ck, bpf_map_lookup_elem(&mp_conns, &ck), (struct sock *)a.sk, now,
			     MP_ROLE_CLIENT, MP_SYS_CONNECT);
		if (!mp_track_async_connect)
			return;
		p = bpf_map_lookup_elem(&mp_pending_connects, &key);
		if (!p)
			return;
		if (ret == 0) {
			bpf_map_delete_elem(&mp_pending_connects, &key);
			return;
		}
		/* Hand the handshake over to the state-change hook, unless it already
		 * failed inside this call (loopback RST). */
		if (__sync_val_compare_and_swap(&p->state, MP_PENDING_IN_CALL, MP_PENDING_WAITING) ==
		    MP_PENDING_FAILED_IN_CALL) {
			mp_emit_connect_failed(p, (struct sock *)a.sk, MP_SYS_NONE,
					       p->flags | MP_F_ASYNC, p->error, now);
			bpf_map_delete_elem(&mp_pending_connects, &key);
		}
		return;
	}

	/* Synchronous failure (ECONNREFUSED on a blocking socket, ENETUNREACH, ...). */
	{
		struct mp_pending_connect local = {};
		__u32 flags = 0;

		if (mp_track_async_connect)
			bpf_map_delete_elem(&mp_pending_connects, &key);
		if (mp_read_user_sockaddr(a.buf, &local.peer, &flags))
			return;
		if (!mp_traced(pid_tgid >> 32, 0, local.peer.peer_port))
			return;
		local.started_ns = a.enter_ns;
		local.cgroup_id = bpf_get_current_cgroup_id();
		local.tgid = pid_tgid >> 32;
		local.tid = (__u32)pid_tgid;
		local.fd = a.fd;
		mp_emit_connect_failed(&local, (struct sock *)a.sk, MP_SYS_CONNECT, flags, -ret, now);
	}
}

/* sock:inet_sock_set_state — only SYN_SENT transitions of connects we track. */
static __always_inline void mp_tcp_state_change(const struct trace_event_raw_inet_sock_set_state *ctx)
{
	const void *skaddr = ctx->skaddr;
	struct mp_pending_connect *p;
	__u64 key = (__u64)skaddr;
	int newstate = ctx->newstate;
	struct mp_conn_tuple local;
	__u32 local_flags = 0;
	__s32 error;

	if (ctx->protocol != IPPROTO_TCP || ctx->oldstate != TCP_SYN_SENT)
		return;
	p = bpf_map_lookup_elem(&mp_pending_connects, &key);
	if (!p)
		return;
	if (newstate != TCP_CLOSE) {
		bpf_map_delete_elem(&mp_pending_connects, &key);
		return;
	}
	/* tcp_reset()/tcp_write_err() set sk_err before tcp_done() changes the state. A
	 * zero error means the application closed the socket while connecting. */
	error = BPF_CORE_READ((struct sock *)skaddr, sk_err);
	if (!error) {
		bpf_map_delete_elem(&mp_pending_connects, &key);
		return;
	}
	p->error = error;
	/* The local address from the socket; the port from the tracepoint, which copies
	 * inet_sport: the state change has already released the bound port (inet_num). */
	mp_read_tuple((struct sock *)skaddr, &local, &local_flags);
	if (local.family == p->peer.family)
		__builtin_memcpy(p->peer.local_addr, local.local_addr, 16);
	p->peer.local_port = ctx->sport;
	if (__sync_val_compare_and_swap(&p->state, MP_PENDING_IN_CALL, MP_PENDING_FAILED_IN_CALL) ==
	    MP_PENDING_IN_CALL)
		return; /* connect() is still running; its exit reports the failure */
	mp_emit_connect_failed(p, (struct sock *)skaddr, MP_SYS_NONE, p->flags | MP_F_ASYNC, error,
			       bpf_ktime_get_ns());
	bpf_map_delete_elem(&mp_pending_connects, &key);
}

/* sys_exit_accept/accept4: a server-side connection on the returned fd. */
static __always_inline void mp_accept_exit(long ret, __u16 syscall)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct mp_conn_key key = {.tgid = pid_tgid >> 32, .fd = ret};
	struct mp_scratch *s;
	struct sock *sk;

	if (ret < 0)
		return;
	sk = mp_tcp_sock_from_fd(ret);
	if (!sk)
		return;
	s = mp_scratch_get();
	if (!s) {
		mp_count_drop(MP_DROP_SCRATCH);
		return;
	}
	mp_conn_init(s, &key, bpf_map_lookup_elem(&mp_conns, &key), sk, bpf_ktime_get_ns(),
		     MP_ROLE_SERVER, syscall);
}

/* sys_enter_close: the fd is still valid here; close() cannot fail in a way that keeps
 * it open (even EINTR releases the fd on Linux). */
static __always_inline void mp_close_enter(__s32 fd)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct mp_conn_key key = {.tgid = pid_tgid >> 32, .fd = fd};
	struct mp_conn_info *ci = bpf_map_lookup_elem(&mp_conns, &key);

	if (!ci || ci->state == MP_CONN_CLOSED)
		return;
	if (ci->open_emitted)
		mp_emit_close(ci, pid_tgid, fd, bpf_ktime_get_ns());
	if (mp_track_async_connect && ci->role == MP_ROLE_CLIENT) {
		__u64 sk = ci->sk;

		bpf_map_delete_elem(&mp_pending_connects, &sk);
	}
	ci->state = MP_CONN_CLOSED;
	ci->sk = 0;
}

#endif
