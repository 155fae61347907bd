/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mp_syscall_args — arguments stashed at sys_enter_* for the matching sys_exit_*, keyed
 * by pid_tgid (one syscall in flight per thread).
 *
 * Only syscalls on TCP connections we may report are stashed, so the size bounds the
 * threads concurrently blocked in such a syscall: 32768 (~3 MiB). A plain hash, not LRU:
 * every entry is deleted at exit (sys_exit fires even when the thread is killed inside
 * the syscall), and a full map is a counted drop (MP_DROP_ARGS_MAP_FULL) rather than
 * the silent eviction of another thread's syscall.
 */
#ifndef MP_MAP_SYSCALL_ARGS_H
#define MP_MAP_SYSCALL_ARGS_H

#include "../common.h"

struct mp_syscall_args {
	__u64 buf;       /* user buffer, iovec array, or sockaddr (connect) */
	__u64 sk;        /* struct sock * seen at entry (connect) */
	__u64 conn_id;   /* data syscalls: the connection the fd pointed at on entry */
	__u64 enter_ns;
	__s32 fd;
	__u32 vlen;      /* iovec count when vectored */
	__u16 syscall;   /* enum mp_syscall */
	__u8 vectored;   /* buf is an iovec array */
	__u8 _pad[5];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u64);
	__type(value, struct mp_syscall_args);
} mp_syscall_args SEC(".maps");

#endif
