/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mp_tls_files — the loader's verdict (enum mp_tls_verdict) on files mapped as executable code, keyed by the inode as
 * the kernel names it (s_dev, i_ino). OTHER: never mention it again; OPENSSL: tell the loader
 * every process that maps it (it detaches when none is left). A file without a verdict is
 * unknown: a process mapping it makes a notice (tls_notices.h), so each file of the node is looked
 * at once, not each process start.
 * Size: 8192 files. LRU: an evicted verdict costs one more notice and one more look at the file.
 */
#ifndef MP_MAP_TLS_FILES_H
#define MP_MAP_TLS_FILES_H

#include "../common.h"

struct mp_tls_file_key {
	__u64 dev; /* super_block.s_dev: major << 20 | minor, as /proc/PID/maps prints it */
	__u64 ino;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct mp_tls_file_key);
	__type(value, __u8);
} mp_tls_files SEC(".maps");

#endif
