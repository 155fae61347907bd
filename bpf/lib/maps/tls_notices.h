/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mp_tls_notices — struct mp_tls_notice from the kernel to the loader: a process mapped an
 * executable file the loader has no verdict on, or one that is OpenSSL (tls_files.h).
 *
 * A ring of its own, not mp_events: notices are few (about one per distinct file of the node, then
 * one per process start that maps OpenSSL) and each wakes the loader at once, because a process
 * that just mapped a libssl may use it within milliseconds; mp_events never wakes it per record.
 * Size: 64 KiB (~2700 notices between two drains).
 */
#ifndef MP_MAP_TLS_NOTICES_H
#define MP_MAP_TLS_NOTICES_H

#include "../common.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 10);
} mp_tls_notices SEC(".maps");

#endif
