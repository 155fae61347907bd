/* SPDX-License-Identifier: Apache-2.0 */
/*
 * options.c — command-line parsing. Every value is range-checked here so the rest of the
 * loader (and the BPF side, which trusts its .rodata) can rely on it.
 */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "meshpipe_abi.h"

static const char usage[] =
	"Usage: meshpipe-loader [options]\n"
	"\n"
	"Loads meshpipe's eBPF capture (syscall tracepoints), and writes its records to stdout\n"
	"as frames of [u32 little-endian length][record], for the meshpipe agent.\n"
	"Stops (exit 0) on SIGTERM/SIGINT, or when stdin is a pipe and its writer goes away.\n"
	"\n"
	"Capture:\n"
	"  --cap-bytes N      bytes copied per HTTP message and direction (1..%d, default %d)\n"
	"  --h2-data-bytes N  HTTP/2: bytes of each DATA payload copied from buffers larger\n"
	"                     than --cap-bytes (0..%d, default %d: the gRPC message prefix)\n"
	"  --exclude-pid PID  never trace this process (repeatable; the loader excludes itself)\n"
	"  --pid PID          only trace these processes (repeatable)\n"
	"  --port PORT        only trace connections with this local or peer port (repeatable)\n"
	"  --cgroup ID|PATH   only trace tasks in this cgroup v2, by id or directory (repeatable)\n"
	"  --no-async-connect do not hook sock:inet_sock_set_state (no async connect failures)\n"
	"  --tls              capture TLS plaintext with uprobes on OpenSSL (libssl, node)\n"
	"  --tls-binary GLOB  only read the TLS of executables matching GLOB: a path, or a name\n"
	"                     matched against the executable's file name (repeatable)\n"
	"  --tls-pod GLOB     only read the TLS of processes in network namespaces named GLOB\n"
	"                     (`ip netns` names, /run/netns; repeatable)\n"
	"  --conntrack        before the OPEN of a client connection whose destination was NATed\n"
	"                     (a ClusterIP), a NAT record with the real one, from conntrack (CAP_NET_ADMIN)\n"
	"  --conntrack-netns FILE  look conntrack up in this network namespace (default: the loader's)\n"
	"\n"
	"Resources:\n"
	"  --poll-ms N        drain the ring buffer every N ms (1..1000, default 10)\n"
	"  --stats-ms N       write a STATS record every N ms (100..60000, default 1000)\n"
	"  --ring-mb N        ring buffer size in MiB, a power of two (1..1024, default 8)\n"
	"  --max-conns N      connections tracked at once (1024..4194304, default 65536)\n"
	"  --output-mb N      stdout buffer before records are dropped (1..1024, default 4)\n"
	"  --btf FILE         BTF of the running kernel, when /sys/kernel/btf/vmlinux is absent\n"
	"  --sched-idle       run under SCHED_IDLE: preempted at once by any normal task that wakes\n"
	"  --sched-idle-pid PID  put every thread of PID under SCHED_IDLE too (repeatable)\n"
	"\n"
	"Other:\n"
	"  --layout           print the record layout (sizes, offsets, enums) as JSON and exit\n"
	"  --tls-scan         print the TLS libraries the running processes map, as JSON, and exit\n"
	"  --verbose          include libbpf's debug output on stderr\n"
	"  --help             this text\n"
	"\n"
	"Exit codes: 0 stopped, 1 internal error, 2 usage, 3 no kernel BTF, 4 permission,\n"
	"5 tracefs unavailable, 6 kernel refused a program/map/tracepoint.\n";

static int parse_u64(const char *flag, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "meshpipe-loader: %s must be an integer in %" PRIu64 "..%" PRIu64
				" (got '%s')\n",
			flag, min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int push(const char *flag, struct mp_u64_list *list, uint64_t v)
{
	if (list->n >= MP_MAX_LIST) {
		fprintf(stderr, "meshpipe-loader: at most %d values for %s\n", MP_MAX_LIST, flag);
		return -1;
	}
	list->v[list->n++] = v;
	return 0;
}

static int push_glob(const char *flag, struct mp_glob_list *list, const char *glob)
{
	if (!glob[0]) {
		fprintf(stderr, "meshpipe-loader: %s needs a non-empty pattern\n", flag);
		return -1;
	}
	if (list->n >= MP_MAX_GLOBS) {
		fprintf(stderr, "meshpipe-loader: at most %d values for %s\n", MP_MAX_GLOBS, flag);
		return -1;
	}
	list->v[list->n++] = glob;
	return 0;
}

/* A cgroup v2 id is the inode number of its directory in the cgroup2 filesystem, which is
 * what bpf_get_current_cgroup_id() returns; accept either form. */
static int parse_cgroup(const char *s, uint64_t *out)
{
	struct stat st;

	if (s[0] == '/') {
		if (stat(s, &st) || !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "meshpipe-loader: --cgroup %s: not a cgroup directory (%s)\n", s,
				strerror(errno ? errno : ENOTDIR));
			return -1;
		}
		*out = st.st_ino;
		return 0;
	}
	return parse_u64("--cgroup", s, 1, UINT64_MAX, out);
}

enum {
	OPT_CAP = 256, OPT_EXCLUDE, OPT_PID, OPT_PORT, OPT_CGROUP, OPT_POLL, OPT_STATS, OPT_RING,
	OPT_MAX_CONNS, OPT_OUTPUT, OPT_BTF, OPT_NO_ASYNC, OPT_LAYOUT, OPT_VERBOSE, OPT_HELP,
	OPT_SCHED_IDLE, OPT_SCHED_IDLE_PID, OPT_H2_DATA, OPT_TLS, OPT_TLS_BINARY, OPT_TLS_POD,
	OPT_TLS_SCAN, OPT_CONNTRACK, OPT_CONNTRACK_NETNS,
};

int mp_parse_options(int argc, char **argv, struct mp_options *o)
{
	static const struct option longopts[] = {
		{"cap-bytes", required_argument, NULL, OPT_CAP},
		{"h2-data-bytes", required_argument, NULL, OPT_H2_DATA},
		{"exclude-pid", required_argument, NULL, OPT_EXCLUDE},
		{"pid", required_argument, NULL, OPT_PID},
		{"port", required_argument, NULL, OPT_PORT},
		{"cgroup", required_argument, NULL, OPT_CGROUP},
		{"poll-ms", required_argument, NULL, OPT_POLL},
		{"stats-ms", required_argument, NULL, OPT_STATS},
		{"ring-mb", required_argument, NULL, OPT_RING},
		{"max-conns", required_argument, NULL, OPT_MAX_CONNS},
		{"output-mb", required_argument, NULL, OPT_OUTPUT},
		{"btf", required_argument, NULL, OPT_BTF},
		{"no-async-connect", no_argument, NULL, OPT_NO_ASYNC},
		{"layout", no_argument, NULL, OPT_LAYOUT},
		{"verbose", no_argument, NULL, OPT_VERBOSE},
		{"help", no_argument, NULL, OPT_HELP},
		{"sched-idle", no_argument, NULL, OPT_SCHED_IDLE},
		{"sched-idle-pid", required_argument, NULL, OPT_SCHED_IDLE_PID},
		{"tls", no_argument, NULL, OPT_TLS},
		{"tls-binary", required_argument, NULL, OPT_TLS_BINARY},
		{"tls-pod", required_argument, NULL, OPT_TLS_POD},
		{"tls-scan", no_argument, NULL, OPT_TLS_SCAN},
		{"conntrack", no_argument, NULL, OPT_CONNTRACK},
		{"conntrack-netns", required_argument, NULL, OPT_CONNTRACK_NETNS},
		{0},
	};
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->cap_bytes = MP_CAPTURE_DEFAULT;
	o->h2_data_bytes = MP_H2_DATA_DEFAULT;
	o->poll_ms = 10;
	o->stats_ms = 1000;
	o->ring_mb = 8;
	o->max_conns = 65536;
	o->output_mb = 4;
	o->async_connect = true;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		int rc = 0;

		switch (c) {
		case OPT_CAP:
			rc = parse_u64("--cap-bytes", optarg, 1, MP_CAPTURE_MAX, &v);
			o->cap_bytes = v;
			break;
		case OPT_H2_DATA:
			rc = parse_u64("--h2-data-bytes", optarg, 0, MP_H2_DATA_MAX, &v);
			o->h2_data_bytes = v;
			break;
		case OPT_EXCLUDE:
			rc = parse_u64("--exclude-pid", optarg, 1, UINT32_MAX, &v);
			rc = rc ?: push("--exclude-pid", &o->exclude_pids, v);
			break;
		case OPT_PID:
			rc = parse_u64("--pid", optarg, 1, UINT32_MAX, &v);
			rc = rc ?: push("--pid", &o->pids, v);
			break;
		case OPT_PORT:
			rc = parse_u64("--port", optarg, 1, 65535, &v);
			rc = rc ?: push("--port", &o->ports, v);
			break;
		case OPT_CGROUP:
			rc = parse_cgroup(optarg, &v);
			rc = rc ?: push("--cgroup", &o->cgroups, v);
			break;
		case OPT_POLL:
			rc = parse_u64("--poll-ms", optarg, 1, 1000, &v);
			o->poll_ms = v;
			break;
		case OPT_STATS:
			rc = parse_u64("--stats-ms", optarg, 100, 60000, &v);
			o->stats_ms = v;
			break;
		case OPT_RING:
			rc = parse_u64("--ring-mb", optarg, 1, 1024, &v);
			if (!rc && (v & (v - 1))) {
				fprintf(stderr, "meshpipe-loader: --ring-mb must be a power of two (got %s)\n",
					optarg);
				rc = -1;
			}
			o->ring_mb = v;
			break;
		case OPT_MAX_CONNS:
			rc = parse_u64("--max-conns", optarg, 1024, 4194304, &v);
			o->max_conns = v;
			break;
		case OPT_OUTPUT:
			rc = parse_u64("--output-mb", optarg, 1, 1024, &v);
			o->output_mb = v;
			break;
		case OPT_BTF:
			o->btf_path = optarg;
			break;
		case OPT_NO_ASYNC:
			o->async_connect = false;
			break;
		case OPT_LAYOUT:
			o->layout = true;
			break;
		case OPT_VERBOSE:
			o->verbose = true;
			break;
		case OPT_SCHED_IDLE:
			o->sched_idle = true;
			break;
		case OPT_CONNTRACK:
			o->conntrack = true;
			break;
		case OPT_CONNTRACK_NETNS:
			o->conntrack = true;
			o->conntrack_netns = optarg;
			break;
		case OPT_SCHED_IDLE_PID:
			rc = parse_u64("--sched-idle-pid", optarg, 1, UINT32_MAX, &v);
			rc = rc ?: push("--sched-idle-pid", &o->sched_idle_pids, v);
			break;
		case OPT_TLS:
			o->tls = true;
			break;
		case OPT_TLS_BINARY:
			rc = push_glob("--tls-binary", &o->tls_binaries, optarg);
			break;
		case OPT_TLS_POD:
			rc = push_glob("--tls-pod", &o->tls_pods, optarg);
			break;
		case OPT_TLS_SCAN:
			o->tls_scan = true;
			break;
		case OPT_HELP:
			printf(usage, MP_CAPTURE_MAX, MP_CAPTURE_DEFAULT, MP_H2_DATA_MAX, MP_H2_DATA_DEFAULT);
			return 1;
		case ':':
			fprintf(stderr, "meshpipe-loader: %s needs a value\n", argv[optind - 1]);
			rc = -1;
			break;
		default:
			fprintf(stderr, "meshpipe-loader: unknown option '%s'\n", argv[optind - 1]);
			rc = -1;
			break;
		}
		if (rc)
			goto usage_error;
	}
	if ((o->tls_binaries.n || o->tls_pods.n) && !o->tls) {
		fprintf(stderr, "meshpipe-loader: --tls-binary and --tls-pod need --tls\n");
		goto usage_error;
	}
	if (optind < argc) {
		fprintf(stderr, "meshpipe-loader: unexpected argument '%s'\n", argv[optind]);
		goto usage_error;
	}
	return 0;
usage_error:
	fprintf(stderr, "Try 'meshpipe-loader --help'.\n");
	return -1;
}
