/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * filters.h — who is traced. Evaluated once per connection (when its conn-info entry is
 * made), never per syscall: the verdict is cached as MP_CONN_IGNORED.
 */
#ifndef MP_FILTERS_H
#define MP_FILTERS_H

#include "common.h"
#include "config.h"
#include "maps/allowed_cgroups.h"
#include "maps/allowed_ports.h"
#include "maps/allowed_tgids.h"
#include "maps/excluded_tgids.h"

static __always_inline bool mp_traced(__u32 tgid, __u16 local_port, __u16 peer_port)
{
	/* The collector must never capture itself: its Kafka traffic would feed back into
	 * the capture, one record per record. */
	if (bpf_map_lookup_elem(&mp_excluded_tgids, &tgid))
		return false;
	/* Allow-lists: the mp_filter_* constants are frozen .rodata, so the verifier prunes
	 * the lookups of disabled lists. */
	if (mp_filter_tgids && !bpf_map_lookup_elem(&mp_allowed_tgids, &tgid))
		return false;
	if (mp_filter_cgroups) {
		__u64 cgroup = bpf_get_current_cgroup_id();

		if (!bpf_map_lookup_elem(&mp_allowed_cgroups, &cgroup))
			return false;
	}
	if (mp_filter_ports && !bpf_map_lookup_elem(&mp_allowed_ports, &local_port) &&
	    !bpf_map_lookup_elem(&mp_allowed_ports, &peer_port))
		return false;
	return true;
}

#endif
