/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sock.h — from a syscall's fd to the TCP socket behind it, and the socket's identity.
 *
 * Syscall tracepoints only give us an fd number, so we walk the current task's fd table
 * the way fget() would (task->files->fdt->fd[fd]) with CO-RE reads. This runs for every
 * read()/write() on the node, so it rejects early: a non-socket fd costs the walk to the
 * inode mode and nothing more.
 */
#ifndef MP_SOCK_H
#define MP_SOCK_H

#include "common.h"
#include "maps/drops.h"

/* The struct file behind fd in the current process, or NULL. */
static __always_inline struct file *mp_file_from_fd(__s32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt;
	struct file **fds;
	struct file *file = NULL;

	if (fd < 0)
		return NULL;
	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt)
		return NULL;
	/* An fd beyond max_fds would make fd[fd] read whatever lies past the array. */
	if ((__u32)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]))
		return NULL;
	return file;
}

/* The TCP socket (IPv4/IPv6, incl. v4-mapped) behind fd in the current process, or NULL
 * for anything else: regular files, pipes, UNIX/UDP/raw sockets, MPTCP. */
static __always_inline struct sock *mp_tcp_sock_from_fd(__s32 fd)
{
	struct file *file = mp_file_from_fd(fd);
	struct socket *sock;
	struct sock *sk;
	__u16 mode, family, type, protocol;

	if (!file)
		return NULL;
	/* S_ISSOCK on the inode: what sock_from_file() checks through f_op, but without
	 * needing the address of socket_file_ops (a kallsyms lookup at load time). */
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk) {
		mp_count_drop(MP_DROP_READ_KERNEL);
		return NULL;
	}
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return NULL;
	type = BPF_CORE_READ(sk, sk_type);
	protocol = BPF_CORE_READ(sk, sk_protocol);
	if (type != SOCK_STREAM || protocol != IPPROTO_TCP)
		return NULL;
	return sk;
}

static __always_inline bool mp_is_v4_mapped(const __u8 *a)
{
	return !a[0] && !a[1] && !a[2] && !a[3] && !a[4] && !a[5] && !a[6] && !a[7] && !a[8] &&
	       !a[9] && a[10] == 0xff && a[11] == 0xff;
}

/* Move ::ffff:a.b.c.d to the IPv4 layout (first four bytes). */
static __always_inline void mp_unmap_v4(__u8 *a)
{
	__builtin_memcpy(a, a + 12, 4);
	__builtin_memset(a + 4, 0, 12);
}

/* Fill the tuple from the socket. A dual-stack (AF_INET6) socket talking to an IPv4 peer
 * is reported as IPv4 with MP_F_V4_MAPPED, so both ends of one TCP connection produce
 * the same normalised tuple whatever socket family each side used. */
static __always_inline void mp_read_tuple(struct sock *sk, struct mp_conn_tuple *t, __u32 *flags)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	__builtin_memset(t, 0, sizeof(*t));
	t->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->peer_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		t->family = MP_FAMILY_INET;
		BPF_CORE_READ_INTO((__be32 *)t->local_addr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__be32 *)t->peer_addr, sk, __sk_common.skc_daddr);
		return;
	}
	t->family = MP_FAMILY_INET6;
	BPF_CORE_READ_INTO((struct in6_addr *)t->local_addr, sk, __sk_common.skc_v6_rcv_saddr);
	BPF_CORE_READ_INTO((struct in6_addr *)t->peer_addr, sk, __sk_common.skc_v6_daddr);
	if (mp_is_v4_mapped(t->peer_addr)) {
		t->family = MP_FAMILY_INET;
		mp_unmap_v4(t->local_addr);
		mp_unmap_v4(t->peer_addr);
		*flags |= MP_F_V4_MAPPED;
	}
}

/* The socket's network namespace: the pod, in Kubernetes terms. */
static __always_inline __u32 mp_sock_netns(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* Peer address from connect()'s sockaddr argument (user memory). Used for failed
 * connects, where the socket may never have recorded the destination. */
static __always_inline int mp_read_user_sockaddr(__u64 uaddr, struct mp_conn_tuple *t,
						 __u32 *flags)
{
	struct sockaddr_in6 sa = {};

	if (bpf_probe_read_user(&sa, sizeof(sa.sin6_family), (void *)uaddr)) {
		mp_count_drop(MP_DROP_READ_USER);
		return -1;
	}
	if (sa.sin6_family == AF_INET) {
		struct sockaddr_in sin = {};

		if (bpf_probe_read_user(&sin, sizeof(sin), (void *)uaddr))
			goto fail;
		t->family = MP_FAMILY_INET;
		t->peer_port = bpf_ntohs(sin.sin_port);
		__builtin_memcpy(t->peer_addr, &sin.sin_addr.s_addr, 4);
		return 0;
	}
	if (sa.sin6_family != AF_INET6)
		return -1;
	if (bpf_probe_read_user(&sa, sizeof(sa), (void *)uaddr))
		goto fail;
	t->family = MP_FAMILY_INET6;
	t->peer_port = bpf_ntohs(sa.sin6_port);
	__builtin_memcpy(t->peer_addr, &sa.sin6_addr, 16);
	if (mp_is_v4_mapped(t->peer_addr)) {
		t->family = MP_FAMILY_INET;
		mp_unmap_v4(t->peer_addr);
		*flags |= MP_F_V4_MAPPED;
	}
	return 0;
fail:
	mp_count_drop(MP_DROP_READ_USER);
	return -1;
}

#endif
