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
 *
 * Tracepoint context: args[] of struct trace_event_raw_sys_enter line up with the
 * per-syscall format (fields at offset 16 + 8 * i), and ret of
 * struct trace_event_raw_sys_exit with the "ret" field at offset 16.
 */
#include "lib/common.h"
#include "lib/data.h"
#include "lib/lifecycle.h"

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
