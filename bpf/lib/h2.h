/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * h2.h — HTTP/2: recognise a connection, follow its frames, copy what decoding needs.
 *
 * HPACK (RFC 7541) is stateful: a header block that user space does not see corrupts the
 * dynamic table for the rest of the connection. So on an HTTP/2 connection the kernel
 * copies every byte of every frame except DATA payloads (past their first mp_h2_data_bytes,
 * the gRPC message prefix by default) — header blocks of any size, control frames, DATA
 * frame headers — and reports every byte count. Frames split across syscalls at any byte;
 * each connection direction keeps where it is in its frame (struct mp_h2_dir, 16 bytes in
 * mp_conn_info).
 *
 * Two ways to produce a record, both ending in user space's frame reader
 * (protocols/http2/frame-reader.ts):
 *  - a buffer of at most mp_capture_cap bytes in at most MP_IOV_MAX iovecs is copied whole
 *    (one probe read, like HTTP/1.x), and its frames are then followed in the copy to keep
 *    the direction's position (mp_h2_follow: no helper calls);
 *  - a larger buffer is walked frame by frame in user memory (mp_h2_walk), copying the
 *    bytes above into records flagged MP_F_H2_ELIDED; a record that fills (MP_CAPTURE_MAX
 *    bytes) is emitted and the walk goes on in the next one, so a 40 KiB header block
 *    arrives whole across records whose byte counts add up to the syscall's.
 * The walk is bounded (MP_H2_STEPS pieces, MP_H2_IOV_MAX iovecs: a 64 KiB read of small frames,
 * a writev of UIO_MAXIOV iovecs). When it cannot follow a
 * buffer to its end (too many pieces, a read failure, frames past the last iovec read)
 * the record says MP_F_TRUNCATED and the direction is unsynced: user space counts a gap.
 * An unsynced direction — and a connection that predates the capture — synchronises on
 * the first buffer whose frame headers chain exactly to its end (mp_h2_chain_ends, the rule
 * of protocols/http2/detect.ts); until then its records carry byte counts only.
 *
 * Cost: the walk runs only on HTTP/2 connections and only for buffers larger than the cap;
 * each piece is one bounded probe read or none (bench/h2-capture measures it).
 */
#ifndef MP_H2_H
#define MP_H2_H

#include "capture.h"
#include "common.h"
#include "config.h"
#include "emit.h"
#include "http.h"
#include "maps/conns.h"
#include "maps/drops.h"
#include "maps/scratch.h"
#include "maps/syscall_args.h"

#define MP_H2_FRAME_HEADER 9
#define MP_H2_PREFACE_LEN 24
#define MP_H2_TYPE_DATA 0x0
#define MP_H2_TYPE_SETTINGS 0x4
/* Pieces (a frame header, a copy, a skip, an iovec change) walked per buffer. A 64 KiB read of
 * gRPC unary responses at a few thousand calls/s holds ~4K frames (~10K pieces): the walk must
 * follow it, or the direction loses its frames (bench/grpc-pairing). The step is a global
 * function, so the verifier checks it once; the loop costs it a few instructions per iteration. */
#define MP_H2_STEPS 16384
/* Steps following a whole copy: a frame header is one step, its payload one more, so a buffer
 * of MP_CAPTURE_MAX bytes needs at most 2 * 8192 / 10 (1-byte payloads) plus a split header: every
 * copy is followed to its end, whatever it holds. */
#define MP_H2_FOLLOW_STEPS 2048
/* Frames checked when synchronising on a buffer. */
#define MP_H2_CHAIN_FRAMES 64
/* iovecs walked per buffer (read MP_IOV_MAX at a time): Node's http2 writes a frame header
 * and each payload piece as separate iovecs, many streams' frames in one writev (up to
 * UIO_MAXIOV, 1024). */
#define MP_H2_IOV_MAX 1024

/* PROTOCOL-REGISTRY: the HTTP/2 start rules, mirrored by protocols/http2/detect.ts.
 * The client preface starts "PRI * HT" (RFC 9113 section 3.4). The server's preface is a
 * SETTINGS frame (not an ACK, stream 0, a whole number of settings): `w` holds bytes 0..7
 * of the frame header (length, type, flags, the stream id's top three bytes). */
static __always_inline bool mp_h2_client_preface(__u64 w, __u32 avail)
{
	return MP_PREFIX(w, avail, MP_LE8('P', 'R', 'I', ' ', '*', ' ', 'H', 'T'), 8);
}

static __always_inline bool mp_h2_settings_preface(__u64 w, __u32 avail)
{
	__u32 len = ((w & 0xff) << 16) | (w & 0xff00) | ((w >> 16) & 0xff);

	return avail >= 8 && ((w >> 24) & 0xff) == MP_H2_TYPE_SETTINGS && ((w >> 32) & 0xff) == 0 &&
	       (w >> 40) == 0 && len % 6 == 0 && len <= 96;
}

enum mp_h2_step_result {
	MP_H2_MORE = 0,
	MP_H2_DONE = 1,
	MP_H2_STOP = 2, /* cannot follow the rest of the buffer */
};

/* The current record is complete: its bytes so far, the buffer bytes it covers. */
static __always_inline void mp_h2_emit(struct mp_scratch *s, __u32 extra_flags)
{
	struct mp_h2_walk *w = &s->h2;
	__u32 captured = w->out;

	if (captured > MP_CAPTURE_MAX)
		captured = MP_CAPTURE_MAX;
	barrier_var(captured);
	s->data.byte_count = w->pos - w->rec_start;
	s->data.captured = captured;
	s->data.hdr.flags = s->h2.rec_flags | extra_flags;
	mp_submit(&s->data, sizeof(s->data) + captured);
	w->out = 0;
	w->rec_start = w->pos;
	w->rec_flags = (s->data.hdr.flags & ~(MP_F_H2_FRAME_START | MP_F_TRUNCATED)) |
		       (w->st.left == 0 && w->st.have == 0 ? MP_F_H2_FRAME_START : 0);
}

/* A frame header is complete in st.hdr: what of its payload to copy. */
static __always_inline void mp_h2_header_done(struct mp_h2_dir *st)
{
	__u32 len = ((__u32)st->hdr[0] << 16) | ((__u32)st->hdr[1] << 8) | st->hdr[2];

	st->left = len;
	st->copy = st->hdr[3] == MP_H2_TYPE_DATA ? MP_MIN(len, mp_h2_data_bytes) : len;
	st->have = 0;
}

/* Makes iovec w->iov available in s->iov[], loading the next window of the array. */
static __always_inline bool mp_h2_iov_ready(struct mp_scratch *s, struct mp_h2_walk *w)
{
	__u32 n;

	if (w->iov < w->loaded)
		return true;
	if (w->iov >= w->vlen || w->iov >= MP_H2_IOV_MAX || !w->iov_user)
		return false;
	n = w->vlen - w->iov;
	if (n > MP_IOV_MAX)
		n = MP_IOV_MAX;
	barrier_var(n);
	if (n == 0 || n > MP_IOV_MAX)
		return false;
	if (bpf_probe_read_user(s->iov, n * sizeof(struct mp_iov),
				(void *)(w->iov_user + (__u64)w->iov * sizeof(struct mp_iov)))) {
		mp_count_drop(MP_DROP_READ_PAYLOAD);
		return false;
	}
	w->window = n;
	w->loaded = w->iov + n;
	return true;
}

/* One piece of the walk: part of a frame header, a copy, a skip, or the next iovec. A global
 * function: the verifier checks it once, not once per iteration of the caller's loop. */
__noinline int mp_h2_step(struct mp_scratch *s)
{
	struct mp_h2_walk *w;
	struct mp_h2_dir *st;
	struct mp_iov *v;
	__u64 avail, n;
	__u32 slot;

	if (!s)
		return MP_H2_STOP;
	w = &s->h2;
	st = &w->st;
	if (w->pos >= w->len)
		return MP_H2_DONE;
	if (!mp_h2_iov_ready(s, w)) {
		/* Past the iovecs we read: fine only if the rest is elided DATA payload. */
		n = w->len - w->pos;
		if (st->have == 0 && st->copy == 0 && st->left >= n) {
			st->left -= n;
			w->pos = w->len;
			return MP_H2_DONE;
		}
		return MP_H2_STOP;
	}
	slot = (w->iov - (w->loaded - w->window)) & (MP_IOV_MAX - 1);
	v = &s->iov[slot];
	if (w->ioff >= v->len) {
		w->iov++;
		w->ioff = 0;
		return MP_H2_MORE;
	}
	avail = v->len - w->ioff;
	if (avail > w->len - w->pos)
		avail = w->len - w->pos;

	if (st->left == 0) {
		/* Inside a frame header. */
		__u8 hdr[MP_H2_FRAME_HEADER] = {};
		__u32 need = MP_H2_FRAME_HEADER - st->have, out;

		if (need > MP_H2_FRAME_HEADER)
			return MP_H2_STOP;
		n = MP_MIN(avail, need);
		if (w->out + n > MP_CAPTURE_MAX)
			mp_h2_emit(s, 0);
		barrier_var(n);
		if (n == 0 || n > MP_H2_FRAME_HEADER)
			return MP_H2_STOP;
		if (bpf_probe_read_user(hdr, n, (void *)(v->base + w->ioff))) {
			mp_count_drop(MP_DROP_READ_PAYLOAD);
			return MP_H2_STOP;
		}
		out = w->out;
		for (int i = 0; i < MP_H2_FRAME_HEADER; i++) {
			__u32 k = st->have;

			if (i >= n)
				break;
			if (k < 5)
				st->hdr[k & 7] = hdr[i];
			st->have = k + 1;
			s->payload[(out + i) & (2 * MP_CAPTURE_MAX - 1)] = hdr[i];
		}
		w->out = out + n;
		if (st->have >= MP_H2_FRAME_HEADER)
			mp_h2_header_done(st);
	} else if (st->copy) {
		/* Payload to copy: header blocks, control frames, the first bytes of DATA. */
		__u64 out;

		n = MP_MIN(avail, st->copy);
		if (w->out >= MP_CAPTURE_MAX)
			mp_h2_emit(s, 0);
		out = w->out;
		if (n > MP_CAPTURE_MAX - out)
			n = MP_CAPTURE_MAX - out;
		barrier_var(n);
		if (n == 0 || n > MP_CAPTURE_MAX)
			return MP_H2_STOP;
		if (bpf_probe_read_user(&s->payload[out & (MP_CAPTURE_MAX - 1)], n,
					(void *)(v->base + w->ioff))) {
			mp_count_drop(MP_DROP_READ_PAYLOAD);
			return MP_H2_STOP;
		}
		w->out = out + n;
		st->copy -= n;
		st->left -= n;
	} else {
		/* DATA payload past its prefix: counted, not copied. */
		n = MP_MIN(avail, st->left);
		st->left -= n;
	}
	w->pos += n;
	w->ioff += n;
	return MP_H2_MORE;
}

/* Walks a buffer larger than the cap; emits one or more MP_F_H2_ELIDED records. */
static __always_inline void mp_h2_walk(struct mp_scratch *s, const struct mp_syscall_args *a,
				       __u32 nr, __u32 len, __u32 flags)
{
	struct mp_h2_walk *w = &s->h2;
	int r = MP_H2_STOP;

	/* mp_load_iov() already read the first window (nr iovecs). */
	w->iov_user = a->vectored ? a->buf : 0;
	w->vlen = a->vectored ? a->vlen : 1;
	w->loaded = nr;
	w->window = nr;
	w->iov = 0;
	w->ioff = 0;
	w->pos = 0;
	w->len = len;
	w->out = 0;
	w->rec_start = 0;
	w->rec_flags = flags | MP_F_H2_ELIDED |
		       (w->st.left == 0 && w->st.have == 0 ? MP_F_H2_FRAME_START : 0);
	for (int i = 0; i < MP_H2_STEPS; i++) {
		r = mp_h2_step(s);
		if (r != MP_H2_MORE)
			break;
	}
	if (r != MP_H2_DONE) {
		/* The rest of the buffer is not followed: this record covers it, truncated, and
		 * the direction has to find frames again. */
		w->pos = w->len;
		w->st.sync = 0;
		mp_h2_emit(s, MP_F_TRUNCATED);
		return;
	}
	mp_h2_emit(s, 0);
}

/* One frame (or one byte of a split header) of a buffer copied whole, s->payload[0..n): the
 * position is s->h2.pos. Returns true when the copy is followed to its end. */
__noinline bool mp_h2_follow_step(struct mp_scratch *s, __u32 n)
{
	struct mp_h2_dir *st;
	__u32 pos;

	if (!s)
		return true;
	st = &s->h2.st;
	pos = s->h2.pos;
	if (pos >= n)
		return true;
	if (st->left) {
		__u32 k = MP_MIN(st->left, n - pos);

		st->left -= k;
		st->copy = st->copy > k ? st->copy - k : 0;
		s->h2.pos = pos + k;
		return false;
	}
	if (st->have == 0 && pos + MP_H2_FRAME_HEADER <= n) {
		for (int j = 0; j < 5; j++)
			st->hdr[j] = s->payload[(pos + j) & (2 * MP_CAPTURE_MAX - 1)];
		s->h2.pos = pos + MP_H2_FRAME_HEADER;
		mp_h2_header_done(st);
		return false;
	}
	/* A header split across buffers: a byte at a time. */
	if (st->have < 5)
		st->hdr[st->have & 7] = s->payload[pos & (2 * MP_CAPTURE_MAX - 1)];
	st->have++;
	s->h2.pos = pos + 1;
	if (st->have >= MP_H2_FRAME_HEADER)
		mp_h2_header_done(st);
	return false;
}

/* Follows the frames of a buffer copied whole to keep the direction's position. */
static __always_inline void mp_h2_follow(struct mp_scratch *s, __u32 n)
{
	s->h2.pos = 0;
	for (int i = 0; i < MP_H2_FOLLOW_STEPS; i++) {
		if (mp_h2_follow_step(s, n))
			return;
	}
	s->h2.st.sync = 0; /* more frames than followed: find them again in a later buffer */
}

/* One frame header of a buffer being checked for a chain (detect.ts rules) at s->h2.pos,
 * only inside one of the first MP_IOV_MAX iovecs. Returns 0 to go on (s->h2.pos moved past
 * the frame), 1 when the chain ends exactly at len, 2 when it does not hold. */
__noinline int mp_h2_chain_step(struct mp_scratch *s, __u32 nr, __u32 len)
{
	__u8 h[MP_H2_FRAME_HEADER];
	__u64 start = 0;
	__u32 pos, flen, type, flags, stream;
	bool found = false, ok = false;

	if (!s)
		return 2;
	pos = s->h2.pos;
	if (pos == len)
		return 1;
	if (pos > len || len - pos < MP_H2_FRAME_HEADER)
		return 2;
	for (int i = 0; i < MP_IOV_MAX; i++) {
		if (i >= nr)
			return 2;
		if (pos < start + s->iov[i].len) {
			if (pos + MP_H2_FRAME_HEADER > start + s->iov[i].len)
				return 2;
			if (bpf_probe_read_user(h, sizeof(h), (void *)(s->iov[i].base + pos - start)))
				return 2;
			found = true;
			break;
		}
		start += s->iov[i].len;
	}
	if (!found || (h[5] & 0x80))
		return 2;
	flen = ((__u32)h[0] << 16) | ((__u32)h[1] << 8) | h[2];
	type = h[3];
	flags = h[4];
	stream = ((__u32)(h[5] & 0x7f) << 24) | ((__u32)h[6] << 16) | ((__u32)h[7] << 8) | h[8];
	switch (type) {
	case 0x0: /* DATA */
		ok = stream && !(flags & ~0x09);
		break;
	case 0x1: /* HEADERS */
		ok = stream && !(flags & ~0x2d);
		break;
	case 0x2: /* PRIORITY */
		ok = stream && !flags && flen == 5;
		break;
	case 0x3: /* RST_STREAM */
		ok = stream && !flags && flen == 4;
		break;
	case 0x4: /* SETTINGS */
		ok = !stream && !(flags & ~0x01) && flen % 6 == 0 && (!(flags & 1) || flen == 0);
		break;
	case 0x5: /* PUSH_PROMISE */
		ok = stream && !(flags & ~0x0c);
		break;
	case 0x6: /* PING */
		ok = !stream && !(flags & ~0x01) && flen == 8;
		break;
	case 0x7: /* GOAWAY */
		ok = !stream && !flags && flen >= 8;
		break;
	case 0x8: /* WINDOW_UPDATE */
		ok = !flags && flen == 4;
		break;
	case 0x9: /* CONTINUATION */
		ok = stream && !(flags & ~0x04);
		break;
	}
	if (!ok)
		return 2;
	s->h2.pos = pos + MP_H2_FRAME_HEADER + flen;
	return 0;
}

/* Do plausible frame headers chain from the start of the buffer exactly to its end? */
static __always_inline bool mp_h2_chain_ends(struct mp_scratch *s, __u32 nr, __u32 len)
{
	s->h2.pos = 0;
	for (int i = 0; i < MP_H2_CHAIN_FRAMES; i++) {
		int r = mp_h2_chain_step(s, nr, len);

		if (r)
			return r == 1 && i > 0;
	}
	return false;
}

/* The direction that carries the client preface: the client's writes, the server's reads. */
static __always_inline __u32 mp_h2_client_dir_idx(__u8 role)
{
	return (role == MP_ROLE_CLIENT ? MP_DIR_EGRESS : MP_DIR_INGRESS) - 1;
}

/* Marks ci as HTTP/2, from its first buffer (`preface`: the client preface in direction dir;
 * otherwise the server's SETTINGS) or, for a connection that predates the capture, from a
 * buffer whose frames chain (`midway`). Role is inferred from the preface when unknown. */
static __always_inline void mp_h2_classify(struct mp_conn_info *ci, __u8 dir, bool preface,
					   bool midway)
{
	__u32 idx = (dir - 1) & 1;

	__builtin_memset(ci->h2, 0, sizeof(ci->h2));
	ci->flags |= MP_F_H2;
	ci->state = MP_CONN_L7;
	if (midway) {
		ci->h2[idx].sync = 1;
		return;
	}
	if (ci->role == MP_ROLE_UNKNOWN) {
		ci->role = (dir == MP_DIR_EGRESS) == preface ? MP_ROLE_CLIENT : MP_ROLE_SERVER;
		ci->flags |= MP_F_ROLE_INFERRED;
	}
	ci->h2[0].sync = 1;
	ci->h2[1].sync = 1;
	/* The client preface is followed as a 24-byte piece to copy, wherever it is split. */
	idx = mp_h2_client_dir_idx(ci->role) & 1;
	ci->h2[idx].left = MP_H2_PREFACE_LEN;
	ci->h2[idx].copy = MP_H2_PREFACE_LEN;
}

/* An undecided connection's buffer: is it HTTP/2? `word`/`avail` are its first bytes. */
static __always_inline void mp_h2_detect(struct mp_scratch *s, struct mp_conn_info *ci, __u64 word,
					 __u32 avail, __u32 nr, __u32 len, __u8 dir)
{
	bool client_dir;

	if (ci->flags & MP_F_PREEXISTING) {
		if (mp_h2_client_preface(word, avail))
			mp_h2_classify(ci, dir, true, false);
		else if (mp_h2_chain_ends(s, nr, len))
			mp_h2_classify(ci, dir, false, true);
		return;
	}
	client_dir = (ci->role == MP_ROLE_CLIENT) == (dir == MP_DIR_EGRESS);
	if (client_dir ? mp_h2_client_preface(word, avail) : mp_h2_settings_preface(word, avail))
		mp_h2_classify(ci, dir, client_dir, false);
}

/* DATA record(s) for one syscall on an HTTP/2 connection. The header in s->data is filled. */
static __always_inline void mp_h2_handle(struct mp_scratch *s, struct mp_conn_info *ci,
					 const struct mp_syscall_args *a, __u32 nr, __u32 len,
					 __u8 dir)
{
	struct mp_data_event *ev = &s->data;
	__u32 idx = (dir - 1) & 1;
	__u32 flags = ev->hdr.flags, captured = 0, copy;

	s->h2.st = ci->h2[idx];
	if (!s->h2.st.sync) {
		if (nr && mp_h2_chain_ends(s, nr, len)) {
			__builtin_memset(&s->h2.st, 0, sizeof(s->h2.st));
			s->h2.st.sync = 1;
		} else {
			/* Frames unknown: the byte count only. */
			ev->byte_count = len;
			ev->captured = 0;
			ev->hdr.flags = flags | MP_F_TRUNCATED;
			mp_submit(ev, sizeof(*ev));
			ci->h2[idx] = s->h2.st;
			return;
		}
	}
	if (len <= mp_capture_cap && nr && a->vlen <= MP_IOV_MAX) {
		if (s->h2.st.left == 0 && s->h2.st.have == 0)
			flags |= MP_F_H2_FRAME_START;
		copy = mp_copy_payload(s, len);
		captured = copy & MP_COPY_BYTES_MASK;
		if (copy & (MP_COPY_READ_FAILED | MP_COPY_IOV_LIMIT) || captured != len) {
			flags |= MP_F_TRUNCATED | MP_F_READ_FAILED;
			s->h2.st.sync = 0;
		} else {
			mp_h2_follow(s, captured);
		}
		if (captured > MP_CAPTURE_MAX)
			captured = MP_CAPTURE_MAX;
		barrier_var(captured);
		ev->byte_count = len;
		ev->captured = captured;
		ev->hdr.flags = flags;
		mp_submit(ev, sizeof(*ev) + captured);
	} else if (nr) {
		mp_h2_walk(s, a, nr, len, flags);
	} else {
		ev->byte_count = len;
		ev->captured = 0;
		ev->hdr.flags = flags | MP_F_TRUNCATED | MP_F_READ_FAILED;
		s->h2.st.sync = 0;
		mp_submit(ev, sizeof(*ev));
	}
	ci->h2[idx] = s->h2.st;
}

#endif
