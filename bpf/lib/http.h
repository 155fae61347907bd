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

/* PROTOCOL-REGISTRY: the message-start rule; protocols/http1/detect.ts mirrors both method lists
 * (HTTP1_METHODS, EXTENSION_METHODS) and a test there reads them out of this file.
 *
 * Request line: a method followed by a space. The RFC 9110 section 9 methods and PATCH, then the
 * extension methods common enough to open a connection (cache purges, WebDAV, RFC 3253 REPORT,
 * RFC 5323 SEARCH, the QUERY draft, SSDP's M-SEARCH, LINK/UNLINK, Icecast's SOURCE). A method of
 * 8 bytes or more is matched on its first 8 bytes (no room for the space in one word): user
 * space checks the rest. Status line: "HTTP/1.0" or "HTTP/1.1" (RFC 9112 section 4). `avail` is
 * how many bytes of w are data; a shorter buffer cannot match a longer token. Returns
 * MP_F_MSG_START, optionally with MP_F_MSG_RESPONSE, or 0. This list decides which connections
 * are HTTP at all; once one is, mp_http_token_method() takes any method (data.h). */
#define MP_M4(w, avail, a, b, c) MP_PREFIX(w, avail, MP_LE4(a, b, c, ' '), 4)
#define MP_M5(w, avail, a, b, c, d) MP_PREFIX(w, avail, MP_LE8(a, b, c, d, ' ', 0, 0, 0), 5)
#define MP_M6(w, avail, a, b, c, d, e) MP_PREFIX(w, avail, MP_LE8(a, b, c, d, e, ' ', 0, 0), 6)
#define MP_M7(w, avail, a, b, c, d, e, f) MP_PREFIX(w, avail, MP_LE8(a, b, c, d, e, f, ' ', 0), 7)
#define MP_M8(w, avail, a, b, c, d, e, f, g, h) MP_PREFIX(w, avail, MP_LE8(a, b, c, d, e, f, g, h), 8)

static __always_inline __u32 mp_http_message_start(__u64 w, __u32 avail)
{
	if (MP_M4(w, avail, 'G', 'E', 'T') || MP_M5(w, avail, 'P', 'O', 'S', 'T') ||
	    MP_M4(w, avail, 'P', 'U', 'T') || MP_M5(w, avail, 'H', 'E', 'A', 'D') ||
	    MP_M7(w, avail, 'D', 'E', 'L', 'E', 'T', 'E') ||
	    MP_M6(w, avail, 'P', 'A', 'T', 'C', 'H') ||
	    MP_M8(w, avail, 'O', 'P', 'T', 'I', 'O', 'N', 'S', ' ') ||
	    MP_M8(w, avail, 'C', 'O', 'N', 'N', 'E', 'C', 'T', ' ') ||
	    MP_M6(w, avail, 'T', 'R', 'A', 'C', 'E'))
		return MP_F_MSG_START;
	/* Extension methods (detect.ts EXTENSION_METHODS). */
	if (MP_M6(w, avail, 'P', 'U', 'R', 'G', 'E') ||
	    MP_M7(w, avail, 'R', 'E', 'P', 'O', 'R', 'T') ||
	    MP_M7(w, avail, 'S', 'E', 'A', 'R', 'C', 'H') ||
	    MP_M6(w, avail, 'Q', 'U', 'E', 'R', 'Y') ||
	    MP_M8(w, avail, 'M', '-', 'S', 'E', 'A', 'R', 'C', 'H') ||
	    MP_M5(w, avail, 'L', 'I', 'N', 'K') ||
	    MP_M7(w, avail, 'U', 'N', 'L', 'I', 'N', 'K') ||
	    MP_M7(w, avail, 'S', 'O', 'U', 'R', 'C', 'E') ||
	    MP_M8(w, avail, 'P', 'R', 'O', 'P', 'F', 'I', 'N', 'D') ||
	    MP_M8(w, avail, 'P', 'R', 'O', 'P', 'P', 'A', 'T', 'C') ||
	    MP_M6(w, avail, 'M', 'K', 'C', 'O', 'L') ||
	    MP_M5(w, avail, 'C', 'O', 'P', 'Y') ||
	    MP_M5(w, avail, 'M', 'O', 'V', 'E') ||
	    MP_M5(w, avail, 'L', 'O', 'C', 'K') ||
	    MP_M7(w, avail, 'U', 'N', 'L', 'O', 'C', 'K'))
		return MP_F_MSG_START;
	if (MP_PREFIX(w, avail, MP_LE8('H', 'T', 'T', 'P', '/', '1', '.', '1'), 8) ||
	    MP_PREFIX(w, avail, MP_LE8('H', 'T', 'T', 'P', '/', '1', '.', '0'), 8))
		return MP_F_MSG_START | MP_F_MSG_RESPONSE;
	return 0;
}

#define MP_ONES 0x0101010101010101ULL
#define MP_HIGH 0x8080808080808080ULL

/* 0x80 in every byte of w that equals c, 0 elsewhere (exact: the carry-free zero-byte test). */
static __always_inline __u64 mp_bytes_eq(__u64 w, __u8 c)
{
	__u64 v = w ^ (MP_ONES * c);

	return ~(((v & ~MP_HIGH) + ~MP_HIGH) | v) & MP_HIGH;
}

/* 0x80 in every byte of w within [lo, hi] (0 < lo <= hi < 0x80), 0 elsewhere. No byte sum can
 * carry into the next byte: each is at most 0x7f + 0x7f. */
static __always_inline __u64 mp_bytes_in(__u64 w, __u8 lo, __u8 hi)
{
	__u64 x = w & ~MP_HIGH;
	__u64 ge_lo = x + MP_ONES * (0x80 - lo);
	__u64 gt_hi = x + MP_ONES * (0x7f - hi);

	return ge_lo & ~gt_hi & ~w & MP_HIGH;
}

/* A request line with any method, for a connection already known to be HTTP/1.x (RFC 9110
 * section 9.1: a method is a token; the registry grows, and servers accept methods they route).
 * The alphabet is nginx's (A-Z, '-', '_'; the first byte a letter), not all of tchar: a body
 * buffer that happens to look like "word " is far likelier in lower case, and a false match costs
 * a budget reset (more bytes copied), never a wrong frame (user space checks the whole line).
 * True if w starts with 1..7 such bytes and a space, or with 8 of them (a longer method). */
static __always_inline bool mp_http_token_method(__u64 w, __u32 avail)
{
	__u64 data = MP_MASK(avail) & MP_HIGH;
	__u64 method = (mp_bytes_in(w, 'A', 'Z') | mp_bytes_eq(w, '-') | mp_bytes_eq(w, '_')) & data;
	__u64 other = ~method & MP_HIGH;
	__u64 first_other = other & -other;

	if (!(mp_bytes_in(w, 'A', 'Z') & 0x80))
		return false;
	return !other || (first_other & mp_bytes_eq(w, ' ') & data);
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
