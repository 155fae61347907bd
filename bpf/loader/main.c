/* SPDX-License-Identifier: Apache-2.0 */
/*
 * meshpipe-loader — loads the capture, feeds the agent.
 *
 *   kernel                      loader (this process)                  agent (Node)
 *   ┌────────────┐  ring buffer  ┌──────────────────────────────┐ pipe ┌──────────────┐
 *   │ tracepoints│ ────────────► │ drain every --poll-ms        │ ───► │ record-      │
 *   │ (no wakeup │   (forced     │ frame [u32 len][record]      │      │ decoder.ts   │
 *   │  < 1/2 full)│   wakeup when│ batch into one buffer        │      └──────────────┘
 *   └────────────┘   > 1/2 full) │ drop+count if the pipe is full│
 *                                │ STATS every --stats-ms        │
 *                                └──────────────────────────────┘
 *
 * One thread, one epoll set: the ring buffer (forced wake-ups), a signalfd (SIGTERM,
 * SIGINT), stdin (EOF = the agent died), stdout (writable again / reader gone), the TLS
 * notice ring (tls-attach.c: a process mapped a file that may be OpenSSL), and a timeout
 * for the periodic drain and stats.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "conntrack.h"
#include "environment.h"
#include "layout.h"
#include "meshpipe.skel.h"
#include "meshpipe_abi.h"
#include "options.h"
#include "output.h"
#include "schedule.h"
#include "tls-attach.h"
#include "tls-scan.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "records are written in host order and decoded as little-endian");

enum { EV_RING = 1, EV_SIGNAL, EV_STDIN, EV_STDOUT, EV_TLS };

/* Flush early while draining once this much is queued, so one drain of a full ring
 * does not sit in memory until the end of the drain. */
#define MP_FLUSH_THRESHOLD (256 << 10)

struct mp_loader {
	struct mp_options opts;
	struct meshpipe *skel;
	struct ring_buffer *rb;
	struct mp_output out;
	struct mp_tls *tls; /* NULL when TLS capture is off */
	int epfd;
	int sigfd;
	bool stdout_watched;
	bool stdout_wants_out;
	int ncpus;
	uint64_t *percpu;
	uint32_t features;
	uint64_t ring_records;
	uint64_t ring_bytes;
	struct mp_conntrack ct; /* fd -1 without --conntrack */
	bool stop;
	int status;
};

static bool verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN && !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void stop_with(struct mp_loader *l, int status)
{
	l->stop = true;
	if (!l->status)
		l->status = status;
}

static void flush_output(struct mp_loader *l)
{
	int err = mp_output_flush(&l->out);
	bool want_out;

	if (err == -EPIPE) {
		/* The agent closed its end: it is gone or shutting down, like stdin EOF. */
		fprintf(stderr, "meshpipe-loader: stdout closed by the reader, stopping\n");
		stop_with(l, MP_EXIT_OK);
		return;
	}
	if (err) {
		fprintf(stderr, "meshpipe-loader: writing stdout failed: %s\n", strerror(-err));
		stop_with(l, MP_EXIT_INTERNAL);
		return;
	}
	/* Ask for EPOLLOUT only while bytes wait, so an idle pipe does not spin. */
	want_out = mp_output_pending(&l->out) > 0;
	if (l->stdout_watched && want_out != l->stdout_wants_out) {
		struct epoll_event ev = {.events = want_out ? EPOLLOUT : 0, .data.u32 = EV_STDOUT};

		if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, STDOUT_FILENO, &ev) == 0)
			l->stdout_wants_out = want_out;
	}
}

/* Before the OPEN of a client connection: where it really went, if conntrack says it was NATed. */
static void write_nat(struct mp_loader *l, const void *data, size_t size)
{
	const struct mp_event_header *h = data;
	struct mp_nat_record nat = {.kind = MP_REC_NAT};

	if (size < sizeof(struct mp_open_event) || h->kind != MP_REC_OPEN || h->role != MP_ROLE_CLIENT)
		return;
	if (!mp_conntrack_translate(&l->ct, h->tuple.family, h->tuple.local_addr, h->tuple.local_port,
				    h->tuple.peer_addr, h->tuple.peer_port, nat.addr, &nat.port))
		return;
	nat.family = h->tuple.family;
	nat.conn_id = h->conn_id;
	mp_output_append(&l->out, &nat, sizeof(nat), false);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct mp_loader *l = ctx;

	l->ring_records++;
	l->ring_bytes += size;
	if (l->ct.fd >= 0)
		write_nat(l, data, size);
	mp_output_append(&l->out, data, size, false);
	if (mp_output_pending(&l->out) >= MP_FLUSH_THRESHOLD && l->out.nonblocking)
		flush_output(l);
	return 0;
}

static void write_stats(struct mp_loader *l)
{
	struct mp_stats_record st = {.kind = MP_REC_STATS, .nr_drop_reasons = MP_DROP__MAX};

	for (__u32 reason = 0; reason < MP_DROP__MAX; reason++) {
		if (bpf_map__lookup_elem(l->skel->maps.mp_drops, &reason, sizeof(reason), l->percpu,
					 sizeof(uint64_t) * l->ncpus, 0))
			continue;
		for (int cpu = 0; cpu < l->ncpus; cpu++)
			st.kernel_drops[reason] += l->percpu[cpu];
	}
	st.monotonic_ns = clock_ns(CLOCK_MONOTONIC);
	st.realtime_ns = clock_ns(CLOCK_REALTIME);
	st.ring_records = l->ring_records;
	st.ring_bytes = l->ring_bytes;
	st.forwarded_records = l->out.forwarded_records;
	st.forwarded_bytes = l->out.forwarded_bytes;
	st.loader_dropped_records = l->out.dropped_records;
	st.loader_dropped_bytes = l->out.dropped_bytes;
	mp_output_append(&l->out, &st, sizeof(st), true);
}

static void write_ready(struct mp_loader *l)
{
	struct mp_ready_record r = {
		.kind = MP_REC_READY,
		.abi_version = MP_ABI_VERSION,
		.loader_tgid = getpid(),
		.capture_cap = l->opts.cap_bytes,
		.ring_bytes = l->opts.ring_mb << 20,
		.poll_ms = l->opts.poll_ms,
		.features = l->features,
	};

	r.monotonic_ns = clock_ns(CLOCK_MONOTONIC);
	r.realtime_ns = clock_ns(CLOCK_REALTIME);
	mp_output_append(&l->out, &r, sizeof(r), true);
}

static int fill_list(struct bpf_map *map, const struct mp_u64_list *list, size_t key_size)
{
	__u8 one = 1;

	for (unsigned int i = 0; i < list->n; i++) {
		union {
			__u16 u16;
			__u32 u32;
			__u64 u64;
		} key;

		if (key_size == 2)
			key.u16 = list->v[i];
		else if (key_size == 4)
			key.u32 = list->v[i];
		else
			key.u64 = list->v[i];
		if (bpf_map__update_elem(map, &key, key_size, &one, sizeof(one), BPF_ANY))
			return -errno;
	}
	return 0;
}

static int configure_and_load(struct mp_loader *l)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = l->opts.btf_path);
	const struct mp_options *o = &l->opts;
	struct meshpipe *skel;
	bool async;
	int err;

	skel = meshpipe__open_opts(&open_opts);
	if (!skel) {
		mp_report("cannot open the embedded BPF object", strerror(errno), NULL);
		return MP_EXIT_INTERNAL;
	}
	l->skel = skel;

	async = o->async_connect && mp_tracepoint_exists("sock", "inet_sock_set_state");
	if (o->async_connect && !async)
		fprintf(stderr, "meshpipe-loader: sock:inet_sock_set_state not available, reporting "
				"synchronous connect failures only\n");
	if (async)
		l->features |= MP_FEAT_ASYNC_CONNECT;
	else
		bpf_program__set_autoload(skel->progs.mp_tcp_state, false);

	skel->rodata->mp_capture_cap = o->cap_bytes;
	skel->rodata->mp_h2_data_bytes = o->h2_data_bytes;
	skel->rodata->mp_wakeup_bytes = ((uint64_t)o->ring_mb << 20) / 2;
	skel->rodata->mp_filter_tgids = o->pids.n > 0;
	skel->rodata->mp_filter_ports = o->ports.n > 0;
	skel->rodata->mp_filter_cgroups = o->cgroups.n > 0;
	skel->rodata->mp_track_async_connect = async;
	if (mp_tls_configure(skel, o))
		l->features |= MP_FEAT_TLS;
	bpf_map__set_max_entries(skel->maps.mp_events, o->ring_mb << 20);
	bpf_map__set_max_entries(skel->maps.mp_conns, o->max_conns);

	err = meshpipe__load(skel);
	if (err)
		return mp_classify_bpf_error(err, true);
	return 0;
}

static int fill_filters(struct mp_loader *l)
{
	struct mp_u64_list *excluded = &l->opts.exclude_pids;
	int err;

	/* The loader never traces itself (nor, through --exclude-pid, the agent). */
	if (excluded->n < MP_MAX_LIST)
		excluded->v[excluded->n++] = getpid();
	err = fill_list(l->skel->maps.mp_excluded_tgids, excluded, sizeof(__u32));
	err = err ?: fill_list(l->skel->maps.mp_allowed_tgids, &l->opts.pids, sizeof(__u32));
	err = err ?: fill_list(l->skel->maps.mp_allowed_ports, &l->opts.ports, sizeof(__u16));
	err = err ?: fill_list(l->skel->maps.mp_allowed_cgroups, &l->opts.cgroups, sizeof(__u64));
	if (err) {
		mp_report("cannot fill the filter maps", strerror(-err),
			  "too many --exclude-pid values? at most 64 processes can be excluded");
		return MP_EXIT_USAGE;
	}
	return 0;
}

static int epoll_add(int epfd, int fd, uint32_t events, uint32_t tag)
{
	struct epoll_event ev = {.events = events, .data.u32 = tag};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static bool is_pipe_or_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

static int setup_loop(struct mp_loader *l)
{
	sigset_t mask;

	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return -errno;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	l->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (l->sigfd < 0)
		return -errno;
	if (epoll_add(l->epfd, l->sigfd, EPOLLIN, EV_SIGNAL))
		return -errno;
	if (epoll_add(l->epfd, ring_buffer__epoll_fd(l->rb), EPOLLIN, EV_RING))
		return -errno;
	/* stdin is the agent's lifeline only when it is a pipe/socket: EOF there means the
	 * agent died. A terminal or /dev/null says nothing about anyone's liveness. */
	if (is_pipe_or_socket(STDIN_FILENO)) {
		int flags = fcntl(STDIN_FILENO, F_GETFL);

		if (flags >= 0)
			(void)fcntl(STDIN_FILENO, F_SETFL, flags | O_NONBLOCK);
		if (epoll_add(l->epfd, STDIN_FILENO, EPOLLIN, EV_STDIN))
			return -errno;
	}
	/* With no events requested, epoll still reports EPOLLERR when the reader of the
	 * stdout pipe goes away; EPOLLOUT is added while output is pending. */
	if (l->out.nonblocking) {
		if (epoll_add(l->epfd, STDOUT_FILENO, 0, EV_STDOUT))
			return -errno;
		l->stdout_watched = true;
	}
	return 0;
}

static void handle_event(struct mp_loader *l, const struct epoll_event *ev, bool *drain)
{
	char buf[256];
	ssize_t n;

	switch (ev->data.u32) {
	case EV_RING:
		*drain = true;
		break;
	case EV_SIGNAL: {
		struct signalfd_siginfo si;

		if (read(l->sigfd, &si, sizeof(si)) == sizeof(si))
			stop_with(l, MP_EXIT_OK);
		break;
	}
	case EV_STDIN:
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			fprintf(stderr, "meshpipe-loader: stdin closed, stopping\n");
			stop_with(l, MP_EXIT_OK);
		}
		break;
	case EV_TLS:
		mp_tls_drain(l->tls);
		break;
	case EV_STDOUT:
		if (ev->events & (EPOLLERR | EPOLLHUP)) {
			fprintf(stderr, "meshpipe-loader: stdout closed by the reader, stopping\n");
			stop_with(l, MP_EXIT_OK);
		} else {
			flush_output(l);
		}
		break;
	}
}

static int run_loop(struct mp_loader *l)
{
	uint64_t poll_ns = (uint64_t)l->opts.poll_ms * 1000000;
	uint64_t stats_ns = (uint64_t)l->opts.stats_ms * 1000000;
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	uint64_t next_drain = now + poll_ns, next_stats = now + stats_ns;
	struct epoll_event events[8];

	while (!l->stop) {
		uint64_t next = next_drain < next_stats ? next_drain : next_stats;
		int timeout = next > now ? (int)((next - now + 999999) / 1000000) : 0;
		bool drain = false;
		int n = epoll_wait(l->epfd, events, 8, timeout);

		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "meshpipe-loader: epoll_wait: %s\n", strerror(errno));
			return MP_EXIT_INTERNAL;
		}
		for (int i = 0; i < n; i++)
			handle_event(l, &events[i], &drain);
		now = clock_ns(CLOCK_MONOTONIC);
		if (drain || now >= next_drain) {
			int err = ring_buffer__consume(l->rb);

			if (err < 0 && err != -EINTR) {
				fprintf(stderr, "meshpipe-loader: ring buffer: %s\n", strerror(-err));
				return MP_EXIT_INTERNAL;
			}
			next_drain = now + poll_ns;
		}
		mp_tls_tick(l->tls, now);
		if (now >= next_stats) {
			write_stats(l);
			next_stats = now + stats_ns;
		}
		if (mp_output_pending(&l->out))
			flush_output(l);
	}
	/* Hand over what is already in the ring; best effort, never blocking. */
	ring_buffer__consume(l->rb);
	write_stats(l);
	if (l->out.nonblocking || l->status == MP_EXIT_OK)
		(void)mp_output_flush(&l->out);
	return l->status;
}

static void cleanup(struct mp_loader *l)
{
	mp_tls_free(l->tls);
	ring_buffer__free(l->rb);
	mp_conntrack_close(&l->ct);
	/* Destroying the skeleton detaches every program and frees the maps. */
	meshpipe__destroy(l->skel);
	mp_output_free(&l->out);
	free(l->percpu);
	if (l->epfd > 0)
		close(l->epfd);
	if (l->sigfd > 0)
		close(l->sigfd);
}

/* SCHED_IDLE for this process and the listed ones (schedule.c says why). A failure is reported and
 * capture goes on under the default policy: it costs latency, not correctness. */
static void apply_sched(const struct mp_options *o)
{
	int err;

	if (o->sched_idle) {
		err = mp_sched_idle(0);
		if (err)
			fprintf(stderr, "meshpipe-loader: cannot run under SCHED_IDLE: %s\n", strerror(-err));
	}
	for (unsigned int i = 0; i < o->sched_idle_pids.n; i++) {
		err = mp_sched_idle((pid_t)o->sched_idle_pids.v[i]);
		if (err)
			fprintf(stderr, "meshpipe-loader: cannot put pid %llu under SCHED_IDLE: %s\n",
				(unsigned long long)o->sched_idle_pids.v[i], strerror(-err));
	}
}

int main(int argc, char **argv)
{
	static struct mp_loader loader;
	struct mp_loader *l = &loader;
	sigset_t mask;
	int rc, err;

	l->ct.fd = -1;
	rc = mp_parse_options(argc, argv, &l->opts);
	if (rc)
		return rc < 0 ? MP_EXIT_USAGE : MP_EXIT_OK;
	if (l->opts.layout) {
		mp_print_layout();
		return MP_EXIT_OK;
	}
	if (l->opts.tls_scan)
		return mp_tls_scan_print();
	verbose = l->opts.verbose;
	libbpf_set_print(libbpf_print);
	apply_sched(&l->opts);

	/* Signals are taken through the signalfd, including one that arrives while the
	 * programs load; a closed stdout must be an error code, not a SIGPIPE death. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = mp_check_btf(l->opts.btf_path);
	rc = rc ?: mp_check_capabilities();
	rc = rc ?: mp_ensure_tracefs();
	if (rc)
		return rc;
	if (!mp_tracepoint_exists("syscalls", "sys_enter_read")) {
		mp_report("no syscall tracepoints in tracefs (events/syscalls)", "not found",
			  "the kernel must be built with CONFIG_FTRACE_SYSCALLS=y");
		return MP_EXIT_KERNEL;
	}

	l->ncpus = libbpf_num_possible_cpus();
	l->percpu = l->ncpus > 0 ? calloc(l->ncpus, sizeof(uint64_t)) : NULL;
	if (!l->percpu) {
		mp_report("cannot size per-CPU buffers", strerror(l->ncpus < 0 ? -l->ncpus : ENOMEM),
			  NULL);
		return MP_EXIT_INTERNAL;
	}

	rc = configure_and_load(l);
	rc = rc ?: fill_filters(l);
	if (rc)
		goto out;
	err = meshpipe__attach(l->skel);
	if (err) {
		rc = mp_classify_bpf_error(err, false);
		goto out;
	}
	l->rb = ring_buffer__new(bpf_map__fd(l->skel->maps.mp_events), on_record, l, NULL);
	if (!l->rb) {
		rc = mp_classify_bpf_error(-errno, false);
		goto out;
	}
	if (l->opts.conntrack) {
		err = mp_conntrack_open(&l->ct, l->opts.conntrack_netns);
		if (err) {
			/* NAT pairing is an improvement, not the capture: go on without it, and say why. */
			fprintf(stderr, "meshpipe-loader: conntrack unavailable (%s): NAT is not resolved\n",
				strerror(-err));
		}
	}
	err = mp_output_init(&l->out, STDOUT_FILENO, (size_t)l->opts.output_mb << 20);
	err = err ?: setup_loop(l);
	if (err) {
		mp_report("cannot set up the event loop", strerror(-err), NULL);
		rc = MP_EXIT_INTERNAL;
		goto out;
	}
	/* The TLS libraries in use now are probed before READY, which promises a complete capture;
	 * their TLS_LIBRARY records follow it. */
	if (l->features & MP_FEAT_TLS) {
		l->tls = mp_tls_start(l->skel, &l->opts);
		if (!l->tls || epoll_add(l->epfd, mp_tls_notice_fd(l->tls), EPOLLIN, EV_TLS)) {
			mp_report("cannot start TLS capture", strerror(errno), NULL);
			rc = MP_EXIT_INTERNAL;
			goto out;
		}
	}
	write_ready(l);
	if (l->tls)
		mp_tls_announce(l->tls, &l->out);
	flush_output(l);
	rc = run_loop(l);
out:
	cleanup(l);
	return rc;
}
