/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mp_tls_bindings — the connection an SSL* reads and writes, keyed by (tgid, SSL*).
 *
 * The conn id makes a stale entry harmless: malloc reuses the address of an SSL_free()d SSL* and
 * the kernel the number of a closed fd, but conn ids are never reused, so an entry whose
 * connection is gone is dropped and the SSL* tied again (tls.h).
 * Size: 65536 (~2.5 MiB), like mp_conns: one per TLS connection of the node. LRU: nothing tells
 * us when an SSL* is freed; an evicted live entry is made again by the next tie.
 */
#ifndef MP_MAP_TLS_BINDINGS_H
#define MP_MAP_TLS_BINDINGS_H

#include "../common.h"

struct mp_tls_binding_key {
	__u32 tgid;
	__u32 _pad;
	__u64 ssl;
};

struct mp_tls_binding {
	__u64 conn_id;
	__s32 fd;
	__u8 capture; /* 0: the connection is filtered out, or carries clear-text HTTP (kernel TLS) */
	__u8 _pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct mp_tls_binding_key);
	__type(value, struct mp_tls_binding);
} mp_tls_bindings SEC(".maps");

#endif
