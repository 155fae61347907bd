/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mp_allowed_ports — Allow-list by TCP port, local or peer (--port), so both a server's
 * listening port and a client's destination match. Consulted only when mp_filter_ports
 * is set. Size: 1024 ports.
 * Written by the loader before the programs are attached; read-only in the kernel.
 */
#ifndef MP_MAP_ALLOWED_PORTS_H
#define MP_MAP_ALLOWED_PORTS_H

#include "../common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} mp_allowed_ports SEC(".maps");

#endif
