/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * config.h — load-time configuration in .rodata.
 *
 * The loader writes these through the skeleton before loading; the kernel freezes
 * .rodata, so the verifier sees constants and removes the code of disabled filters
 * entirely (a disabled allow-list costs nothing, not even a branch).
 */
#ifndef MP_CONFIG_H
#define MP_CONFIG_H

#include "common.h"

/* Per-message copy budget, per connection and direction (--cap-bytes). The loader
 * guarantees 1 <= mp_capture_cap <= MP_CAPTURE_MAX. */
const volatile __u32 mp_capture_cap = MP_CAPTURE_DEFAULT;

/* Force a consumer wake-up only once this many bytes wait in the ring (half of it);
 * below that the loader drains on its own timer. See emit.h for why. */
const volatile __u64 mp_wakeup_bytes = 4 << 20;

/* Allow-lists: when enabled, only matching connections are traced. */
const volatile bool mp_filter_tgids = false;
const volatile bool mp_filter_ports = false;
const volatile bool mp_filter_cgroups = false;

/* HTTP/2: DATA payload bytes copied per frame in elided records (--h2-data-bytes). The
 * loader guarantees mp_h2_data_bytes <= MP_H2_DATA_MAX. */
const volatile __u32 mp_h2_data_bytes = MP_H2_DATA_DEFAULT;

/* Report asynchronous connect failures (needs sock:inet_sock_set_state). */
const volatile bool mp_track_async_connect = true;

/* TLS plaintext capture through uprobes on OpenSSL (tls.h, tls_calls.h). Off unless the loader
 * turns it on; the filters limit it to executables (mp_tls_exes) and network namespaces
 * (mp_tls_netns) the loader fills. */
const volatile bool mp_tls_enabled = false;
const volatile bool mp_tls_filter_exes = false;
const volatile bool mp_tls_filter_netns = false;

#endif /* MP_CONFIG_H */
