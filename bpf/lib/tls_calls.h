/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tls_calls.h — the OpenSSL calls (uprobes on SSL_read, SSL_read_ex, SSL_write, SSL_write_ex and
 * SSL_do_handshake, one uretprobe for all), and the notices that tell the loader which files to
 * probe.
 *
 * Entry notes the call in the thread's entry (tls_threads.h); return knows the byte count and, if
 * the SSL* is tied to a connection (tls.h), reports the plaintext exactly as data.h reports a
 * syscall's bytes: same classification, same copy budget, same records, with the syscall
 * MP_SYS_SSL_READ/WRITE and the connection's MP_F_TLS flag. The buffer is read at return: for
 * reads the plaintext only exists then, and a write's buffer is still the caller's.
 */
#ifndef MP_TLS_CALLS_H
#define MP_TLS_CALLS_H

#include "common.h"
#include "config.h"
#include "data.h"
#include "maps/excluded_tgids.h"
#include "maps/tls_exes.h"
#include "maps/tls_files.h"
#include "maps/tls_netns.h"
#include "maps/tls_notices.h"
#include "maps/tls_scratch.h"
#include "sock.h"
#include "tls.h"

#define PROT_EXEC 4

/* Whether this process's TLS is read: never meshpipe's own (its Kafka connections may be TLS),
 * and only the allowed executables and pods when collector.tls limits them. */
static __always_inline bool mp_tls_wanted(__u32 tgid)
{
	struct task_struct *task;

	if (bpf_map_lookup_elem(&mp_excluded_tgids, &tgid))
		return false;
	if (!mp_tls_filter_exes && !mp_tls_filter_netns)
		return true;
	task = (struct task_struct *)bpf_get_current_task();
	if (mp_tls_filter_exes) {
		struct inode *inode = BPF_CORE_READ(task, mm, exe_file, f_inode);
		struct mp_tls_file_key exe = {
			.dev = BPF_CORE_READ(inode, i_sb, s_dev),
			.ino = BPF_CORE_READ(inode, i_ino),
		};

		if (!bpf_map_lookup_elem(&mp_tls_exes, &exe))
			return false;
	}
	if (mp_tls_filter_netns) {
		__u32 netns = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);

		if (!bpf_map_lookup_elem(&mp_tls_netns, &netns))
			return false;
	}
	return true;
}

/* Entry of an OpenSSL call. */
static __always_inline void mp_tls_enter(__u8 op, __u64 ssl, __u64 buf, __u64 len_ptr)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct mp_tls_thread *t;

	if (!mp_tls_wanted(pid_tgid >> 32))
		return;
	t = bpf_map_lookup_elem(&mp_tls_threads, &pid_tgid);
	if (!t) {
		struct mp_tls_thread fresh = {.last_read_fd = -1, .read_fd = -1};
		__u32 tgid = pid_tgid >> 32;
		__u8 one = 1;

		/* The other threads of this process remember their reads from now on. */
		bpf_map_update_elem(&mp_tls_procs, &tgid, &one, BPF_ANY);

		bpf_map_update_elem(&mp_tls_threads, &pid_tgid, &fresh, BPF_NOEXIST);
		t = bpf_map_lookup_elem(&mp_tls_threads, &pid_tgid);
		if (!t)
			return;
	}
	/* Another SSL* now: the previous one's awaited tie will not come from this thread. */
	if (t->awaiting && t->ssl != ssl)
		mp_tls_forget_held(pid_tgid);
	t->ssl = ssl;
	t->buf = buf;
	t->len_ptr = len_ptr;
	t->op = op;
	t->enter_ns = bpf_ktime_get_ns();
	t->read_fd = t->last_read_fd;
	t->in_call = 1;
	t->awaiting = 0;
}

/* An SSL_write() that returned before its SSL* was tied: keep its bytes for the tie (tls_held.h). */
static __always_inline void mp_tls_hold(struct mp_tls_thread *t, __u64 pid_tgid, __u32 len,
					__u64 now)
{
	__u32 zero = 0, want = MP_MIN(len, mp_capture_cap);
	struct mp_tls_scratch *area = bpf_map_lookup_elem(&mp_tls_scratch, &zero);
	struct mp_tls_held *h;

	if (!area) {
		mp_count_drop(MP_DROP_SCRATCH);
		return;
	}
	h = &area->held;
	h->ssl = t->ssl;
	h->enter_ns = t->enter_ns;
	h->exit_ns = now;
	h->byte_count = len;
	h->captured = 0;
	h->chunk_end = 0;
	h->_pad = 0;
	if (want > MP_CAPTURE_MAX)
		want = MP_CAPTURE_MAX;
	barrier_var(want);
	if (want && !bpf_probe_read_user(h->payload, want, (void *)t->buf))
		h->captured = want;
	else if (want)
		mp_count_drop(MP_DROP_READ_PAYLOAD);
	if (h->captured < len) {
		mp_iov_flat(&area->data, t->buf, len);
		h->chunk_end = mp_ends_chunked_body(&area->data, len);
	}
	/* One held write per thread: an earlier one still waiting is lost. */
	if (bpf_map_lookup_elem(&mp_tls_held, &pid_tgid))
		mp_count_drop(MP_DROP_TLS_UNBOUND);
	bpf_map_update_elem(&mp_tls_held, &pid_tgid, h, BPF_ANY);
}

/* Return of an OpenSSL call; rc is its int result. */
static __always_inline void mp_tls_exit(int rc)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct mp_tls_thread *t = bpf_map_lookup_elem(&mp_tls_threads, &pid_tgid);
	struct mp_tls_binding_key key;
	struct mp_tls_binding *b;
	__u64 now = bpf_ktime_get_ns();
	__u64 len = 0;
	bool write;

	if (!t || !t->in_call)
		return;
	t->in_call = 0;
	write = t->op == MP_TLS_OP_WRITE || t->op == MP_TLS_OP_WRITE_EX;
	if (t->op == MP_TLS_OP_READ || t->op == MP_TLS_OP_WRITE) {
		len = rc > 0 ? rc : 0;
	} else if ((t->op == MP_TLS_OP_READ_EX || t->op == MP_TLS_OP_WRITE_EX) && rc == 1) {
		if (bpf_probe_read_user(&len, sizeof(len), (void *)t->len_ptr))
			len = 0;
	}
	if (len > 0x7fffffff)
		len = 0;

	key.tgid = pid_tgid >> 32;
	key._pad = 0;
	key.ssl = t->ssl;
	b = bpf_map_lookup_elem(&mp_tls_bindings, &key);
	if (b) {
		struct mp_conn_key ck = {.tgid = key.tgid, .fd = b->fd};
		struct mp_conn_info *ci = bpf_map_lookup_elem(&mp_conns, &ck);

		if (ci && ci->conn_id == b->conn_id && ci->state != MP_CONN_CLOSED) {
			struct mp_syscall_args a = {};
			struct mp_tls_scratch *area;
			__u32 zero = 0;

			if (!b->capture || !len)
				return;
			area = bpf_map_lookup_elem(&mp_tls_scratch, &zero);
			if (!area) {
				mp_count_drop(MP_DROP_SCRATCH);
				return;
			}
			a.buf = t->buf;
			a.conn_id = ci->conn_id;
			a.enter_ns = t->enter_ns;
			a.fd = b->fd;
			a.syscall = write ? MP_SYS_SSL_WRITE : MP_SYS_SSL_READ;
			mp_handle_data(&area->data, ci, &a, len, write ? MP_DIR_EGRESS : MP_DIR_INGRESS,
				       pid_tgid, now);
			return;
		}
		/* Its connection is gone (closed, or the SSL* was freed and its address reused):
		 * tie it again. */
		bpf_map_delete_elem(&mp_tls_bindings, &key);
	}
	t->awaiting = 1;
	if (!len)
		return;
	if (write)
		mp_tls_hold(t, pid_tgid, len, now);
	else
		mp_count_drop(MP_DROP_TLS_UNBOUND);
}

/* Tell the loader that this process maps `inode` as code, unless the file is known not to be
 * OpenSSL (tls_files.h). */
static __always_inline void mp_tls_notice(struct inode *inode, __u32 kind)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct mp_tls_file_key key = {};
	struct mp_tls_notice n = {};
	__u32 tgid = pid_tgid >> 32;
	__u8 *verdict;

	if (!inode || bpf_map_lookup_elem(&mp_excluded_tgids, &tgid))
		return;
	key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	key.ino = BPF_CORE_READ(inode, i_ino);
	verdict = bpf_map_lookup_elem(&mp_tls_files, &key);
	if (verdict && *verdict == MP_TLS_FILE_OTHER)
		return;
	if (verdict) {
		__u8 one = 1;

		/* A known OpenSSL: its reads count from the first one (maps/tls_procs.h). */
		bpf_map_update_elem(&mp_tls_procs, &tgid, &one, BPF_ANY);
	}
	n.tgid = tgid;
	n.kind = kind;
	n.dev = key.dev;
	n.ino = key.ino;
	if (bpf_ringbuf_output(&mp_tls_notices, &n, sizeof(n), BPF_RB_FORCE_WAKEUP))
		mp_count_drop(MP_DROP_TLS_NOTICE);
}

/* sched_process_exec: the new executable (node carries OpenSSL in it). */
static __always_inline void mp_tls_exec(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	mp_tls_notice(BPF_CORE_READ(task, mm, exe_file, f_inode), MP_TLS_NOTICE_EXEC);
}

/* sys_enter_mmap: shared libraries are mapped by the dynamic loader (or dlopen()) with
 * mmap(PROT_EXEC) of their file. Everything else returns on the first test. */
static __always_inline void mp_tls_mmap(__u64 prot, __s32 fd)
{
	struct file *file;

	if (!(prot & PROT_EXEC) || fd < 0)
		return;
	file = mp_file_from_fd(fd);
	if (file)
		mp_tls_notice(BPF_CORE_READ(file, f_inode), MP_TLS_NOTICE_MMAP);
}

#endif
