/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mp_tls_threads — per thread that calls OpenSSL: the SSL call in progress, and what ties an SSL*
 * to its socket (tls.h), keyed by pid_tgid.
 *
 * The data syscalls consult it on TCP sockets only, and only threads that ever called OpenSSL have
 * an entry, so a thread without TLS pays one failed lookup per TCP syscall.
 * Size: 16384 threads (~1 MiB). LRU: threads end without telling us, and a dead thread's entry is
 * the first evicted.
 */
#ifndef MP_MAP_TLS_THREADS_H
#define MP_MAP_TLS_THREADS_H

#include "../common.h"

/* Which OpenSSL function a call is. */
enum mp_tls_op {
	MP_TLS_OP_READ = 1,      /* SSL_read(ssl, buf, num): returns the byte count */
	MP_TLS_OP_READ_EX = 2,   /* SSL_read_ex(ssl, buf, num, &readbytes): returns 1 on success */
	MP_TLS_OP_WRITE = 3,     /* SSL_write(ssl, buf, num) */
	MP_TLS_OP_WRITE_EX = 4,  /* SSL_write_ex(ssl, buf, num, &written) */
	MP_TLS_OP_HANDSHAKE = 5, /* SSL_do_handshake(ssl): no data, but ties the SSL* early */
};

struct mp_tls_thread {
	__u64 ssl;          /* SSL* of the call in progress, or of the last call if it ended unbound */
	__u64 buf;          /* the call's buffer */
	__u64 len_ptr;      /* size_t * through which the _ex variants return the byte count */
	__u64 enter_ns;
	__s32 last_read_fd; /* fd of the last TCP read syscall this thread made (-1: none yet) */
	__s32 read_fd;      /* last_read_fd when the call began */
	__u8 op;            /* enum mp_tls_op */
	__u8 in_call;       /* between the uprobe and the uretprobe */
	__u8 awaiting;      /* the call ended with its SSL* unbound: the next write may tie it */
	__u8 _pad[5];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct mp_tls_thread);
} mp_tls_threads SEC(".maps");

#endif
