/* SPDX-License-Identifier: Apache-2.0 */
#include "tls-attach.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "environment.h"
#include "meshpipe_abi.h"
#include "tls-elf.h"
#include "tls-procs.h"

/* How often dead users are dropped and unused files detached. */
#define SWEEP_NS (5ull * 1000000000ull)
/* At most this often /run/netns is read again for a process in an unknown namespace. */
#define NETNS_REFRESH_NS 1000000000ull
/* Files known not to be OpenSSL, remembered here (the kernel has its own LRU copy). */
#define OTHER_MAX 65536

/* Same layout as struct mp_tls_file_key of lib/maps/tls_files.h. */
struct file_key {
	uint64_t dev;
	uint64_t ino;
};

struct tls_file {
	struct file_key key;
	char path[MP_TLS_PATH_MAX];
	struct mp_tls_symbols syms;
	struct bpf_link *links[2 * MP_TLS_NFUNCS];
	unsigned int nlinks;
	bool pinned;      /* found on disk at start: probed while the loader runs */
	bool unsupported; /* BoringSSL */
	bool failed;      /* attaching failed once: not retried */
	pid_t *users;     /* processes known to map it */
	unsigned int nusers, capusers;
};

/* An open-addressing set of file keys (ino 0 marks a free slot: no file has inode 0). */
struct key_set {
	struct file_key *v;
	size_t cap, n;
};

struct mp_tls {
	struct meshpipe *skel;
	const struct mp_options *opts;
	struct mp_output *out;
	struct ring_buffer *notices;
	struct tls_file **files;
	unsigned int nfiles, capfiles;
	struct key_set other;
	uint32_t *netns; /* namespaces allowed by --tls-pod, as last read from /run/netns */
	unsigned int nnetns;
	uint64_t netns_read_ns;
	uint64_t next_sweep_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Key sets. ------------------------------------------------------------------------------------ */

static size_t key_slot(const struct key_set *s, struct file_key k)
{
	size_t i = (k.ino * 0x9e3779b97f4a7c15ull ^ k.dev) & (s->cap - 1);

	while (s->v[i].ino && (s->v[i].ino != k.ino || s->v[i].dev != k.dev))
		i = (i + 1) & (s->cap - 1);
	return i;
}

static bool key_set_has(const struct key_set *s, struct file_key k)
{
	return s->cap && s->v[key_slot(s, k)].ino;
}

static void key_set_add(struct key_set *s, struct file_key k)
{
	size_t i;

	if (2 * (s->n + 1) > s->cap) {
		struct key_set bigger = {.cap = s->cap ? 2 * s->cap : 256};

		if (s->n >= OTHER_MAX) {
			/* Past the bound, start over: forgetting costs one more look at a file. */
			memset(s->v, 0, s->cap * sizeof(*s->v));
			s->n = 0;
		} else {
			bigger.v = calloc(bigger.cap, sizeof(*bigger.v));
			if (!bigger.v)
				return;
			for (i = 0; i < s->cap; i++) {
				if (s->v[i].ino) {
					bigger.v[key_slot(&bigger, s->v[i])] = s->v[i];
					bigger.n++;
				}
			}
			free(s->v);
			*s = bigger;
		}
	}
	i = key_slot(s, k);
	if (!s->v[i].ino) {
		s->v[i] = k;
		s->n++;
	}
}

/* Kernel maps. --------------------------------------------------------------------------------- */

static void set_verdict(struct mp_tls *t, struct file_key k, uint8_t verdict)
{
	bpf_map__update_elem(t->skel->maps.mp_tls_files, &k, sizeof(k), &verdict, sizeof(verdict),
			     BPF_ANY);
}

static void forget_verdict(struct mp_tls *t, struct file_key k)
{
	bpf_map__delete_elem(t->skel->maps.mp_tls_files, &k, sizeof(k), 0);
}

static void allow_exe(struct mp_tls *t, struct file_key k)
{
	uint8_t one = 1;

	bpf_map__update_elem(t->skel->maps.mp_tls_exes, &k, sizeof(k), &one, sizeof(one), BPF_ANY);
}

/* Filters (--tls-binary, --tls-pod). ------------------------------------------------------------ */

static bool matches_binary(const struct mp_glob_list *globs, const char *exe)
{
	const char *base = strrchr(exe, '/');

	base = base ? base + 1 : exe;
	for (unsigned int i = 0; i < globs->n; i++) {
		const char *g = globs->v[i];

		if (!fnmatch(g, strchr(g, '/') ? exe : base, 0))
			return true;
	}
	return false;
}

static bool netns_allowed(const struct mp_tls *t, uint32_t ino)
{
	for (unsigned int i = 0; i < t->nnetns; i++)
		if (t->netns[i] == ino)
			return true;
	return false;
}

/* The namespaces named (`ip netns`) like a --tls-pod pattern, into mp_tls_netns. */
static void refresh_netns(struct mp_tls *t, bool force)
{
	const struct mp_glob_list *pods = &t->opts->tls_pods;
	struct bpf_map *map = t->skel->maps.mp_tls_netns;
	uint64_t now = now_ns();
	uint32_t *next = NULL;
	unsigned int n = 0, cap = 0;
	struct dirent *e;
	DIR *dir;
	uint8_t one = 1;

	if (!pods->n || (!force && now - t->netns_read_ns < NETNS_REFRESH_NS))
		return;
	t->netns_read_ns = now;
	dir = opendir("/run/netns");
	while (dir && (e = readdir(dir))) {
		char path[PATH_MAX];
		struct stat st;
		bool match = false;

		for (unsigned int i = 0; i < pods->n && !match; i++)
			match = !fnmatch(pods->v[i], e->d_name, 0);
		snprintf(path, sizeof(path), "/run/netns/%s", e->d_name);
		if (!match || e->d_name[0] == '.' || stat(path, &st))
			continue;
		if (n == cap) {
			uint32_t *grown = realloc(next, (cap = cap ? 2 * cap : 16) * sizeof(*next));

			if (!grown)
				break;
			next = grown;
		}
		next[n++] = st.st_ino;
	}
	if (dir)
		closedir(dir);
	for (unsigned int i = 0; i < t->nnetns; i++) {
		bool kept = false;

		for (unsigned int j = 0; j < n && !kept; j++)
			kept = next[j] == t->netns[i];
		if (!kept)
			bpf_map__delete_elem(map, &t->netns[i], sizeof(uint32_t), 0);
	}
	for (unsigned int j = 0; j < n; j++)
		bpf_map__update_elem(map, &next[j], sizeof(uint32_t), &one, sizeof(one), BPF_ANY);
	free(t->netns);
	t->netns = next;
	t->nnetns = n;
}

static bool excluded(const struct mp_tls *t, pid_t pid)
{
	const struct mp_u64_list *ex = &t->opts->exclude_pids;

	if (pid == getpid())
		return true;
	for (unsigned int i = 0; i < ex->n; i++)
		if (ex->v[i] == (uint64_t)pid)
			return true;
	return false;
}

/* Whether process pid's TLS is read. An allowed executable is put in mp_tls_exes, where the
 * kernel finds it for every process running it (forked children included): exe is its key from
 * an exec notice, else the one stat() gives. */
static bool process_allowed(struct mp_tls *t, pid_t pid, const struct file_key *exe)
{
	const struct mp_options *o = t->opts;

	if (excluded(t, pid))
		return false;
	if (o->tls_binaries.n) {
		char path[PATH_MAX], link[64];
		struct stat st;

		if (mp_proc_exe(pid, path, sizeof(path)) || !matches_binary(&o->tls_binaries, path))
			return false;
		snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
		if (exe)
			allow_exe(t, *exe);
		else if (!stat(link, &st))
			allow_exe(t, (struct file_key){mp_kernel_dev(st.st_dev), st.st_ino});
	}
	if (o->tls_pods.n) {
		uint32_t ino;

		if (mp_proc_netns(pid, &ino))
			return false;
		if (!netns_allowed(t, ino)) {
			refresh_netns(t, false);
			if (!netns_allowed(t, ino))
				return false;
		}
	}
	return true;
}

/* Files. ---------------------------------------------------------------------------------------- */

static struct tls_file *find_file(const struct mp_tls *t, struct file_key k)
{
	for (unsigned int i = 0; i < t->nfiles; i++)
		if (t->files[i]->key.ino == k.ino && t->files[i]->key.dev == k.dev)
			return t->files[i];
	return NULL;
}

static struct tls_file *new_file(struct mp_tls *t, struct file_key k, const char *path,
				 const struct mp_tls_symbols *syms)
{
	struct tls_file *f;

	if (t->nfiles == t->capfiles) {
		unsigned int cap = t->capfiles ? 2 * t->capfiles : 16;
		struct tls_file **grown = realloc(t->files, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		t->files = grown;
		t->capfiles = cap;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->key = k;
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->syms = *syms;
	t->files[t->nfiles++] = f;
	return f;
}

static void add_user(struct mp_tls *t, struct tls_file *f, pid_t pid)
{
	uint32_t tgid = pid;
	uint8_t one = 1;

	/* Its threads' TCP reads count from now on (lib/maps/tls_procs.h). */
	bpf_map__update_elem(t->skel->maps.mp_tls_procs, &tgid, sizeof(tgid), &one, sizeof(one),
			     BPF_ANY);
	for (unsigned int i = 0; i < f->nusers; i++)
		if (f->users[i] == pid)
			return;
	if (f->nusers == f->capusers) {
		unsigned int cap = f->capusers ? 2 * f->capusers : 8;
		pid_t *grown = realloc(f->users, cap * sizeof(*grown));

		if (!grown)
			return;
		f->users = grown;
		f->capusers = cap;
	}
	f->users[f->nusers++] = pid;
}

static void report(struct mp_tls *t, const struct tls_file *f, uint16_t state, pid_t pid, int err)
{
	struct mp_tls_library_record r = {
		.kind = MP_REC_TLS_LIBRARY,
		.state = state,
		.tgid = pid,
		.functions = f->syms.found,
		.error = err,
		.dev = f->key.dev,
		.ino = f->key.ino,
	};

	/* Before READY (the first scan) nothing is written: mp_tls_announce() tells it all after. */
	if (!t->out)
		return;
	snprintf(r.path, sizeof(r.path), "%s", f->path);
	mp_output_append(t->out, &r, sizeof(r), true);
}

static void destroy_links(struct tls_file *f)
{
	for (unsigned int i = 0; i < f->nlinks; i++)
		bpf_link__destroy(f->links[i]);
	f->nlinks = 0;
}

/* Entry and return probes on each function the file has. `path` opens the file (a map_files
 * link, or a path on disk); the kernel resolves it to the inode at once. */
static void attach(struct mp_tls *t, struct tls_file *f, const char *path, pid_t pid)
{
	struct bpf_program *entry[MP_TLS_NFUNCS] = {
		t->skel->progs.mp_ssl_read,  t->skel->progs.mp_ssl_read_ex,
		t->skel->progs.mp_ssl_write, t->skel->progs.mp_ssl_write_ex,
		t->skel->progs.mp_ssl_do_handshake,
	};
	int err = 0;

	for (int i = 0; i < MP_TLS_NFUNCS && !err; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, opts);
		struct bpf_link *link;

		if (!(f->syms.found & (1u << i)))
			continue;
		link = bpf_program__attach_uprobe_opts(entry[i], -1, path, f->syms.offset[i], &opts);
		if (!link) {
			err = errno;
			break;
		}
		f->links[f->nlinks++] = link;
		opts.retprobe = true;
		link = bpf_program__attach_uprobe_opts(t->skel->progs.mp_ssl_return, -1, path,
						       f->syms.offset[i], &opts);
		if (!link)
			err = errno;
		else
			f->links[f->nlinks++] = link;
	}
	if (err == ENOENT || err == ESRCH) {
		/* The process whose map_files link this was is gone: the next one to map the file
		 * makes a notice, and the attach is tried again then. */
		destroy_links(f);
		return;
	}
	if (err) {
		destroy_links(f);
		f->failed = true;
		fprintf(stderr, "meshpipe-loader: cannot attach TLS uprobes to %s: %s\n", f->path,
			strerror(err));
		report(t, f, MP_TLS_FAILED, pid, err);
		return;
	}
	report(t, f, MP_TLS_ATTACHED, pid, 0);
}

static void remove_file(struct mp_tls *t, unsigned int i)
{
	struct tls_file *f = t->files[i];

	destroy_links(f);
	free(f->users);
	free(f);
	t->files[i] = t->files[--t->nfiles];
}

/* Processes. ------------------------------------------------------------------------------------ */

struct scan_ctx {
	struct mp_tls *t;
	pid_t pid;
	bool allowed;
	const struct mp_tls_notice *notice;
};

static int scan_mapping(void *arg, const struct mp_mapping *m)
{
	struct scan_ctx *c = arg;
	struct mp_tls *t = c->t;
	struct file_key key = {m->dev, m->ino};
	/* By inode number alone: on overlayfs the file the process opened (the notice's) and the
	 * one it maps (maps') are two inodes on two devices that share the number. */
	bool noticed = c->notice && c->notice->ino == m->ino;
	struct file_key notice_key = noticed ? (struct file_key){c->notice->dev, c->notice->ino} : key;
	struct tls_file *f = find_file(t, key);
	char path[96];

	mp_proc_map_file(path, sizeof(path), c->pid, m);
	if (!f) {
		struct mp_tls_symbols syms;
		int err;

		if (key_set_has(&t->other, key)) {
			if (noticed)
				set_verdict(t, notice_key, MP_TLS_FILE_OTHER);
			return 0;
		}
		err = mp_tls_inspect_elf(path, &syms);
		if (err)
			return err == -ENOENT || err == -ESRCH; /* the process is gone: stop */
		if (!mp_tls_is_openssl(&syms)) {
			key_set_add(&t->other, key);
			set_verdict(t, key, MP_TLS_FILE_OTHER);
			set_verdict(t, notice_key, MP_TLS_FILE_OTHER);
			return 0;
		}
		f = new_file(t, key, m->path, &syms);
		if (!f)
			return 0;
		f->unsupported = syms.boringssl;
		set_verdict(t, key, f->unsupported ? MP_TLS_FILE_OTHER : MP_TLS_FILE_OPENSSL);
		if (f->unsupported)
			report(t, f, MP_TLS_UNSUPPORTED, c->pid, 0);
	}
	if (noticed)
		set_verdict(t, notice_key, f->unsupported ? MP_TLS_FILE_OTHER : MP_TLS_FILE_OPENSSL);
	if (!c->allowed || f->unsupported || f->failed)
		return 0;
	add_user(t, f, c->pid);
	if (!f->nlinks)
		attach(t, f, path, c->pid);
	return 0;
}

static void scan_process(struct mp_tls *t, pid_t pid, const struct mp_tls_notice *notice)
{
	struct file_key exe = {0};
	struct scan_ctx c = {.t = t, .pid = pid, .notice = notice};

	if (notice && notice->kind == MP_TLS_NOTICE_EXEC)
		exe = (struct file_key){notice->dev, notice->ino};
	c.allowed = process_allowed(t, pid, exe.ino ? &exe : NULL);
	mp_proc_code_mappings(pid, scan_mapping, &c);
}

static int scan_each(void *arg, pid_t pid)
{
	scan_process(arg, pid, NULL);
	return 0;
}

static int on_notice(void *arg, void *data, size_t size)
{
	struct mp_tls *t = arg;
	const struct mp_tls_notice *n = data;
	struct file_key key, exe = {0};
	struct tls_file *f;

	if (size < sizeof(*n))
		return 0;
	key = (struct file_key){n->dev, n->ino};
	f = find_file(t, key);
	if (f && (f->unsupported || f->failed))
		return 0;
	if (f && f->nlinks) {
		/* Probed already: one more process using it. */
		if (n->kind == MP_TLS_NOTICE_EXEC)
			exe = key;
		if (process_allowed(t, n->tgid, exe.ino ? &exe : NULL))
			add_user(t, f, n->tgid);
		return 0;
	}
	scan_process(t, n->tgid, n);
	return 0;
}

/* libssl on disk. -------------------------------------------------------------------------------- */

static void pin_libssl(void *arg, const char *path, const struct stat *st)
{
	struct mp_tls *t = arg;
	struct file_key key = {mp_kernel_dev(st->st_dev), st->st_ino};
	struct mp_tls_symbols syms;
	struct tls_file *f;
	char real[PATH_MAX];

	if (find_file(t, key) || mp_tls_inspect_elf(path, &syms) || !mp_tls_is_openssl(&syms) ||
	    syms.boringssl)
		return;
	f = new_file(t, key, path, &syms);
	if (!f)
		return;
	/* Reported by its own name, not the libssl.so link it may have been found through. */
	if (realpath(path, real) && strlen(real) < sizeof(f->path))
		memcpy(f->path, real, strlen(real) + 1);
	f->pinned = true;
	set_verdict(t, key, MP_TLS_FILE_OPENSSL);
	attach(t, f, path, 0);
}

/* Upkeep. ---------------------------------------------------------------------------------------- */

struct confirm_ctx {
	struct mp_tls *t;
	pid_t pid;
	int allowed; /* -1: not asked yet */
};

/* A process mapping a probed file that has no known user (a forked child): a user. */
static int confirm_mapping(void *arg, const struct mp_mapping *m)
{
	struct confirm_ctx *c = arg;
	struct tls_file *f = find_file(c->t, (struct file_key){m->dev, m->ino});

	if (!f || f->pinned || !f->nlinks || f->nusers)
		return 0;
	if (c->allowed < 0)
		c->allowed = process_allowed(c->t, c->pid, NULL);
	if (c->allowed)
		add_user(c->t, f, c->pid);
	return 0;
}

static int confirm_process(void *arg, pid_t pid)
{
	struct confirm_ctx c = {.t = arg, .pid = pid, .allowed = -1};

	mp_proc_code_mappings(pid, confirm_mapping, &c);
	return 0;
}

/* Dead processes out of mp_tls_procs (the kernel adds them; nothing tells it when they end). */
static void forget_dead_procs(struct mp_tls *t)
{
	struct bpf_map *map = t->skel->maps.mp_tls_procs;
	uint32_t key, next, dead[256];
	unsigned int n = 0;
	int err;

	for (err = bpf_map__get_next_key(map, NULL, &next, sizeof(next)); !err;
	     err = bpf_map__get_next_key(map, &key, &next, sizeof(next))) {
		key = next;
		if (!mp_proc_alive(key) && n < sizeof(dead) / sizeof(dead[0]))
			dead[n++] = key;
	}
	for (unsigned int i = 0; i < n; i++)
		bpf_map__delete_elem(map, &dead[i], sizeof(dead[i]), 0);
}

void mp_tls_tick(struct mp_tls *t, uint64_t now)
{
	unsigned int orphans = 0;

	if (!t || now < t->next_sweep_ns)
		return;
	t->next_sweep_ns = now + SWEEP_NS;
	refresh_netns(t, true);
	for (unsigned int i = 0; i < t->nfiles; i++) {
		struct tls_file *f = t->files[i];
		unsigned int kept = 0;

		for (unsigned int u = 0; u < f->nusers; u++)
			if (mp_proc_alive(f->users[u]))
				f->users[kept++] = f->users[u];
		f->nusers = kept;
		if (!f->pinned && f->nlinks && !f->nusers)
			orphans++;
	}
	forget_dead_procs(t);
	/* Before detaching, look at every process: the last known user may have forked. */
	if (orphans)
		mp_proc_each(confirm_process, t);
	for (unsigned int i = t->nfiles; i-- > 0;) {
		struct tls_file *f = t->files[i];

		if (f->pinned || !f->nlinks || f->nusers)
			continue;
		destroy_links(f);
		report(t, f, MP_TLS_DETACHED, 0, 0);
		/* Unknown again: the next process mapping it makes a notice. */
		forget_verdict(t, f->key);
		remove_file(t, i);
	}
}

/* Life cycle. ------------------------------------------------------------------------------------ */

bool mp_tls_configure(struct meshpipe *skel, const struct mp_options *o)
{
	struct bpf_program *progs[] = {
		skel->progs.mp_ssl_read,	 skel->progs.mp_ssl_read_ex, skel->progs.mp_ssl_write,
		skel->progs.mp_ssl_write_ex,	 skel->progs.mp_ssl_do_handshake,
		skel->progs.mp_ssl_return,	 skel->progs.mp_exec,	     skel->progs.mp_enter_mmap,
	};
	struct bpf_map *maps[] = {
		skel->maps.mp_tls_threads, skel->maps.mp_tls_bindings, skel->maps.mp_tls_held,
		skel->maps.mp_tls_files,   skel->maps.mp_tls_exes,     skel->maps.mp_tls_netns,
		skel->maps.mp_tls_procs,
	};
	bool on = o->tls;

	if (on && access("/sys/bus/event_source/devices/uprobe/type", R_OK)) {
		fprintf(stderr, "meshpipe-loader: TLS capture is off: this kernel has no uprobe events "
				"(CONFIG_UPROBES, CONFIG_UPROBE_EVENTS)\n");
		on = false;
	}
	if (on && !mp_tracepoint_exists("sched", "sched_process_exec")) {
		fprintf(stderr, "meshpipe-loader: TLS capture is off: the sched:sched_process_exec "
				"tracepoint is missing\n");
		on = false;
	}
	skel->rodata->mp_tls_enabled = on;
	skel->rodata->mp_tls_filter_exes = on && o->tls_binaries.n;
	skel->rodata->mp_tls_filter_netns = on && o->tls_pods.n;
	if (on)
		return true;
	/* Nothing of TLS loads, and its maps shrink to nothing. */
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
		bpf_program__set_autoload(progs[i], false);
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		bpf_map__set_max_entries(maps[i], 1);
	bpf_map__set_max_entries(skel->maps.mp_tls_notices, sysconf(_SC_PAGESIZE));
	return false;
}

struct mp_tls *mp_tls_start(struct meshpipe *skel, const struct mp_options *opts)
{
	struct mp_tls *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->skel = skel;
	t->opts = opts;
	t->notices = ring_buffer__new(bpf_map__fd(skel->maps.mp_tls_notices), on_notice, t, NULL);
	if (!t->notices) {
		free(t);
		return NULL;
	}
	refresh_netns(t, true);
	mp_tls_each_system_libssl(pin_libssl, t);
	mp_proc_each(scan_each, t);
	t->next_sweep_ns = now_ns() + SWEEP_NS;
	return t;
}

void mp_tls_announce(struct mp_tls *t, struct mp_output *out)
{
	t->out = out;
	for (unsigned int i = 0; i < t->nfiles; i++) {
		const struct tls_file *f = t->files[i];
		uint16_t state = f->unsupported ? MP_TLS_UNSUPPORTED
				 : f->failed	? MP_TLS_FAILED
				 : f->nlinks	? MP_TLS_ATTACHED
						: 0;
		pid_t pid = f->nusers ? f->users[0] : 0;

		if (state)
			report(t, f, state, pid, 0);
	}
}

int mp_tls_notice_fd(struct mp_tls *t)
{
	return ring_buffer__epoll_fd(t->notices);
}

void mp_tls_drain(struct mp_tls *t)
{
	ring_buffer__consume(t->notices);
}

void mp_tls_free(struct mp_tls *t)
{
	if (!t)
		return;
	ring_buffer__free(t->notices);
	while (t->nfiles)
		remove_file(t, t->nfiles - 1);
	free(t->files);
	free(t->other.v);
	free(t->netns);
	free(t);
}
