/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * capture.h — reading the bytes of a data syscall from user memory.
 *
 * Every data syscall is reduced to a list of iovecs: read()/write()/sendto()/recvfrom()
 * become one iovec, readv()/writev() and sendmsg()/recvmsg() use the caller's. The list is
 * read from user memory a window of MP_IOV_MAX iovecs at a time into the per-CPU scratch
 * (s->iov, described by s->cur), and the copy and the tail check walk window after window,
 * up to MP_IOV_WALK_MAX (the kernel's UIO_MAXIOV): a writev of a head and 20 body pieces is
 * copied whole, as far as the budget goes. The common case — a flat buffer, or at most
 * MP_IOV_MAX iovecs — costs one array read, as before the walk existed. The iovecs are read
 * at syscall exit: for reads the data only exists then, and the array itself is unchanged
 * by the kernel.
 *
 * A payload or iovec array that cannot be read still gives its record (MP_F_READ_FAILED):
 * a truncation, counted as MP_DROP_READ_PAYLOAD, not a loss.
 */
#ifndef MP_CAPTURE_H
#define MP_CAPTURE_H

#include "common.h"
#include "http.h"
#include "maps/drops.h"
#include "maps/scratch.h"
#include "maps/syscall_args.h"

/* Windows of MP_IOV_MAX iovecs walked at most. */
#define MP_IOV_WINDOWS (MP_IOV_WALK_MAX / MP_IOV_MAX)

/* A flat buffer (read/write/sendto/recvfrom, SSL_read/SSL_write) as a window of one iovec. */
static __always_inline void mp_iov_flat(struct mp_scratch *s, __u64 buf, __u32 len)
{
	s->iov[0].base = buf;
	s->iov[0].len = len;
	s->cur.user = 0;
	s->cur.vlen = 1;
	s->cur.first = 0;
	s->cur.nr = 1;
	s->cur.pos = 0;
}

/* Makes iovecs [first, first + MP_IOV_MAX) of the syscall (as many as it has) the window in
 * s->iov. Returns how many; 0 past the last one, or when the array is unreadable. */
static __always_inline __u32 mp_iov_window(struct mp_scratch *s, __u32 first)
{
	struct mp_iov_cursor *c = &s->cur;
	__u32 n;

	if (c->nr && c->first == first)
		return c->nr;
	if (!c->user || first >= c->vlen || first >= MP_IOV_WALK_MAX)
		return 0;
	n = c->vlen - first;
	if (n > MP_IOV_MAX)
		n = MP_IOV_MAX;
	barrier_var(n);
	if (n == 0 || n > MP_IOV_MAX)
		return 0;
	c->nr = 0;
	/* One read for the whole window instead of one per iovec. */
	if (bpf_probe_read_user(s->iov, n * sizeof(struct mp_iov),
				(void *)(c->user + (__u64)first * sizeof(struct mp_iov)))) {
		mp_count_drop(MP_DROP_READ_PAYLOAD);
		return 0;
	}
	c->first = first;
	c->nr = n;
	return n;
}

/* Loads the first window of the syscall's iovecs; returns how many, 0 on failure. */
static __always_inline __u32 mp_load_iov(struct mp_scratch *s, const struct mp_syscall_args *a,
					 __u32 len)
{
	if (!a->vectored) {
		mp_iov_flat(s, a->buf, len);
		return 1;
	}
	s->cur.user = a->buf;
	s->cur.vlen = a->vlen;
	s->cur.first = 0;
	s->cur.nr = 0;
	s->cur.pos = 0;
	return mp_iov_window(s, 0);
}

/* The first min(len, iov[0].len, 8) bytes as a little-endian u64; *avail gets the count.
 * Bytes of a token split across iovecs are not joined: real clients never split a
 * request line's first 8 bytes. Call right after mp_load_iov(). */
static __always_inline __u64 mp_peek(const struct mp_scratch *s, __u32 len, __u32 *avail)
{
	__u64 word = 0;
	__u64 n = s->iov[0].len;

	if (n > len)
		n = len;
	if (n > 8)
		n = 8;
	barrier_var(n);
	*avail = 0;
	if (!n)
		return 0;
	if (bpf_probe_read_user(&word, n, (void *)s->iov[0].base)) {
		mp_count_drop(MP_DROP_READ_PAYLOAD);
		return 0;
	}
	*avail = n;
	return word;
}

/* mp_copy_payload() result: bytes copied in the low bits, outcome flags above. */
#define MP_COPY_BYTES_MASK 0xffff
#define MP_COPY_READ_FAILED (1u << 30)
#define MP_COPY_IOV_LIMIT (1u << 29)

/*
 * The iovec loops below are global (non-inline) functions on purpose: the verifier checks a
 * global function once, on its own, instead of re-walking its loop for every path of the
 * caller. Inlined into the data path they multiplied the caller's states past the
 * 1M-instruction limit. Each window is one call, so the walk over MP_IOV_WINDOWS windows
 * costs the verifier a few instructions per window.
 */

/* Copies from the window in s->iov into s->payload[off..want). Returns the new offset, with
 * MP_COPY_READ_FAILED when user memory could not be read. */
__noinline __u32 mp_copy_window(struct mp_scratch *s, __u32 off, __u32 want)
{
	__u32 nr;

	if (!s)
		return 0;
	nr = s->cur.nr;
	for (int i = 0; i < MP_IOV_MAX; i++) {
		__u64 seg, chunk;

		if (i >= nr || off >= want)
			break;
		seg = s->iov[i].len;
		chunk = want - off;
		if (seg < chunk)
			chunk = seg;
		if (chunk > MP_CAPTURE_MAX)
			chunk = MP_CAPTURE_MAX;
		barrier_var(chunk);
		/* off < want <= MP_CAPTURE_MAX, so the mask changes nothing but lets the
		 * verifier bound off + chunk by 2 * MP_CAPTURE_MAX. */
		if (bpf_probe_read_user(&s->payload[off & (MP_CAPTURE_MAX - 1)], chunk,
					(void *)s->iov[i].base)) {
			mp_count_drop(MP_DROP_READ_PAYLOAD);
			return off | MP_COPY_READ_FAILED;
		}
		off += chunk;
	}
	return off;
}

/* Copy the first `want` (<= mp_capture_cap) bytes into s->payload, window after window. */
__noinline __u32 mp_copy_payload(struct mp_scratch *s, __u32 want)
{
	__u32 off = 0;

	if (!s)
		return 0;
	for (int w = 0; w < MP_IOV_WINDOWS; w++) {
		__u32 first = w * MP_IOV_MAX;

		if (off >= want)
			return off;
		if (first >= s->cur.vlen)
			break;
		if (!mp_iov_window(s, first))
			return off | MP_COPY_READ_FAILED;
		/* Every iovec before this window was copied whole: the window starts at off. */
		s->cur.pos = off;
		off = mp_copy_window(s, off, want);
		if (off & MP_COPY_READ_FAILED)
			return off;
	}
	if (off < want) {
		mp_count_drop(MP_DROP_IOV_LIMIT);
		return off | MP_COPY_IOV_LIMIT;
	}
	return off;
}

/* mp_tail_window() results. */
#define MP_TAIL_MORE 0
#define MP_TAIL_DONE 1
#define MP_TAIL_FAILED 2

/* One window of mp_ends_chunked_body(): gathers the bytes of [len - 8, len) that lie in the
 * window's iovecs into s->cur.tail (last byte in the top byte). s->cur.pos is the buffer
 * offset of the window's first iovec, and becomes the next window's. */
__noinline int mp_tail_window(struct mp_scratch *s, __u32 len)
{
	struct mp_iov_cursor *c;
	__u64 acc, pos, from = len > 8 ? len - 8 : 0;
	__u32 nr;

	if (!s)
		return MP_TAIL_FAILED;
	c = &s->cur;
	nr = c->nr;
	pos = c->pos;
	acc = c->tail;
	for (int i = 0; i < MP_IOV_MAX; i++) {
		__u64 seg, start, k, word = 0;

		if (i >= nr || pos >= len)
			break;
		seg = s->iov[i].len;
		if (seg > len - pos)
			seg = len - pos;
		if (seg && pos + seg > from) {
			start = pos > from ? pos : from;
			k = pos + seg - start; /* 1..8 */
			if (k > 8)
				k = 8;
			barrier_var(k);
			if (bpf_probe_read_user(&word, k, (void *)(s->iov[i].base + start - pos))) {
				mp_count_drop(MP_DROP_READ_PAYLOAD);
				return MP_TAIL_FAILED;
			}
			acc = k == 8 ? word : (acc >> (8 * k)) | (word << (8 * (8 - k)));
		}
		pos += seg;
	}
	c->pos = pos;
	c->tail = acc;
	return pos >= len ? MP_TAIL_DONE : MP_TAIL_MORE;
}

/* Does the data (its first `len` bytes, across iovecs) end a chunked body? Only the iovecs
 * that overlap the last min(len, 8) bytes are read: writev([chunk, "\r\n", "0\r\n\r\n"]) is
 * how bodies end, after any number of chunks in the same writev. The walk goes on from the
 * window the copy stopped in (s->cur.pos is where it starts), unless the tail begins before it. */
__noinline bool mp_ends_chunked_body(struct mp_scratch *s, __u32 len)
{
	__u32 start = 0;

	if (!s)
		return false;
	if (s->cur.nr && s->cur.pos + 8 <= len)
		start = s->cur.first / MP_IOV_MAX;
	else
		s->cur.pos = 0;
	s->cur.tail = 0;
	for (int i = 0; i < MP_IOV_WINDOWS; i++) {
		__u32 w = start + i;
		int r;

		if (w >= MP_IOV_WINDOWS || !mp_iov_window(s, w * MP_IOV_MAX))
			return false;
		r = mp_tail_window(s, len);
		if (r == MP_TAIL_DONE)
			return mp_http_chunked_end(s->cur.tail, len);
		if (r != MP_TAIL_MORE)
			return false;
	}
	return false; /* the end lies beyond the iovecs we walk */
}

#endif
