/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mp_tls_procs — processes that map OpenSSL, by tgid: their threads' TCP reads are remembered
 * (tls_threads.h, last_read_fd) even before the thread's first SSL call, because a memory-BIO
 * server (node) reads a connection's ClientHello before it calls OpenSSL for the first time, and
 * that read is what ties the SSL* to the socket (tls.h).
 *
 * Filled by the kernel when a process maps a known OpenSSL (tls_calls.h) or calls it, and by the
 * loader for processes it finds using one; the loader removes dead processes.
 * Size: 16384 processes. LRU: an entry of a process that died unseen is the first evicted.
 */
#ifndef MP_MAP_TLS_PROCS_H
#define MP_MAP_TLS_PROCS_H

#include "../common.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} mp_tls_procs SEC(".maps");

#endif
