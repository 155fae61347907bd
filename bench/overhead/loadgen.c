/*
 * A paced HTTP/1.1 load generator for bench/overhead: a fixed number of keep-alive connections, a fixed
 * request rate, open-loop (wrk2-style) latency.
 *
 * Why not wrk: wrk has no pacing. Its Lua delay() makes each connection wait a fixed time *after* each
 * response, so the offered rate depends on the latency being measured (a slower scenario is offered
 * fewer requests), and a stall delays the requests behind it without counting the wait (coordinated
 * omission). wrk2 fixes both but is not packaged for Debian; this is the part of it we need, in one
 * file, compiled by the benchmark.
 *
 * Schedule: request i of connection c is due at t0 + (i * conns + c) / rate. A connection sends its
 * next request when it is due, or as soon as the previous response completes if that is later (no
 * pipelining). Latency is measured from the *due* time (what a client with that arrival rate would
 * see; equal to the service time while the server keeps up) and, separately, from the actual send.
 * Requests due during the warm-up are not recorded; after the window, in-flight responses are awaited
 * (up to 2 s) and recorded.
 *
 * One thread, epoll, epoll_pwait2 with nanosecond timeouts (and a 1 ns timer slack), so pacing does
 * not depend on 1 ms epoll granularity. Bounded: SIGALRM ends the process at duration + warm-up + 15 s.
 *
 * Also reported: sendLag (due → written, whatever the cause) and timerLag (the same for connections
 * that were idle before their request was due: this process's own lateness, which should stay in the
 * microseconds; if it does not, the generator's core is not its own and latencies are inflated).
 *
 * Output: one JSON object on stdout. Histograms are log-linear (128 sub-buckets per power of two,
 * < 0.8% error) and printed as [value_ns, count] pairs so runs can be merged exactly.
 *
 *   loadgen --host 10.0.0.2 --port 8080 --path / --conns 16 --rate 4000 --warmup 2 --duration 10
 *
 * --tls speaks HTTPS through OpenSSL (the system libssl, as an HTTPS client on a node would): the
 * handshake happens when a connection opens, before the schedule starts; the certificate is not
 * verified (it is the benchmark's own).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_CONNS 1024
#define RBUF 65536
#define SUB_BITS 7
#define SUB (1 << SUB_BITS)
#define BUCKETS (SUB + 48 * SUB)

struct hist {
	uint64_t counts[BUCKETS];
	uint64_t n, sum, max;
};

static int bucket_of(uint64_t v) {
	if (v < SUB) return (int)v;
	int msb = 63 - __builtin_clzll(v);
	int shift = msb - SUB_BITS;
	uint64_t sub = v >> shift; /* SUB..2*SUB-1 */
	int idx = SUB + shift * SUB + (int)(sub - SUB);
	return idx < BUCKETS ? idx : BUCKETS - 1;
}

/* The midpoint of a bucket's range. */
static uint64_t value_of(int idx) {
	if (idx < SUB) return (uint64_t)idx;
	int shift = (idx - SUB) / SUB;
	uint64_t sub = (uint64_t)((idx - SUB) % SUB + SUB);
	uint64_t lo = sub << shift, hi = ((sub + 1) << shift) - 1;
	return lo + (hi - lo) / 2;
}

static void hist_add(struct hist *h, uint64_t v) {
	h->counts[bucket_of(v)]++;
	h->n++;
	h->sum += v;
	if (v > h->max) h->max = v;
}

static uint64_t hist_pct(const struct hist *h, double p) {
	if (h->n == 0) return 0;
	uint64_t rank = (uint64_t)(p / 100.0 * (double)h->n);
	if (rank >= h->n) rank = h->n - 1;
	uint64_t seen = 0;
	for (int i = 0; i < BUCKETS; i++) {
		seen += h->counts[i];
		if (seen > rank) return value_of(i);
	}
	return h->max;
}

static void hist_json(const char *name, const struct hist *h) {
	printf("\"%s\":{\"count\":%llu,\"meanNs\":%.1f,\"p50Ns\":%llu,\"p90Ns\":%llu,\"p99Ns\":%llu,"
	       "\"p999Ns\":%llu,\"maxNs\":%llu,\"buckets\":[",
	       name, (unsigned long long)h->n, h->n ? (double)h->sum / (double)h->n : 0.0,
	       (unsigned long long)hist_pct(h, 50), (unsigned long long)hist_pct(h, 90),
	       (unsigned long long)hist_pct(h, 99), (unsigned long long)hist_pct(h, 99.9),
	       (unsigned long long)h->max);
	int first = 1;
	for (int i = 0; i < BUCKETS; i++) {
		if (h->counts[i] == 0) continue;
		printf("%s[%llu,%llu]", first ? "" : ",", (unsigned long long)value_of(i),
		       (unsigned long long)h->counts[i]);
		first = 0;
	}
	printf("]}");
}

enum conn_state { IDLE, WAITING };

struct conn {
	int fd;
	SSL *ssl;      /* --tls */
	enum conn_state state;
	uint64_t due;  /* when the current (WAITING) or next (IDLE) request is due */
	uint64_t sent; /* when the current request was written */
	uint64_t idle_since; /* when the previous response completed */
	size_t have;   /* bytes of the current response buffered (head not complete yet) */
	long body_left; /* -1 while the head is incomplete */
	char buf[RBUF];
};

static struct conn conns[MAX_CONNS];
static struct hist lat_due, lat_sent, send_lag, timer_lag;
static struct sockaddr_in addr;
static char request[1024];
static size_t request_len;
static int epfd;
static SSL_CTX *tls; /* --tls */
static uint64_t completed_in_window, sent_total, errors, reconnects, non_2xx, late_sends;

static uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void open_conn(struct conn *c) {
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) die("socket");
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) die("connect");
	c->fd = fd;
	c->ssl = NULL;
	if (tls) {
		/* The handshake while the socket still blocks; I/O is non-blocking after it. */
		c->ssl = SSL_new(tls);
		if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1 || SSL_connect(c->ssl) != 1) {
			ERR_print_errors_fp(stderr);
			errno = EPROTO;
			die("TLS handshake");
		}
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* read() or SSL_read(): the byte count, 0 if it would block, -1 if the connection ended or broke. */
static ssize_t conn_read(struct conn *c, void *buf, size_t len) {
	if (c->ssl == NULL) {
		ssize_t r = read(c->fd, buf, len);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
		return r > 0 ? r : -1;
	}
	int n = SSL_read(c->ssl, buf, (int)len);
	if (n > 0) return n;
	int e = SSL_get_error(c->ssl, n);
	/* A TLS record not complete yet, or one without application data (a session ticket). */
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

static void watch(int i) {
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)i};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, conns[i].fd, &ev) != 0) die("epoll_ctl");
}

/* A broken connection: count it, reconnect, and let its request count as failed. */
static void reset_conn(int i) {
	errors++;
	reconnects++;
	epoll_ctl(epfd, EPOLL_CTL_DEL, conns[i].fd, NULL);
	SSL_free(conns[i].ssl);
	close(conns[i].fd);
	open_conn(&conns[i]);
	conns[i].state = IDLE;
	conns[i].have = 0;
	conns[i].body_left = -1;
	watch(i);
}

static void send_request(int i, uint64_t now) {
	struct conn *c = &conns[i];
	ssize_t w = c->ssl ? SSL_write(c->ssl, request, (int)request_len) : write(c->fd, request, request_len);
	if (w != (ssize_t)request_len) {
		reset_conn(i);
		return;
	}
	c->sent = now;
	c->state = WAITING;
	c->have = 0;
	c->body_left = -1;
	sent_total++;
}

/* Parses a buffered response head: returns its length, 0 if incomplete, -1 if malformed. */
static long parse_head(struct conn *c, int *status, long *content_length) {
	char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);
	if (end == NULL) return c->have >= RBUF - 1 ? -1 : 0;
	long head_len = end - c->buf + 4;
	if (c->have < 12 || memcmp(c->buf, "HTTP/1.", 7) != 0) return -1;
	*status = atoi(c->buf + 9);
	*content_length = -1;
	for (char *line = memchr(c->buf, '\n', (size_t)head_len); line != NULL && line < end;
	     line = memchr(line + 1, '\n', (size_t)(end - line))) {
		if (strncasecmp(line + 1, "content-length:", 15) == 0) *content_length = atol(line + 16);
	}
	return *content_length < 0 ? -1 : head_len;
}

int main(int argc, char **argv) {
	const char *host = "127.0.0.1", *path = "/", *host_header = NULL;
	int port = 80, nconns = 16;
	double rate = 1000, warmup = 2, duration = 10;
	static const struct option opts[] = {
	    {"host", required_argument, 0, 'h'},     {"port", required_argument, 0, 'p'},
	    {"path", required_argument, 0, 'u'},     {"conns", required_argument, 0, 'c'},
	    {"rate", required_argument, 0, 'r'},     {"warmup", required_argument, 0, 'w'},
	    {"duration", required_argument, 0, 'd'}, {"host-header", required_argument, 0, 'H'},
	    {"tls", no_argument, 0, 't'},            {0, 0, 0, 0}};
	for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		switch (o) {
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'u': path = optarg; break;
		case 'c': nconns = atoi(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 'w': warmup = atof(optarg); break;
		case 'd': duration = atof(optarg); break;
		case 'H': host_header = optarg; break;
		case 't':
			tls = SSL_CTX_new(TLS_client_method());
			if (tls == NULL) die("SSL_CTX_new");
			SSL_CTX_set_verify(tls, SSL_VERIFY_NONE, NULL);
			break;
		default: fprintf(stderr, "usage: see the comment at the top of loadgen.c\n"); return 2;
		}
	}
	if (nconns < 1 || nconns > MAX_CONNS || rate <= 0 || duration <= 0 || warmup < 0) {
		fprintf(stderr, "loadgen: bad arguments\n");
		return 2;
	}
	alarm((unsigned)(warmup + duration + 15));
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
		fprintf(stderr, "loadgen: --host must be an IPv4 address\n");
		return 2;
	}
	request_len = (size_t)snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: meshpipe-bench\r\n\r\n",
	                               path, host_header ? host_header : host);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) die("epoll_create1");
	for (int i = 0; i < nconns; i++) {
		open_conn(&conns[i]);
		conns[i].body_left = -1;
		watch(i);
	}

	const double interval = 1e9 * nconns / rate; /* per connection, ns */
	const uint64_t t0 = now_ns() + 1000000;       /* 1 ms to settle */
	const uint64_t window_start = t0 + (uint64_t)(warmup * 1e9);
	const uint64_t window_end = window_start + (uint64_t)(duration * 1e9);
	const uint64_t drain_end = window_end + 2000000000ull;
	for (int i = 0; i < nconns; i++) conns[i].due = t0 + (uint64_t)(1e9 * i / rate);
	uint64_t index[MAX_CONNS] = {0}; /* request number per connection (exact due times, no drift) */
	struct rusage ru0;
	getrusage(RUSAGE_SELF, &ru0);

	struct epoll_event events[MAX_CONNS];
	for (;;) {
		uint64_t now = now_ns();
		/* Send what is due. */
		uint64_t next = UINT64_MAX;
		int waiting = 0;
		for (int i = 0; i < nconns; i++) {
			struct conn *c = &conns[i];
			if (c->state == IDLE && c->due < window_end) {
				if (c->due <= now) {
					uint64_t lag = now - c->due;
					if (c->due >= window_start) {
						hist_add(&send_lag, lag);
						if (lag > 1000000) late_sends++;
						/* Idle before it was due: any lateness is this process's own (timer, CPU). */
						if (c->idle_since <= c->due) hist_add(&timer_lag, lag);
					}
					send_request(i, now);
				} else if (c->due < next) {
					next = c->due;
				}
			}
			if (c->state == WAITING) waiting++;
		}
		if (now >= window_end && waiting == 0) break;
		if (now >= drain_end) break;
		struct timespec timeout = {0, 0};
		uint64_t wake = next;
		if (now >= window_end || wake == UINT64_MAX) wake = drain_end;
		if (wake > now) {
			uint64_t d = wake - now;
			timeout.tv_sec = (time_t)(d / 1000000000ull);
			timeout.tv_nsec = (long)(d % 1000000000ull);
		}
		int n = epoll_pwait2(epfd, events, nconns, &timeout, NULL);
		if (n < 0) {
			if (errno == EINTR) continue;
			die("epoll_pwait2");
		}
		now = now_ns();
		for (int e = 0; e < n; e++) {
			int i = (int)events[e].data.u32;
			struct conn *c = &conns[i];
			for (;;) {
				ssize_t r = conn_read(c, c->buf + c->have, RBUF - 1 - c->have);
				if (r == 0) break;
				if (r < 0) {
					reset_conn(i);
					index[i]++;
					c->due = t0 + (uint64_t)(interval * (double)index[i]) + (uint64_t)(1e9 * i / rate);
					break;
				}
				if (c->state != WAITING) continue; /* stray bytes: ignore */
				if (c->body_left < 0) {
					c->have += (size_t)r;
					int status = 0;
					long cl = 0;
					long head = parse_head(c, &status, &cl);
					if (head < 0) {
						reset_conn(i);
						index[i]++;
						c->due = t0 + (uint64_t)(interval * (double)index[i]) + (uint64_t)(1e9 * i / rate);
						break;
					}
					if (head == 0) continue;
					if (status < 200 || status > 299) non_2xx++;
					c->body_left = cl - (long)(c->have - (size_t)head);
					c->have = 0;
				} else {
					c->body_left -= r;
				}
				if (c->body_left <= 0) {
					if (c->due >= window_start && c->due < window_end) {
						hist_add(&lat_due, now - c->due);
						hist_add(&lat_sent, now - c->sent);
						completed_in_window++;
					}
					c->state = IDLE;
					c->idle_since = now;
					c->body_left = -1;
					index[i]++;
					c->due = t0 + (uint64_t)(interval * (double)index[i]) + (uint64_t)(1e9 * i / rate);
					break;
				}
			}
		}
	}
	struct rusage ru1;
	getrusage(RUSAGE_SELF, &ru1);
	double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
	             (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
	uint64_t scheduled = (uint64_t)(rate * duration);
	printf("{\"targetRps\":%.1f,\"conns\":%d,\"warmupSeconds\":%.3f,\"durationSeconds\":%.3f,"
	       "\"scheduled\":%llu,\"completed\":%llu,\"achievedRps\":%.1f,\"sent\":%llu,\"errors\":%llu,"
	       "\"reconnects\":%llu,\"non2xx\":%llu,\"lateSends\":%llu,\"cpuSeconds\":%.4f,",
	       rate, nconns, warmup, duration, (unsigned long long)scheduled,
	       (unsigned long long)completed_in_window, (double)completed_in_window / duration,
	       (unsigned long long)sent_total, (unsigned long long)errors, (unsigned long long)reconnects,
	       (unsigned long long)non_2xx, (unsigned long long)late_sends, cpu);
	hist_json("latency", &lat_due);
	printf(",");
	hist_json("serviceTime", &lat_sent);
	printf(",");
	hist_json("sendLag", &send_lag);
	printf(",");
	hist_json("timerLag", &timer_lag);
	printf("}\n");
	return 0;
}
