/* SPDX-License-Identifier: Apache-2.0 */
/* schedule.h — running the user-space half of the capture under SCHED_IDLE. */
#ifndef MP_LOADER_SCHEDULE_H
#define MP_LOADER_SCHEDULE_H

#include <sys/types.h>

/* Put every thread of `pid` (0: this process) under SCHED_IDLE. Threads created later inherit
 * the policy of the thread that creates them. Returns 0, or -errno of the first failure. */
int mp_sched_idle(pid_t pid);

#endif
