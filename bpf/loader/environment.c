/* SPDX-License-Identifier: Apache-2.0 */
#include "environment.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "meshpipe_abi.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif

static const char permission_hint[] =
	"run as root, or grant CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE (e.g. `setcap "
	"cap_bpf,cap_perfmon,cap_sys_resource+ep meshpipe-loader`; in Kubernetes add them to "
	"securityContext.capabilities). CAP_SYS_ADMIN is also needed if tracefs must be mounted";

void mp_report(const char *what, const char *why, const char *hint)
{
	fprintf(stderr, "meshpipe-loader: %s: %s\n", what, why);
	if (hint)
		fprintf(stderr, "  fix: %s\n", hint);
}

int mp_check_btf(const char *custom_path)
{
	const char *path = custom_path ? custom_path : MP_DEFAULT_BTF;

	if (access(path, R_OK) == 0)
		return 0;
	mp_report(custom_path ? "cannot read the BTF file given with --btf"
			      : "the kernel exposes no BTF at " MP_DEFAULT_BTF,
		  strerror(errno),
		  "meshpipe relocates its programs to the running kernel with BTF (CO-RE): use a "
		  "kernel built with CONFIG_DEBUG_INFO_BTF=y (the default of current distribution "
		  "kernels), or pass --btf FILE with the BTF of this exact kernel (e.g. from BTFHub)");
	return MP_EXIT_NO_BTF;
}

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

int mp_check_capabilities(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
	bool admin, bpf, perfmon;

	if (syscall(SYS_capget, &hdr, data))
		return 0; /* cannot tell: let the kernel decide */
	admin = has_cap(data, CAP_SYS_ADMIN);
	bpf = admin || has_cap(data, CAP_BPF);
	perfmon = admin || has_cap(data, CAP_PERFMON);
	if (bpf && perfmon)
		return 0;
	mp_report("not permitted to load eBPF tracing programs",
		  !bpf ? "the process lacks CAP_BPF (or CAP_SYS_ADMIN)"
		       : "the process lacks CAP_PERFMON (or CAP_SYS_ADMIN)",
		  permission_hint);
	return MP_EXIT_PERMISSION;
}

static bool is_tracefs(const char *path)
{
	struct statfs fs;

	return statfs(path, &fs) == 0 && fs.f_type == TRACEFS_MAGIC;
}

/* libbpf finds tracepoint ids under /sys/kernel/tracing, or /sys/kernel/debug/tracing
 * when that path exists. Hosts and containers often have neither mounted; mounting
 * tracefs is harmless and idempotent, and it is left mounted on exit because other
 * tracers may start using it in the meantime. */
int mp_ensure_tracefs(void)
{
	if (access("/sys/kernel/debug/tracing/events", F_OK) == 0 || is_tracefs(MP_TRACEFS))
		return 0;
	if (mkdir(MP_TRACEFS, 0700) && errno != EEXIST) {
		mp_report("tracefs is not mounted and " MP_TRACEFS " cannot be created", strerror(errno),
			  "mount tracefs before starting: `mount -t tracefs tracefs " MP_TRACEFS
			  "` (in a container, mount the host's " MP_TRACEFS ")");
		return MP_EXIT_TRACEFS;
	}
	if (mount("tracefs", MP_TRACEFS, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
		mp_report("tracefs is not mounted and mounting it at " MP_TRACEFS " failed",
			  strerror(errno),
			  "mount it before starting: `mount -t tracefs tracefs " MP_TRACEFS
			  "` (needs CAP_SYS_ADMIN; in a container, mount the host's " MP_TRACEFS
			  " or run with CAP_SYS_ADMIN)");
		return MP_EXIT_TRACEFS;
	}
	return 0;
}

bool mp_tracepoint_exists(const char *category, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/kernel/debug/tracing/events/%s/%s/id", category, name);
	if (access(path, R_OK) == 0)
		return true;
	snprintf(path, sizeof(path), MP_TRACEFS "/events/%s/%s/id", category, name);
	return access(path, R_OK) == 0;
}

int mp_classify_bpf_error(int err, bool load)
{
	if (err == -EPERM || (!load && err == -EACCES)) {
		mp_report(load ? "the kernel refused to load the eBPF programs"
			       : "the kernel refused to attach the eBPF programs",
			  strerror(-err), permission_hint);
		return MP_EXIT_PERMISSION;
	}
	if (load) {
		mp_report("the kernel rejected the eBPF programs", strerror(-err),
			  "meshpipe needs Linux >= 5.12 with BTF, BPF ring buffers and syscall "
			  "tracepoints (CONFIG_FTRACE_SYSCALLS); the libbpf output above names the "
			  "program or map and, for the verifier, the instruction");
	} else {
		mp_report("attaching to the syscall tracepoints failed", strerror(-err),
			  "the kernel needs CONFIG_FTRACE_SYSCALLS; the libbpf output above names the "
			  "tracepoint");
	}
	return MP_EXIT_KERNEL;
}
