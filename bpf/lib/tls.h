/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tls.h — tying an OpenSSL SSL* to its TCP socket, so that the plaintext its uprobes read
 * (tls_calls.h) carries the connection's identity, and the connection's ciphertext syscalls are
 * not reported.
 *
 * OpenSSL's API carries no fd, and reading one out of the SSL struct needs offsets per OpenSSL
 * version and finds nothing for memory BIOs. The thread that calls OpenSSL tells instead:
 *
 *  - socket BIO (nginx, curl, Python's blocking sockets): OpenSSL reads and writes the socket
 *    itself, so the TCP data syscall the thread makes *during* an SSL call is that SSL*'s
 *    (Pixie's way; SSL_do_handshake is probed too, so this happens at the handshake).
 *  - memory BIO (Node, Python's asyncio): the ciphertext moves outside the call. It was read just
 *    before, from the socket the TLS library is fed from, and what the call produced is written
 *    right after. When the thread's first write after the call goes to the socket its last read
 *    before the call came from, the two agree and the SSL* is that socket's. Every handshake has
 *    such a step (ClientHello read, ServerHello written; the server's flight read, the client's
 *    Finished written), so connections are tied before their first request. Requiring two
 *    syscalls to agree is what makes this safe where one would not be: a thread that reads a
 *    Redis reply and then starts a TLS handshake writes its ClientHello to another socket.
 *
 * A socket that carried clear-text HTTP is never tied: it is not TLS, or it is kernel TLS (kTLS),
 * where the syscalls already see the plaintext and report it.
 */
#ifndef MP_TLS_H
#define MP_TLS_H

#include "common.h"
#include "config.h"
#include "emit.h"
#include "http.h"
#include "maps/conns.h"
#include "maps/drops.h"
#include "maps/scratch.h"
#include "maps/tls_bindings.h"
#include "maps/tls_held.h"
#include "maps/tls_procs.h"
#include "maps/tls_threads.h"

/* data.h: whether a buffer starts a message, and what it means for the connection's state
 * (data.h includes this file first). */
static __always_inline __u32 mp_message_start(const struct mp_conn_info *ci, __u64 word, __u32 avail,
					      __u8 dir);
static __always_inline bool mp_classify(struct mp_conn_info *ci, __u32 start, __u32 avail,
					__u8 dir);

static __always_inline bool mp_syscall_egress(__u16 syscall)
{
	return syscall == MP_SYS_WRITE || syscall == MP_SYS_WRITEV || syscall == MP_SYS_SENDTO ||
	       syscall == MP_SYS_SENDMSG || syscall == MP_SYS_SENDFILE;
}

/* A held write (tls_held.h) of this thread whose SSL* will not be tied now: lost, counted. */
static __always_inline void mp_tls_forget_held(__u64 pid_tgid)
{
	if (!bpf_map_delete_elem(&mp_tls_held, &pid_tgid))
		mp_count_drop(MP_DROP_TLS_UNBOUND);
}

/* The held write of an SSL* just tied to connection ci, as the DATA record it would have been:
 * the same classification and copy budget as data.h, from the bytes copied at SSL_write()'s
 * return instead of from user memory. HTTP/1.x only: a held write that does not start (or
 * continue) an HTTP/1.x message is dropped without deciding anything, so that the connection's
 * next plaintext classifies it (an HTTP/2 preface, whose frames h2.h walks in user memory). */
static __always_inline void mp_tls_emit_held(struct mp_scratch *s, struct mp_conn_info *ci,
					     const struct mp_tls_held *held, __u64 pid_tgid,
					     __s32 fd)
{
	struct mp_data_event *ev = &s->data;
	__u32 len = held->byte_count, captured = held->captured, flags = 0;
	__u32 avail, start, want;
	__u64 word, duration;

	if (captured > MP_CAPTURE_MAX)
		captured = MP_CAPTURE_MAX;
	avail = captured < 8 ? captured : 8;
	word = *(const __u64 *)held->payload & MP_MASK(avail);
	start = mp_message_start(ci, word, avail, MP_DIR_EGRESS);
	if ((!start && ci->state != MP_CONN_L7) || (ci->flags & MP_F_H2)) {
		mp_count_drop(MP_DROP_TLS_UNBOUND);
		return;
	}
	if (!mp_classify(ci, start, avail, MP_DIR_EGRESS))
		return;
	mp_emit_open(ci, pid_tgid, fd);
	if (start)
		ci->budget[0] = mp_capture_cap;
	want = MP_MIN(len, ci->budget[0]);
	ci->budget[0] -= want;
	ci->bytes[0] += len;
	if (captured > want)
		captured = want;
	barrier_var(captured);
	if (captured > MP_CAPTURE_MAX)
		captured = MP_CAPTURE_MAX;
	if (captured && bpf_probe_read_kernel(s->payload, captured, held->payload))
		captured = 0;
	if (captured < len) {
		flags |= MP_F_TRUNCATED;
		if (held->chunk_end)
			flags |= MP_F_CHUNK_END;
	}
	mp_fill_header(&ev->hdr, MP_REC_DATA, MP_SYS_SSL_WRITE, ci, pid_tgid, fd, held->exit_ns);
	ev->hdr.flags |= flags | start;
	ev->hdr.direction = MP_DIR_EGRESS;
	duration = held->exit_ns - held->enter_ns;
	ev->duration_ns = duration > 0xffffffff ? 0xffffffff : duration;
	ev->byte_count = len;
	ev->captured = captured;
	ev->_pad0 = 0;
	mp_submit(ev, sizeof(*ev) + captured);
}

/* Tie the thread's SSL* (t->ssl) to connection ci on fd. */
static __always_inline void mp_tls_bind(struct mp_scratch *s, struct mp_tls_thread *t,
					struct mp_conn_info *ci, __u64 pid_tgid, __s32 fd)
{
	struct mp_tls_binding_key key = {.tgid = pid_tgid >> 32, .ssl = t->ssl};
	struct mp_tls_binding b = {.conn_id = ci->conn_id, .fd = fd};
	struct mp_tls_binding *old = bpf_map_lookup_elem(&mp_tls_bindings, &key);
	struct mp_tls_held *held;

	if (old && old->conn_id == ci->conn_id)
		return;
	b.capture = ci->state != MP_CONN_IGNORED && ci->state != MP_CONN_CLOSED &&
		    (ci->state != MP_CONN_L7 || (ci->flags & MP_F_TLS));
	bpf_map_update_elem(&mp_tls_bindings, &key, &b, BPF_ANY);
	if (b.capture && !(ci->flags & MP_F_TLS)) {
		/* From now on the connection's records are its plaintext, classified afresh: its
		 * ciphertext has made it opaque. */
		ci->flags |= MP_F_TLS;
		ci->state = MP_CONN_UNDECIDED;
		ci->undecided = 0;
		ci->budget[0] = 0;
		ci->budget[1] = 0;
	}
	held = bpf_map_lookup_elem(&mp_tls_held, &pid_tgid);
	if (held && held->ssl == t->ssl) {
		if (b.capture)
			mp_tls_emit_held(s, ci, held, pid_tgid, fd);
		bpf_map_delete_elem(&mp_tls_held, &pid_tgid);
	}
}

/*
 * Called by every data syscall on a TCP socket (data.h) once its connection entry is known. Ties
 * the SSL* of the calling thread to the socket when the rules above say so, and returns true for a
 * TLS connection: its syscalls carry ciphertext, and are not reported (the uprobes report the
 * plaintext).
 */
static __always_inline bool mp_tls_on_syscall(struct mp_scratch *s, struct mp_conn_info *ci,
					      __u64 pid_tgid, __s32 fd, __u16 syscall)
{
	struct mp_tls_thread *t = bpf_map_lookup_elem(&mp_tls_threads, &pid_tgid);
	bool egress = mp_syscall_egress(syscall);

	if (!t && !egress) {
		/* The first TCP read of a thread of a process with OpenSSL: remembered, it may be
		 * the ClientHello its first SSL call is fed with. */
		__u32 tgid = pid_tgid >> 32;

		if (bpf_map_lookup_elem(&mp_tls_procs, &tgid)) {
			struct mp_tls_thread fresh = {.last_read_fd = fd, .read_fd = -1};

			bpf_map_update_elem(&mp_tls_threads, &pid_tgid, &fresh, BPF_NOEXIST);
		}
	} else if (t) {
		if (t->in_call) {
			mp_tls_bind(s, t, ci, pid_tgid, fd);
		} else if (t->awaiting && egress) {
			/* The first write after the call decides, tie or no tie. */
			t->awaiting = 0;
			if (fd == t->read_fd)
				mp_tls_bind(s, t, ci, pid_tgid, fd);
			else
				mp_tls_forget_held(pid_tgid);
		}
		if (!egress)
			t->last_read_fd = fd;
	}
	return ci->flags & MP_F_TLS;
}

#endif
