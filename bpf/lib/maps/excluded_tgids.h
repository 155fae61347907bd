/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mp_excluded_tgids — Processes never traced: the loader itself and the agent
 * (--exclude-pid). Checked when a connection is first seen, so the agent's own Kafka
 * traffic is classified once and then costs a lookup. Size: 64 tgids.
 * Written by the loader before the programs are attached; read-only in the kernel.
 */
#ifndef MP_MAP_EXCLUDED_TGIDS_H
#define MP_MAP_EXCLUDED_TGIDS_H

#include "../common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u8);
} mp_excluded_tgids SEC(".maps");

#endif
