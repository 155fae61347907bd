/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls-attach.h — finding the OpenSSLs of the node and putting the TLS uprobes on them.
 *
 * A uprobe is placed on a file (inode + offset) and, attached for pid -1, fires in every process
 * that maps the file: one attachment per libssl or node binary, not per process. Files are found
 *
 *   - at start: libssl in the system library directories (kept probed while the loader runs, so a
 *     short-lived curl started later is covered from its first call), and every file the running
 *     processes map as code;
 *   - then from the kernel's notices (lib/tls_calls.h): a process exec'd or mmap'd as code a file
 *     without a verdict yet, or one that is OpenSSL. Each file is inspected once (tls-elf.c) and
 *     its verdict written back to the kernel, which stops mentioning files that are not OpenSSL.
 *
 * Each probed file keeps the processes known to map it; every few seconds dead ones are dropped,
 * and a file left with none (checked against every process's maps, which also finds forked
 * children the notices do not announce) is detached. Every attach, detach, failure and unsupported
 * library is reported to the agent as a TLS_LIBRARY record.
 */
#ifndef MP_LOADER_TLS_ATTACH_H
#define MP_LOADER_TLS_ATTACH_H

#include <stdbool.h>
#include <stdint.h>

#include "meshpipe.skel.h"
#include "options.h"
#include "output.h"

struct mp_tls;

/* Before loading: the .rodata switches, and no TLS program loads when TLS capture is off (or the
 * kernel cannot do it: the reason is printed). Returns whether TLS capture is on. */
bool mp_tls_configure(struct meshpipe *skel, const struct mp_options *opts);

/* After the programs are attached, before READY: probe the files in use now (READY means the
 * capture is complete, TLS included). NULL with errno set when the notice ring cannot be opened. */
struct mp_tls *mp_tls_start(struct meshpipe *skel, const struct mp_options *opts);

/* Right after READY: a TLS_LIBRARY record for each file found so far, then one for every change. */
void mp_tls_announce(struct mp_tls *tls, struct mp_output *out);

/* The notice ring's epoll fd; mp_tls_drain() when it is readable. */
int mp_tls_notice_fd(struct mp_tls *tls);
void mp_tls_drain(struct mp_tls *tls);

/* Periodic upkeep (dead processes, unused files, /run/netns); cheap when not due. */
void mp_tls_tick(struct mp_tls *tls, uint64_t now_ns);

/* Detaches everything. */
void mp_tls_free(struct mp_tls *tls);

#endif
