/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mp_allowed_tgids — Allow-list by process (--pid). Consulted only when mp_filter_tgids
 * is set. Size: 1024 tgids.
 * Written by the loader before the programs are attached; read-only in the kernel.
 */
#ifndef MP_MAP_ALLOWED_TGIDS_H
#define MP_MAP_ALLOWED_TGIDS_H

#include "../common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} mp_allowed_tgids SEC(".maps");

#endif
