/* SPDX-License-Identifier: Apache-2.0 */
/* options.h — meshpipe-loader's command line. */
#ifndef MP_LOADER_OPTIONS_H
#define MP_LOADER_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#define MP_MAX_LIST 1024

struct mp_u64_list {
	uint64_t v[MP_MAX_LIST];
	unsigned int n;
};

#define MP_MAX_GLOBS 64

struct mp_glob_list {
	const char *v[MP_MAX_GLOBS];
	unsigned int n;
};

struct mp_options {
	uint32_t cap_bytes;       /* --cap-bytes: per-message copy budget */
	uint32_t h2_data_bytes;   /* --h2-data-bytes: DATA payload bytes copied per frame */
	uint32_t poll_ms;         /* --poll-ms: ring drain interval */
	uint32_t stats_ms;        /* --stats-ms: STATS record interval */
	uint32_t ring_mb;         /* --ring-mb: ring buffer size (power of two) */
	uint32_t max_conns;       /* --max-conns: conn-info map entries */
	uint32_t output_mb;       /* --output-mb: user-space stdout buffer */
	const char *btf_path;     /* --btf: BTF file when the kernel has none */
	bool async_connect;       /* false with --no-async-connect */
	bool verbose;             /* --verbose: libbpf debug output */
	bool layout;              /* --layout: print the ABI layout as JSON and exit */
	bool sched_idle;          /* --sched-idle: run under SCHED_IDLE */
	bool tls;                 /* --tls: TLS plaintext capture (uprobes on OpenSSL) */
	bool tls_scan;            /* --tls-scan: print the TLS libraries in use as JSON and exit */
	struct mp_glob_list tls_binaries; /* --tls-binary: only these executables' TLS */
	struct mp_glob_list tls_pods;     /* --tls-pod: only these network namespaces' TLS */
	bool conntrack;           /* --conntrack: NAT records for client connections (conntrack.h) */
	const char *conntrack_netns; /* --conntrack-netns: where the NAT happens (default: ours) */
	struct mp_u64_list exclude_pids;
	struct mp_u64_list pids;
	struct mp_u64_list ports;
	struct mp_u64_list cgroups;
	struct mp_u64_list sched_idle_pids; /* --sched-idle-pid: every thread of these too */
};

/* Parse argv into opts. Returns -1 after printing the problem for a usage error, 1 if
 * --help was printed, 0 to go on. */
int mp_parse_options(int argc, char **argv, struct mp_options *opts);

#endif
