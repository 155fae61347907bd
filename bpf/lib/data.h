/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * data.h — the data path: classify a connection, apply the copy budget, emit DATA.
 *
 * Per connection and direction there is a copy budget of mp_capture_cap bytes. A buffer
 * that starts an HTTP/1.x message resets it; buffers are copied while budget is left,
 * so a head written (or read) in several pieces still arrives whole, and once it is
 * spent, records carry lengths only. Body bytes past the head therefore never leave the
 * kernel unless the head itself was small, and user space still sees every byte count.
 *
 * HTTP/2 connections (the client preface, the server's SETTINGS, or frames that chain on a
 * connection that predates the capture) follow their frames instead of a budget: h2.h.
 *
 * Connections that never show a message start emit nothing at all:
 *  - seen from connect()/accept(): the first buffer decides. HTTP/1.x always starts with
 *    a request line (client) or is answered with a status line; TLS, Kafka, Redis, SSH
 *    do not, and are marked opaque on their first byte count.
 *  - opened before the capture: we may be mid-body, so keep looking for up to
 *    MP_UNDECIDED_LIMIT buffers before giving up.
 */
#ifndef MP_DATA_H
#define MP_DATA_H

#include "capture.h"
#include "common.h"
#include "config.h"
#include "conn.h"
#include "emit.h"
#include "h2.h"
#include "http.h"
#include "maps/conns.h"
#include "maps/scratch.h"
#include "maps/syscall_args.h"
#include "tls.h"

/* For a connection first seen mid-stream: who writes a request is the client. */
static __always_inline __u8 mp_infer_role(__u32 start, __u8 dir)
{
	bool response = start & MP_F_MSG_RESPONSE;

	return (dir == MP_DIR_EGRESS) != response ? MP_ROLE_CLIENT : MP_ROLE_SERVER;
}

/* Whether a buffer in direction dir of connection ci starts a message: the classification list,
 * or, on a connection already HTTP/1.x and in the direction that carries its requests, a request
 * line with any method (http.h). Classification stays with the list: a token and a space open too
 * many other protocols' first buffers to decide what a connection is. */
static __always_inline __u32 mp_message_start(const struct mp_conn_info *ci, __u64 word, __u32 avail,
					      __u8 dir)
{
	__u32 start = mp_http_message_start(word, avail);

	if (!start && ci->state == MP_CONN_L7 && !(ci->flags & MP_F_H2) &&
	    (dir == MP_DIR_EGRESS) == (ci->role == MP_ROLE_CLIENT) && mp_http_token_method(word, avail))
		start = MP_F_MSG_START;
	return start;
}

/* Decide what a buffer means for the connection's state. Returns false if nothing is
 * to be emitted. `start` is the result of mp_http_message_start(). */
static __always_inline bool mp_classify(struct mp_conn_info *ci, __u32 start, __u32 avail,
					__u8 dir)
{
	if (ci->state == MP_CONN_L7)
		return true;
	if (ci->state != MP_CONN_UNDECIDED)
		return false;
	if (!start) {
		/* A buffer too short to hold any token (< 8 bytes) proves nothing. */
		if (!(ci->flags & MP_F_PREEXISTING) && avail >= 8)
			ci->state = MP_CONN_OPAQUE;
		else if (++ci->undecided >= MP_UNDECIDED_LIMIT)
			ci->state = MP_CONN_OPAQUE;
		return false;
	}
	if (ci->role == MP_ROLE_UNKNOWN) {
		ci->role = mp_infer_role(start, dir);
		ci->flags |= MP_F_ROLE_INFERRED;
	}
	ci->state = MP_CONN_L7;
	return true;
}

/* Syscall exit of a data syscall that moved len (> 0) bytes on connection ci. */
static __always_inline void mp_handle_data(struct mp_scratch *s, struct mp_conn_info *ci,
					   const struct mp_syscall_args *a, __u32 len, __u8 dir,
					   __u64 pid_tgid, __u64 now)
{
	struct mp_data_event *ev = &s->data;
	__u32 idx = (dir - 1) & 1;
	__u32 nr = 0, avail = 0, start = 0, flags = 0, want, captured = 0;
	__u64 duration;

	if (a->syscall == MP_SYS_SENDFILE) {
		/* File data is not in user memory: only its length is reported, and it
		 * cannot classify a connection. */
		if (ci->state != MP_CONN_L7)
			return;
	} else {
		nr = mp_load_iov(s, a, len);
		if (nr) {
			__u64 word = mp_peek(s, len, &avail);

			start = mp_message_start(ci, word, avail, dir);
			if (!start && ci->state == MP_CONN_UNDECIDED)
				mp_h2_detect(s, ci, word, avail, nr, len, dir);
		}
		if (!mp_classify(ci, start, avail, dir))
			return;
		if (!nr)
			flags |= MP_F_READ_FAILED;
	}

	mp_emit_open(ci, pid_tgid, a->fd);

	if (ci->flags & MP_F_H2) {
		mp_fill_header(&ev->hdr, MP_REC_DATA, a->syscall, ci, pid_tgid, a->fd, now);
		ev->hdr.direction = dir;
		duration = now - a->enter_ns;
		ev->duration_ns = duration > 0xffffffff ? 0xffffffff : duration;
		ev->_pad0 = 0;
		ci->bytes[idx] += len;
		mp_h2_handle(s, ci, a, nr, len, dir);
		return;
	}

	if (start)
		ci->budget[idx] = mp_capture_cap;
	want = MP_MIN(len, ci->budget[idx]);
	ci->budget[idx] -= want;
	ci->bytes[idx] += len;
	if (nr && want) {
		__u32 copy = mp_copy_payload(s, want);

		captured = copy & MP_COPY_BYTES_MASK;
		if (copy & MP_COPY_READ_FAILED)
			flags |= MP_F_READ_FAILED;
		if (copy & MP_COPY_IOV_LIMIT)
			flags |= MP_F_IOV_LIMIT;
	}
	if (captured < len) {
		flags |= MP_F_TRUNCATED;
		if (nr && mp_ends_chunked_body(s, len))
			flags |= MP_F_CHUNK_END;
	}

	mp_fill_header(&ev->hdr, MP_REC_DATA, a->syscall, ci, pid_tgid, a->fd, now);
	ev->hdr.flags |= flags | start;
	ev->hdr.direction = dir;
	duration = now - a->enter_ns;
	ev->duration_ns = duration > 0xffffffff ? 0xffffffff : duration;
	ev->byte_count = len;
	ev->_pad0 = 0;
	if (captured > MP_CAPTURE_MAX)
		captured = MP_CAPTURE_MAX;
	barrier_var(captured);
	ev->captured = captured;
	mp_submit(ev, sizeof(*ev) + captured);
}

/* How a data syscall describes its buffer. */
enum mp_buf_kind {
	MP_BUF_FLAT = 0,   /* buf, len */
	MP_BUF_IOVEC = 1,  /* struct iovec *, count */
	MP_BUF_MSGHDR = 2, /* struct msghdr * (sendmsg/recvmsg) */
};

/* struct msghdr of the 64-bit user ABI, up to the iovec fields. */
struct mp_user_msghdr {
	__u64 msg_name;
	__u32 msg_namelen;
	__u32 _pad0;
	__u64 msg_iov;
	__u64 msg_iovlen;
};

/* sys_enter_* of a data syscall: stash the arguments if fd is a TCP connection that may
 * carry HTTP/1.x. Everything else returns here, before any map write; the order of the
 * checks puts the cheapest rejection of the commonest case (not a TCP socket) first. */
static __always_inline void mp_data_enter(__u16 syscall, __s32 fd, __u64 buf, __u64 vlen,
					  enum mp_buf_kind kind)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct mp_syscall_args a = {};
	struct mp_conn_info *ci;
	struct mp_scratch *s;
	struct sock *sk;
	__u64 now;

	sk = mp_tcp_sock_from_fd(fd);
	if (!sk)
		return;
	s = mp_scratch_get();
	if (!s) {
		mp_count_drop(MP_DROP_SCRATCH);
		return;
	}
	now = bpf_ktime_get_ns();
	ci = mp_conn_get(s, pid_tgid >> 32, fd, sk, now);
	if (!ci)
		return;
	/* A TLS connection's syscalls carry ciphertext: its plaintext is reported by the uprobes
	 * (tls.h), which this syscall may tie to the socket. */
	if (mp_tls_enabled && mp_tls_on_syscall(s, ci, pid_tgid, fd, syscall))
		return;
	if (ci->state > MP_CONN_L7)
		return;
	if (kind == MP_BUF_MSGHDR) {
		struct mp_user_msghdr msg;

		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)buf)) {
			/* The syscall is not traced at all: a loss, unlike an unreadable payload. */
			mp_count_drop(MP_DROP_READ_USER);
			return;
		}
		buf = msg.msg_iov;
		vlen = msg.msg_iovlen;
	}
	a.buf = buf;
	a.conn_id = ci->conn_id;
	a.enter_ns = now;
	a.fd = fd;
	a.vlen = vlen > MP_H2_IOV_MAX ? MP_H2_IOV_MAX + 1 : vlen;
	a.syscall = syscall;
	a.vectored = kind != MP_BUF_FLAT;
	if (bpf_map_update_elem(&mp_syscall_args, &pid_tgid, &a, BPF_ANY))
		mp_count_drop(MP_DROP_ARGS_MAP_FULL);
}

/* sys_exit_* of a data syscall. */
static __always_inline void mp_data_exit(long ret, __u8 dir)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct mp_syscall_args *stash = bpf_map_lookup_elem(&mp_syscall_args, &pid_tgid);
	struct mp_conn_key key;
	struct mp_syscall_args a;
	struct mp_conn_info *ci;
	struct mp_scratch *s;

	if (!stash)
		return;
	a = *stash;
	bpf_map_delete_elem(&mp_syscall_args, &pid_tgid);
	if (ret <= 0)
		return;
	key.tgid = pid_tgid >> 32;
	key.fd = a.fd;
	ci = bpf_map_lookup_elem(&mp_conns, &key);
	if (!ci || ci->conn_id != a.conn_id) {
		/* Another thread closed or replaced the fd while this syscall ran. */
		mp_count_drop(MP_DROP_CONN_MISMATCH);
		return;
	}
	s = mp_scratch_get();
	if (!s) {
		mp_count_drop(MP_DROP_SCRATCH);
		return;
	}
	mp_handle_data(s, ci, &a, ret, dir, pid_tgid, bpf_ktime_get_ns());
}

#endif
