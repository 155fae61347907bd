/* SPDX-License-Identifier: Apache-2.0 */
#include "tls-scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meshpipe_abi.h"
#include "tls-elf.h"
#include "tls-procs.h"

#define EXAMPLES 3

struct found {
	uint64_t dev, ino;
	char path[MP_TLS_PATH_MAX];
	struct mp_tls_symbols syms;
	unsigned int processes;
	pid_t last; /* the last process counted: one maps a library in several places */
	pid_t pid[EXAMPLES];
	char comm[EXAMPLES][16];
};

struct scan {
	struct found *v;
	unsigned int n, cap;
	/* Files seen that are not TLS libraries, so each is inspected once. */
	uint64_t (*other)[2];
	unsigned int nother, capother;
	unsigned int processes, unreadable;
	pid_t pid;
};

static struct found *lookup(struct scan *s, uint64_t dev, uint64_t ino)
{
	for (unsigned int i = 0; i < s->n; i++)
		if (s->v[i].dev == dev && s->v[i].ino == ino)
			return &s->v[i];
	return NULL;
}

static bool is_other(const struct scan *s, uint64_t dev, uint64_t ino)
{
	for (unsigned int i = 0; i < s->nother; i++)
		if (s->other[i][0] == dev && s->other[i][1] == ino)
			return true;
	return false;
}

static struct found *add(struct scan *s, uint64_t dev, uint64_t ino, const char *path,
			 const struct mp_tls_symbols *syms)
{
	struct found *f;

	if (s->n == s->cap) {
		struct found *grown = realloc(s->v, (s->cap = s->cap ? 2 * s->cap : 16) * sizeof(*f));

		if (!grown)
			return NULL;
		s->v = grown;
	}
	f = &s->v[s->n++];
	memset(f, 0, sizeof(*f));
	f->dev = dev;
	f->ino = ino;
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->syms = *syms;
	return f;
}

static void add_other(struct scan *s, uint64_t dev, uint64_t ino)
{
	if (s->nother == s->capother) {
		void *grown = realloc(s->other, (s->capother = s->capother ? 2 * s->capother : 256) *
							sizeof(*s->other));

		if (!grown)
			return;
		s->other = grown;
	}
	s->other[s->nother][0] = dev;
	s->other[s->nother][1] = ino;
	s->nother++;
}

static int on_mapping(void *arg, const struct mp_mapping *m)
{
	struct scan *s = arg;
	struct found *f = lookup(s, m->dev, m->ino);

	if (!f) {
		struct mp_tls_symbols syms;
		char path[96];

		if (is_other(s, m->dev, m->ino))
			return 0;
		mp_proc_map_file(path, sizeof(path), s->pid, m);
		if (mp_tls_inspect_elf(path, &syms))
			return 0;
		if (!mp_tls_is_openssl(&syms)) {
			add_other(s, m->dev, m->ino);
			return 0;
		}
		f = add(s, m->dev, m->ino, m->path, &syms);
		if (!f)
			return 0;
	}
	if (f->last == s->pid)
		return 0;
	f->last = s->pid;
	if (f->processes < EXAMPLES) {
		f->pid[f->processes] = s->pid;
		mp_proc_comm(s->pid, f->comm[f->processes], sizeof(f->comm[0]));
	}
	f->processes++;
	return 0;
}

static int on_process(void *arg, pid_t pid)
{
	struct scan *s = arg;

	int err;

	s->pid = pid;
	err = mp_proc_code_mappings(pid, on_mapping, s);
	if (!err)
		s->processes++;
	else if (err == -EACCES || err == -EPERM)
		s->unreadable++; /* not ours to read: run as root (a process that just exited is not counted) */
	return 0;
}

static void on_disk(void *arg, const char *path, const struct stat *st)
{
	struct scan *s = arg;
	struct mp_tls_symbols syms;
	uint64_t dev = mp_kernel_dev(st->st_dev);

	if (lookup(s, dev, st->st_ino) || mp_tls_inspect_elf(path, &syms) || !mp_tls_is_openssl(&syms))
		return;
	add(s, dev, st->st_ino, path, &syms);
}

static void print_string(const char *v)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

int mp_tls_scan_print(void)
{
	struct scan s = {0};

	mp_proc_each(on_process, &s);
	mp_tls_each_system_libssl(on_disk, &s);
	printf("{\"processes\": %u, \"unreadable\": %u, \"libraries\": [", s.processes, s.unreadable);
	for (unsigned int i = 0; i < s.n; i++) {
		const struct found *f = &s.v[i];
		const char *sep = "";

		printf("%s\n  {\"path\": ", i ? "," : "");
		print_string(f->path);
		printf(", \"dev\": %llu, \"ino\": %llu, \"library\": \"%s\", \"functions\": [",
		       (unsigned long long)f->dev, (unsigned long long)f->ino,
		       f->syms.boringssl ? "boringssl" : "openssl");
		for (int fn = 0; fn < MP_TLS_NFUNCS; fn++) {
			if (f->syms.found & (1u << fn)) {
				printf("%s\"%s\"", sep, mp_tls_function_names[fn]);
				sep = ", ";
			}
		}
		printf("], \"processes\": %u, \"examples\": [", f->processes);
		for (unsigned int e = 0; e < f->processes && e < EXAMPLES; e++) {
			printf("%s{\"pid\": %d, \"comm\": ", e ? ", " : "", (int)f->pid[e]);
			print_string(f->comm[e]);
			putchar('}');
		}
		printf("]}");
	}
	printf("\n]}\n");
	free(s.v);
	free(s.other);
	return MP_EXIT_OK;
}
