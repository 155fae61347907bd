/* SPDX-License-Identifier: Apache-2.0 */
/*
 * environment.h — what the host must provide, checked before touching the kernel so that
 * each missing piece fails with its own exit code (enum mp_exit_code) and the fix.
 */
#ifndef MP_LOADER_ENVIRONMENT_H
#define MP_LOADER_ENVIRONMENT_H

#include <stdbool.h>

#define MP_DEFAULT_BTF "/sys/kernel/btf/vmlinux"
#define MP_TRACEFS "/sys/kernel/tracing"

/* Each returns 0 or an enum mp_exit_code, having printed the problem and its fix. */
int mp_check_btf(const char *custom_path);
int mp_check_capabilities(void);
int mp_ensure_tracefs(void);

/* Whether tracefs has the event `category/name` (after mp_ensure_tracefs). */
bool mp_tracepoint_exists(const char *category, const char *name);

/* Print "meshpipe-loader: <what>: <why>\n  fix: <hint>\n" to stderr. */
void mp_report(const char *what, const char *why, const char *hint);

/* Exit code for a libbpf error returned while loading (load = true) or attaching. */
int mp_classify_bpf_error(int err, bool load);

#endif
