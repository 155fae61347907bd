/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls-procs.h — what /proc says about a process: the files it maps as code, its executable, its
 * network namespace. Files are named as the kernel names them, (s_dev, i_ino), which is what
 * /proc/PID/maps prints and what the BPF side reads from struct inode.
 */
#ifndef MP_LOADER_TLS_PROCS_H
#define MP_LOADER_TLS_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct mp_mapping {
	uint64_t start;
	uint64_t end;
	uint64_t dev; /* major << 20 | minor: the kernel's encoding of a dev_t */
	uint64_t ino;
	const char *path; /* as the process sees it; valid during the callback only */
};

/* Call fn for each executable mapping of a file in process pid, until fn returns nonzero.
 * Returns 0, or -errno when the process cannot be read (it is gone, or not ours to read). */
int mp_proc_code_mappings(pid_t pid, int (*fn)(void *ctx, const struct mp_mapping *m), void *ctx);

/* "/proc/PID/map_files/START-END": the mapped file itself, whatever the process's mount namespace
 * and even if the path was replaced or deleted since. */
void mp_proc_map_file(char *buf, size_t size, pid_t pid, const struct mp_mapping *m);

/* The executable's path (readlink of /proc/PID/exe, " (deleted)" removed); -errno on failure. */
int mp_proc_exe(pid_t pid, char *buf, size_t size);

/* The process's command name (/proc/PID/comm), "" if unreadable. */
void mp_proc_comm(pid_t pid, char *buf, size_t size);

/* Inode of the process's network namespace; -errno on failure. */
int mp_proc_netns(pid_t pid, uint32_t *ino);

bool mp_proc_alive(pid_t pid);

/* Call fn for every process, until it returns nonzero. */
void mp_proc_each(int (*fn)(void *ctx, pid_t pid), void *ctx);

/* A user-space dev_t (stat's st_dev) in the kernel's encoding. */
uint64_t mp_kernel_dev(dev_t dev);

#endif
