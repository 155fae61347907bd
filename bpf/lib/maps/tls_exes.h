/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mp_tls_exes — Allow-list of executables whose TLS is read (collector.tls.binaries), by inode
 * (mp_tls_file_key). Keyed by the executable rather than the pid so that forked children (nginx
 * workers) are allowed with their parent. Consulted only when mp_tls_filter_exes is set.
 * Size: 1024 executables. Filled by the loader as it finds matching processes.
 */
#ifndef MP_MAP_TLS_EXES_H
#define MP_MAP_TLS_EXES_H

#include "../common.h"
#include "tls_files.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct mp_tls_file_key);
	__type(value, __u8);
} mp_tls_exes SEC(".maps");

#endif
