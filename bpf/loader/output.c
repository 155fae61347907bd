/* SPDX-License-Identifier: Apache-2.0 */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A pipe of 1 MiB (the default pipe-max-size) lets one write() carry a whole drain of the
 * ring instead of 64 KiB slices. Best effort: a smaller pipe only means more writes. */
#define MP_PIPE_SIZE (1 << 20)

int mp_output_init(struct mp_output *out, int fd, size_t cap)
{
	struct stat st;

	memset(out, 0, sizeof(*out));
	out->fd = fd;
	out->cap = cap;
	out->buf = malloc(cap);
	if (!out->buf)
		return -ENOMEM;
	if (fstat(fd, &st))
		return -errno;
	/* Only a pipe or socket is ours alone to make non-blocking: a terminal or file
	 * description may be shared with the shell that started us. */
	if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
		int flags = fcntl(fd, F_GETFL);

		if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK))
			return -errno;
		out->nonblocking = true;
		if (S_ISFIFO(st.st_mode))
			(void)fcntl(fd, F_SETPIPE_SZ, MP_PIPE_SIZE);
	}
	return 0;
}

void mp_output_free(struct mp_output *out)
{
	free(out->buf);
	out->buf = NULL;
}

bool mp_output_append(struct mp_output *out, const void *record, uint32_t len, bool control)
{
	size_t need = sizeof(uint32_t) + len;
	size_t limit = control ? out->cap : out->cap - MP_OUTPUT_CONTROL_RESERVE;

	if (out->tail + need > limit && out->head) {
		/* Slide the unwritten bytes to the front. Rare: the buffer is normally
		 * empty after each flush and then restarts at 0. */
		memmove(out->buf, out->buf + out->head, out->tail - out->head);
		out->tail -= out->head;
		out->head = 0;
	}
	if (out->tail + need > limit) {
		if (!control) {
			out->dropped_records++;
			out->dropped_bytes += len;
		}
		return false;
	}
	/* Host order is little-endian (checked at build time in main.c). */
	memcpy(out->buf + out->tail, &len, sizeof(len));
	memcpy(out->buf + out->tail + sizeof(len), record, len);
	out->tail += need;
	if (!control) {
		out->forwarded_records++;
		out->forwarded_bytes += len;
	}
	return true;
}

int mp_output_flush(struct mp_output *out)
{
	while (out->head < out->tail) {
		ssize_t n = write(out->fd, out->buf + out->head, out->tail - out->head);

		if (n > 0) {
			out->head += n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return n < 0 ? -errno : -EIO;
	}
	out->head = out->tail = 0;
	return 0;
}
