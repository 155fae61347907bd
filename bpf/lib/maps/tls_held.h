/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mp_tls_held — the plaintext of an SSL_write() that returned before its SSL* was tied to a
 * socket, held until it is (tls.h), keyed by pid_tgid: at most one per thread.
 *
 * Node writes the first request of a client connection while the handshake is still under way;
 * OpenSSL encrypts it into memory once the server's flight is in, and the socket write that ties
 * the SSL* to its fd comes microseconds after SSL_write() returned, when the caller's buffer may be
 * gone. The record waits here for those microseconds.
 * Size: 256 (~2 MiB, preallocated): threads with such a write in flight at once. LRU: a held write
 * whose tie never comes is the first evicted.
 */
#ifndef MP_MAP_TLS_HELD_H
#define MP_MAP_TLS_HELD_H

#include "../common.h"

struct mp_tls_held {
	__u64 ssl;
	__u64 enter_ns;
	__u64 exit_ns;
	__u32 byte_count; /* what SSL_write() returned */
	__u32 captured;   /* bytes of payload: min(byte_count, capture cap) */
	__u32 chunk_end;  /* the data ends a chunked body (http.h) */
	__u32 _pad;
	__u8 payload[MP_CAPTURE_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, struct mp_tls_held);
} mp_tls_held SEC(".maps");

#endif
