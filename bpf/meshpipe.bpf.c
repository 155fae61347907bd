// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * meshpipe.bpf.c — entry programs: one per syscall tracepoint, each a line of glue into
 * lib/. Syscall tracepoints (not kprobes/fentry) because they are a stable ABI that
 * exists on every kernel we target and in locked-down environments where kprobes are not.
 *
 *   data        sys_enter_* stashes (fd, buffer) for TCP fds; sys_exit_* knows the byte
 *               count and emits DATA for HTTP/1.x connections   (lib/data.h)
 *   lifecycle   connect/accept set role and generation; close emits CLOSE; failed
 *               handshakes emit CONNECT_FAILED                    (lib/lifecycle.h)
 *   tls         uprobes on OpenSSL report TLS plaintext as DATA of the connection the
 *               SSL* is tied to; exec/mmap tell the loader which files to probe
 *               (lib/tls.h, lib/tls_calls.h). Loaded only with TLS capture on.
 *
 * Tracepoint context: args[] of struct trace_event_raw_sys_enter line up with the
 * per-syscall format (fields at offset 16 + 8 * i), and ret of
 * struct trace_event_raw_sys_exit with the "ret" field at offset 16.
 */
#include "lib/common.h"
#include "lib/data.h"
#include "lib/lifecycle.h"
#include "lib/tls_calls.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define MSG_PEEK 2

#define MP_ENTER(name) SEC("tracepoint/syscalls/sys_enter_" #name) \
	int mp_enter_##name(struct trace_event_raw_sys_enter *ctx)
#define MP_EXIT(name) SEC("tracepoint/syscalls/sys_exit_" #name) \
	int mp_exit_##name(struct trace_event_raw_sys_exit *ctx)

/* read(fd, buf, count) / write(fd, buf, count) */
MP_ENTER(read)
{
	mp_data_enter(MP_SYS_READ, ctx->args[0], ctx->args[1], 0, MP_BUF_FLAT);
	return 0;
}

MP_EXIT(read)
{
	mp_data_exit(ctx->ret, MP_DIR_INGRESS);
	return 0;
}

MP_ENTER(write)
{
	mp_data_enter(MP_SYS_WRITE, ctx->args[0], ctx->args[1], 0, MP_BUF_FLAT);
	return 0;
}

MP_EXIT(write)
{
	mp_data_exit(ctx->ret, MP_DIR_EGRESS);
	return 0;
}

/* readv(fd, iov, iovcnt) / writev(fd, iov, iovcnt) */
MP_ENTER(readv)
{
	mp_data_enter(MP_SYS_READV, ctx->args[0], ctx->args[1], ctx->args[2], MP_BUF_IOVEC);
	return 0;
}

MP_EXIT(readv)
{
	mp_data_exit(ctx->ret, MP_DIR_INGRESS);
	return 0;
}

MP_ENTER(writev)
{
	mp_data_enter(MP_SYS_WRITEV, ctx->args[0], ctx->args[1], ctx->args[2], MP_BUF_IOVEC);
	return 0;
}

MP_EXIT(writev)
{
	mp_data_exit(ctx->ret, MP_DIR_EGRESS);
	return 0;
}

/* sendto(fd, buf, len, flags, addr, addrlen) / recvfrom(fd, buf, len, flags, addr, len) */
MP_ENTER(sendto)
{
	mp_data_enter(MP_SYS_SENDTO, ctx->args[0], ctx->args[1], 0, MP_BUF_FLAT);
	return 0;
}

MP_EXIT(sendto)
{
	mp_data_exit(ctx->ret, MP_DIR_EGRESS);
	return 0;
}

MP_ENTER(recvfrom)
{
	/* MSG_PEEK leaves the bytes in the socket: they are reported by the read that
	 * consumes them. */
	if (ctx->args[3] & MSG_PEEK)
		return 0;
	mp_data_enter(MP_SYS_RECVFROM, ctx->args[0], ctx->args[1], 0, MP_BUF_FLAT);
	return 0;
}

MP_EXIT(recvfrom)
{
	mp_data_exit(ctx->ret, MP_DIR_INGRESS);
	return 0;
}

/* sendmsg(fd, msg, flags) / recvmsg(fd, msg, flags) */
MP_ENTER(sendmsg)
{
	mp_data_enter(MP_SYS_SENDMSG, ctx->args[0], ctx->args[1], 0, MP_BUF_MSGHDR);
	return 0;
}

MP_EXIT(sendmsg)
{
	mp_data_exit(ctx->ret, MP_DIR_EGRESS);
	return 0;
}

MP_ENTER(recvmsg)
{
	if (ctx->args[2] & MSG_PEEK)
		return 0;
	mp_data_enter(MP_SYS_RECVMSG, ctx->args[0], ctx->args[1], 0, MP_BUF_MSGHDR);
	return 0;
}

MP_EXIT(recvmsg)
{
	mp_data_exit(ctx->ret, MP_DIR_INGRESS);
	return 0;
}

/* sendfile(out_fd, in_fd, offset, count): the socket is out_fd; length only. */
MP_ENTER(sendfile64)
{
	mp_data_enter(MP_SYS_SENDFILE, ctx->args[0], 0, 0, MP_BUF_FLAT);
	return 0;
}

MP_EXIT(sendfile64)
{
	mp_data_exit(ctx->ret, MP_DIR_EGRESS);
	return 0;
}

/* connect(fd, addr, addrlen) */
MP_ENTER(connect)
{
	mp_connect_enter(ctx->args[0], ctx->args[1]);
	return 0;
}

MP_EXIT(connect)
{
	mp_connect_exit(ctx->ret);
	return 0;
}

/* accept(fd, addr, addrlen) / accept4(fd, addr, addrlen, flags): the new fd is the
 * return value, so only the exit is needed. */
MP_EXIT(accept)
{
	mp_accept_exit(ctx->ret, MP_SYS_ACCEPT);
	return 0;
}

MP_EXIT(accept4)
{
	mp_accept_exit(ctx->ret, MP_SYS_ACCEPT4);
	return 0;
}

/* close(fd) */
MP_ENTER(close)
{
	mp_close_enter(ctx->args[0]);
	return 0;
}

/* Handshake outcome of non-blocking connects. The loader disables this program when the
 * tracepoint is missing (then only synchronous connect failures are reported). */
SEC("tracepoint/sock/inet_sock_set_state")
int mp_tcp_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (mp_track_async_connect)
		mp_tcp_state_change(ctx);
	return 0;
}

/* TLS. The loader attaches these uprobes to each OpenSSL it finds (a libssl, or an executable with
 * OpenSSL linked in, such as node), once per file for every process mapping it
 * (bpf/loader/tls-attach.c). int SSL_read(SSL *, void *buf, int num) and SSL_write alike;
 * int SSL_read_ex(SSL *, void *buf, size_t num, size_t *readbytes) and SSL_write_ex alike. */
SEC("uprobe")
int mp_ssl_read(struct pt_regs *ctx)
{
	mp_tls_enter(MP_TLS_OP_READ, PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), 0);
	return 0;
}

SEC("uprobe")
int mp_ssl_read_ex(struct pt_regs *ctx)
{
	mp_tls_enter(MP_TLS_OP_READ_EX, PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM4(ctx));
	return 0;
}

SEC("uprobe")
int mp_ssl_write(struct pt_regs *ctx)
{
	mp_tls_enter(MP_TLS_OP_WRITE, PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), 0);
	return 0;
}

SEC("uprobe")
int mp_ssl_write_ex(struct pt_regs *ctx)
{
	mp_tls_enter(MP_TLS_OP_WRITE_EX, PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM4(ctx));
	return 0;
}

/* int SSL_do_handshake(SSL *): no data, but a socket BIO's handshake I/O ties the SSL* early. */
SEC("uprobe")
int mp_ssl_do_handshake(struct pt_regs *ctx)
{
	mp_tls_enter(MP_TLS_OP_HANDSHAKE, PT_REGS_PARM1(ctx), 0, 0);
	return 0;
}

/* The return of all five: the call itself is in the thread's entry. */
SEC("uretprobe")
int mp_ssl_return(struct pt_regs *ctx)
{
	mp_tls_exit((int)PT_REGS_RC(ctx));
	return 0;
}

/* A new program image: its executable may carry OpenSSL (node). */
SEC("tracepoint/sched/sched_process_exec")
int mp_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	mp_tls_exec();
	return 0;
}

/* mmap(addr, len, prot, flags, fd, off): a shared library being mapped (libssl). */
MP_ENTER(mmap)
{
	mp_tls_mmap(ctx->args[2], ctx->args[4]);
	return 0;
}
