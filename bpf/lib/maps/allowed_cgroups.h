/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mp_allowed_cgroups — Allow-list by cgroup v2 id (--cgroup; the id is the inode of the
 * cgroup directory). Consulted only when mp_filter_cgroups is set. Size: 1024 cgroups.
 * Written by the loader before the programs are attached; read-only in the kernel.
 */
#ifndef MP_MAP_ALLOWED_CGROUPS_H
#define MP_MAP_ALLOWED_CGROUPS_H

#include "../common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u8);
} mp_allowed_cgroups SEC(".maps");

#endif
