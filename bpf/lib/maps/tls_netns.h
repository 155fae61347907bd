/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mp_tls_netns — Allow-list of network namespaces (pods) whose TLS is read (collector.tls.pods),
 * by namespace inode. Consulted only when mp_tls_filter_netns is set.
 * Size: 1024 namespaces. Filled by the loader as it finds matching processes.
 */
#ifndef MP_MAP_TLS_NETNS_H
#define MP_MAP_TLS_NETNS_H

#include "../common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} mp_tls_netns SEC(".maps");

#endif
