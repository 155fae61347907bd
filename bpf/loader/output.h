/* SPDX-License-Identifier: Apache-2.0 */
/*
 * output.h — the framed, batched stdout stream to the agent.
 *
 * Frames are [u32 little-endian length][record]. Records are appended to one large buffer
 * and leave in few big write()s. On a pipe or socket stdout is non-blocking: when the
 * agent falls behind the buffer fills and further data records are dropped here, and
 * counted, instead of stalling the ring-buffer drain (which would push the loss into the
 * kernel, where it is also counted but costs the application CPU to produce).
 */
#ifndef MP_LOADER_OUTPUT_H
#define MP_LOADER_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp_output {
	int fd;
	bool nonblocking;           /* stdout is a pipe/socket we made O_NONBLOCK */
	unsigned char *buf;
	size_t cap;
	size_t head;                /* first byte not yet written */
	size_t tail;                /* end of queued bytes */
	uint64_t forwarded_records; /* data records queued (control records excluded) */
	uint64_t forwarded_bytes;
	uint64_t dropped_records;   /* data records dropped: buffer full */
	uint64_t dropped_bytes;
};

/* Room always kept free for control records (STATS, READY), so loss accounting keeps
 * flowing even when data records are being dropped. */
#define MP_OUTPUT_CONTROL_RESERVE 4096

int mp_output_init(struct mp_output *out, int fd, size_t cap);
void mp_output_free(struct mp_output *out);

/* Queue one frame. Data records are dropped (and counted) when they would eat into the
 * control reserve; control records only when the buffer is completely full. */
bool mp_output_append(struct mp_output *out, const void *record, uint32_t len, bool control);

/* Write what the fd accepts without blocking (all of it if stdout is blocking).
 * Returns 0, or -errno: -EPIPE when the reader has gone away. */
int mp_output_flush(struct mp_output *out);

static inline size_t mp_output_pending(const struct mp_output *out)
{
	return out->tail - out->head;
}

#endif
