/* SPDX-License-Identifier: Apache-2.0 */
#include "tls-procs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

uint64_t mp_kernel_dev(dev_t dev)
{
	return ((uint64_t)major(dev) << 20) | minor(dev);
}

int mp_proc_code_mappings(pid_t pid, int (*fn)(void *ctx, const struct mp_mapping *m), void *ctx)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		struct mp_mapping m;
		unsigned int maj, min;
		char perms[5];
		uint64_t offset;
		int n = 0;
		char *p;

		/* start-end perms offset major:minor inode path */
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 " %n", &m.start,
			   &m.end, perms, &offset, &maj, &min, &m.ino, &n) < 7 || !n)
			continue;
		if (perms[2] != 'x' || !m.ino)
			continue;
		p = line + n;
		p[strcspn(p, "\n")] = 0;
		if (p[0] != '/')
			continue;
		m.dev = ((uint64_t)maj << 20) | min;
		m.path = p;
		if (fn(ctx, &m))
			break;
	}
	free(line);
	fclose(f);
	return 0;
}

void mp_proc_map_file(char *buf, size_t size, pid_t pid, const struct mp_mapping *m)
{
	snprintf(buf, size, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid, m->start, m->end);
}

int mp_proc_exe(pid_t pid, char *buf, size_t size)
{
	static const char deleted[] = " (deleted)";
	char path[64];
	ssize_t n;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	len = n;
	if (len > sizeof(deleted) - 1 && !strcmp(buf + len - (sizeof(deleted) - 1), deleted))
		buf[len - (sizeof(deleted) - 1)] = 0;
	return 0;
}

void mp_proc_comm(pid_t pid, char *buf, size_t size)
{
	char path[64];
	FILE *f;

	buf[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(buf, size, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

int mp_proc_netns(pid_t pid, uint32_t *ino)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if (stat(path, &st))
		return -errno;
	*ino = st.st_ino;
	return 0;
}

bool mp_proc_alive(pid_t pid)
{
	return kill(pid, 0) == 0 || errno != ESRCH;
}

void mp_proc_each(int (*fn)(void *ctx, pid_t pid), void *ctx)
{
	DIR *dir = opendir("/proc");
	struct dirent *e;

	if (!dir)
		return;
	while ((e = readdir(dir))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		if (fn(ctx, (pid_t)strtol(e->d_name, NULL, 10)))
			break;
	}
	closedir(dir);
}
