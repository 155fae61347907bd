/* SPDX-License-Identifier: Apache-2.0 */
/*
 * schedule.c — the loader, and the agent that started it, as SCHED_IDLE tasks.
 *
 * The collector shares cores with the applications it watches. Under the default policy its
 * bursts of work (a 10 ms drain turned into events, encoded and produced) compete with them as
 * equals: an application thread that wakes while the agent runs waits for the agent's time slice
 * (EEVDF protects a running task's slice), which on a busy core added milliseconds to the traced
 * requests' tail latency (bench/overhead; docs/benchmarks.md). A SCHED_IDLE task is preempted as
 * soon as any normal task on its CPU wakes (kernel/sched/fair.c, check_preempt_wakeup_fair), and
 * under contention gets the smallest weight there is (WEIGHT_IDLEPRIO, 3 against 1024 for nice 0).
 * That is the collector's contract (DESIGN.md): it never slows the applications down; when it
 * cannot keep up, the ring buffer or its queues fill and it drops and counts. It still runs —
 * slowly — on a saturated CPU, so its /healthz and metrics keep answering.
 *
 * The agent is Node.js, which cannot change its scheduling policy: the loader (root, or
 * CAP_SYS_NICE) does it for it, thread by thread: sched_setscheduler(2) on a tid applies to that
 * thread only, and threads created afterwards inherit the policy of their creator.
 */
#include "schedule.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

static int set_idle(pid_t tid)
{
	struct sched_param param = {.sched_priority = 0};

	return sched_setscheduler(tid, SCHED_IDLE, &param) ? -errno : 0;
}

int mp_sched_idle(pid_t pid)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int err = 0;

	snprintf(path, sizeof(path), pid ? "/proc/%d/task" : "/proc/self/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		int rc;

		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		rc = set_idle((pid_t)atoi(d->d_name));
		/* A thread that exited meanwhile (ESRCH) is not a failure. */
		if (rc && rc != -ESRCH && !err)
			err = rc;
	}
	closedir(dir);
	return err;
}
