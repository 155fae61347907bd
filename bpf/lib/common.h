/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * common.h — includes and kernel constants every BPF header needs.
 *
 * vmlinux.h (generated from the running kernel's BTF at build time) carries types but no
 * preprocessor constants, so the few UAPI values we compare against are spelled out
 * here. They are ABI and never change.
 */
#ifndef MP_COMMON_H
#define MP_COMMON_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>

#include "meshpipe_abi.h"

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define IPPROTO_TCP 6

#define S_IFMT 00170000
#define S_IFSOCK 0140000

#define EINTR 4
#define EINPROGRESS 115
#define EALREADY 114
#define EISCONN 106

/* TCP states (include/net/tcp_states.h) for sock:inet_sock_set_state. */
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7

#ifndef barrier_var
#define barrier_var(var) asm volatile("" : "+r"(var))
#endif

#define MP_MIN(a, b) ((a) < (b) ? (a) : (b))

#endif /* MP_COMMON_H */
