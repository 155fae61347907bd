/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * capture.h — reading the bytes of a data syscall from user memory.
 *
 * Every data syscall is reduced to a list of at most MP_IOV_MAX iovecs in the per-CPU
 * scratch: read()/write()/sendto()/recvfrom() become one iovec, readv()/writev() and
 * sendmsg()/recvmsg() use the caller's. Peek, copy and the tail check then share one
 * bounded loop. The iovecs are read at syscall exit: for reads the data only exists
 * then, and the array itself is unchanged by the kernel.
 */
#ifndef MP_CAPTURE_H
#define MP_CAPTURE_H

#include "common.h"
#include "http.h"
#include "maps/drops.h"
#include "maps/scratch.h"
#include "maps/syscall_args.h"

/* Load the iovecs describing the first `len` bytes; returns how many, 0 on failure. */
static __always_inline __u32 mp_load_iov(struct mp_scratch *s, const struct mp_syscall_args *a,
					 __u32 len)
{
	__u32 nr;

	if (!a->vectored) {
		s->iov[0].base = a->buf;
		s->iov[0].len = len;
		return 1;
	}
	nr = a->vlen;
	if (nr > MP_IOV_MAX)
		nr = MP_IOV_MAX;
	if (!nr)
		return 0;
	barrier_var(nr);
	/* One read for the whole array instead of one per iovec. */
	if (bpf_probe_read_user(s->iov, nr * sizeof(struct mp_iov), (void *)a->buf)) {
		mp_count_drop(MP_DROP_READ_USER);
		return 0;
	}
	return nr;
}

/* The first min(len, iov[0].len, 8) bytes as a little-endian u64; *avail gets the count.
 * Bytes of a token split across iovecs are not joined: real clients never split a
 * request line's first 8 bytes. */
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
		mp_count_drop(MP_DROP_READ_USER);
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
 * The two iovec loops below are global (non-inline) functions on purpose: the verifier
 * checks a global function once, on its own, instead of re-walking its loop for every
 * path of the caller. Inlined into the data path they multiplied the caller's states
 * past the 1M-instruction limit.
 */

/* Copy the first `want` (<= mp_capture_cap) bytes into s->payload. */
__noinline __u32 mp_copy_payload(struct mp_scratch *s, __u32 nr, __u32 want)
{
	__u32 off = 0;

	if (!s)
		return 0;
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
			mp_count_drop(MP_DROP_READ_USER);
			return off | MP_COPY_READ_FAILED;
		}
		off += chunk;
	}
	if (off < want) {
		mp_count_drop(MP_DROP_IOV_LIMIT);
		return off | MP_COPY_IOV_LIMIT;
	}
	return off;
}

/* Does the data (its first `len` bytes, across iovecs) end a chunked body? The last
 * min(len, 8) bytes are gathered into a u64, last byte in the top byte, reading only the
 * iovecs that overlap them: writev([chunk, "\r\n", "0\r\n\r\n"]) is how bodies end. */
__noinline bool mp_ends_chunked_body(struct mp_scratch *s, __u32 nr, __u32 len)
{
	__u64 acc = 0, pos = 0;
	__u64 from = len > 8 ? len - 8 : 0;

	if (!s)
		return false;
	for (int i = 0; i < MP_IOV_MAX; i++) {
		__u64 seg, start, k, word = 0;

		if (i >= nr)
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
				mp_count_drop(MP_DROP_READ_USER);
				return false;
			}
			acc = k == 8 ? word : (acc >> (8 * k)) | (word << (8 * (8 - k)));
		}
		pos += seg;
		if (pos >= len)
			return mp_http_chunked_end(acc, len);
	}
	return false; /* the end lies beyond the iovecs we walk */
}

#endif
