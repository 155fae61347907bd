/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mp_events — the ring buffer every record leaves the kernel through.
 *
 * Size: 8 MiB by default (--ring-mb). At the ~4.5K HTTP requests/s measured on a 2-core
 * node, with 4 records of ~0.4 KiB per request, that is ~7 MB/s: the loader drains every
 * 10 ms (~70 KiB), so 8 MiB absorbs a stall of the consumer of about a second before
 * MP_DROP_RINGBUF_FULL is counted. One ring shared by all CPUs keeps records of one
 * connection in submission order, which per-CPU perf buffers would not.
 */
#ifndef MP_MAP_EVENTS_H
#define MP_MAP_EVENTS_H

#include "../common.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} mp_events SEC(".maps");

#endif
