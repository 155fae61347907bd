/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * http.h — the only protocol knowledge in the kernel: "does this buffer start an
 * HTTP/1.x message?" and "does it end a chunked body?". Everything else (parsing,
 * framing, pairing) is user space's job (protocols/http1/).
 *
 * Both checks work on one little-endian u64 of at most 8 bytes, compared under a mask:
 * no loops, no per-byte branches.
 */
#ifndef MP_HTTP_H
#define MP_HTTP_H

#include "common.h"

#define MP_B(c, i) ((__u64)(__u8)(c) << (8 * (i)))
#define MP_LE4(a, b, c, d) (MP_B(a, 0) | MP_B(b, 1) | MP_B(c, 2) | MP_B(d, 3))
#define MP_LE8(a, b, c, d, e, f, g, h)                                                         \
	(MP_LE4(a, b, c, d) | MP_B(e, 4) | MP_B(f, 5) | MP_B(g, 6) | MP_B(h, 7))
#define MP_MASK(n) ((n) >= 8 ? ~0ULL : ((1ULL << (8 * (n))) - 1))

/* The first n bytes of w equal the first n bytes of pattern p. */
#define MP_PREFIX(w, avail, p, n) ((avail) >= (n) && ((w) & MP_MASK(n)) == ((p) & MP_MASK(n)))

/* Request line: a method of RFC 9110 section 9 followed by a space. Status line:
 * "HTTP/1.0" or "HTTP/1.1" (RFC 9112 section 4). `avail` is how many bytes of w are
 * data; a shorter buffer cannot match a longer token. Returns MP_F_MSG_START,
 * optionally with MP_F_MSG_RESPONSE, or 0. */
static __always_inline __u32 mp_http_message_start(__u64 w, __u32 avail)
{
	if (MP_PREFIX(w, avail, MP_LE4('G', 'E', 'T', ' '), 4) ||
	    MP_PREFIX(w, avail, MP_LE8('P', 'O', 'S', 'T', ' ', 0, 0, 0), 5) ||
	    MP_PREFIX(w, avail, MP_LE4('P', 'U', 'T', ' '), 4) ||
	    MP_PREFIX(w, avail, MP_LE8('H', 'E', 'A', 'D', ' ', 0, 0, 0), 5) ||
	    MP_PREFIX(w, avail, MP_LE8('D', 'E', 'L', 'E', 'T', 'E', ' ', 0), 7) ||
	    MP_PREFIX(w, avail, MP_LE8('P', 'A', 'T', 'C', 'H', ' ', 0, 0), 6) ||
	    MP_PREFIX(w, avail, MP_LE8('O', 'P', 'T', 'I', 'O', 'N', 'S', ' '), 8) ||
	    MP_PREFIX(w, avail, MP_LE8('C', 'O', 'N', 'N', 'E', 'C', 'T', ' '), 8) ||
	    MP_PREFIX(w, avail, MP_LE8('T', 'R', 'A', 'C', 'E', ' ', 0, 0), 6))
		return MP_F_MSG_START;
	if (MP_PREFIX(w, avail, MP_LE8('H', 'T', 'T', 'P', '/', '1', '.', '1'), 8) ||
	    MP_PREFIX(w, avail, MP_LE8('H', 'T', 'T', 'P', '/', '1', '.', '0'), 8))
		return MP_F_MSG_START | MP_F_MSG_RESPONSE;
	return 0;
}

/* `tail` holds the last min(len, 8) bytes of a buffer, the last byte in the top byte.
 * True if the buffer ends with "\r\n0\r\n\r\n" (last-chunk + empty trailer section,
 * RFC 9112 section 7.1) or is exactly "0\r\n\r\n" (the terminator written on its own,
 * as Node's res.end() does). Trailer fields after the last chunk are not recognised. */
static __always_inline bool mp_http_chunked_end(__u64 tail, __u32 len)
{
	if (len >= 7 && (tail >> 8) == MP_LE8('\r', '\n', '0', '\r', '\n', '\r', '\n', 0))
		return true;
	return len == 5 && (tail >> 24) == MP_LE8('0', '\r', '\n', '\r', '\n', 0, 0, 0);
}

#endif
