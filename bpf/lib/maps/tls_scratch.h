/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mp_tls_scratch — per-CPU working memory of the uprobe programs: a data record under
 * construction (as mp_scratch), and a held write being staged (tls_held.h).
 *
 * Separate from mp_scratch because uprobe programs run with migration, not preemption, disabled:
 * on a kernel built for full preemption a syscall program could run on this CPU in the middle of
 * one and write over its record. (Two uprobe programs interleaving on one CPU would need the same
 * preemption between two tasks' SSL calls; with the default PREEMPT_NONE/VOLUNTARY nothing
 * preempts a BPF program.)
 * Size: one ~25 KiB value per CPU.
 */
#ifndef MP_MAP_TLS_SCRATCH_H
#define MP_MAP_TLS_SCRATCH_H

#include "../common.h"
#include "scratch.h"
#include "tls_held.h"

struct mp_tls_scratch {
	struct mp_scratch data;
	struct mp_tls_held held;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mp_tls_scratch);
} mp_tls_scratch SEC(".maps");

#endif
