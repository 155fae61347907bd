/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mp_drops — per-CPU counters, one per enum mp_drop_reason (include/meshpipe_abi.h).
 *
 * Per-CPU so counting never bounces a cache line between CPUs; the loader sums the CPUs
 * once per stats interval. Size: MP_DROP__MAX u64 per CPU.
 */
#ifndef MP_MAP_DROPS_H
#define MP_MAP_DROPS_H

#include "../common.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MP_DROP__MAX);
	__type(key, __u32);
	__type(value, __u64);
} mp_drops SEC(".maps");

static __always_inline void mp_count_drop(enum mp_drop_reason reason)
{
	__u32 key = reason;
	__u64 *count = bpf_map_lookup_elem(&mp_drops, &key);

	if (count)
		*count += 1;
}

#endif
