/* SPDX-License-Identifier: Apache-2.0 */
#include "conntrack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define NLA_ALIGN4(len) (((len) + 3u) & ~3u)

int mp_conntrack_open(struct mp_conntrack *ct, const char *netns_path)
{
	int own = -1, target = -1, err = 0;

	memset(ct, 0, sizeof(*ct));
	ct->fd = -1;
	if (netns_path != NULL) {
		/* A netlink socket belongs to the namespace it was created in: enter the target, create,
		 * come back. The loader is single-threaded, so nothing else runs in between. */
		own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		target = open(netns_path, O_RDONLY | O_CLOEXEC);
		if (own < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
			err = -errno;
			goto out;
		}
	}
	ct->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (ct->fd < 0)
		err = -errno;
	if (netns_path != NULL && setns(own, CLONE_NEWNET) != 0 && err == 0)
		err = -errno;
	if (err == 0) {
		/* A lookup is an exact GET answered at once; never let a stuck socket stall the drain. */
		struct timeval tv = {.tv_sec = 0, .tv_usec = 50 * 1000};
		struct sockaddr_nl local = {.nl_family = AF_NETLINK};

		setsockopt(ct->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (bind(ct->fd, (struct sockaddr *)&local, sizeof(local)) != 0)
			err = -errno;
	}
out:
	if (own >= 0)
		close(own);
	if (target >= 0)
		close(target);
	if (err != 0 && ct->fd >= 0) {
		close(ct->fd);
		ct->fd = -1;
	}
	return err;
}

void mp_conntrack_close(struct mp_conntrack *ct)
{
	if (ct->fd >= 0)
		close(ct->fd);
	ct->fd = -1;
}

/* Netlink attributes, appended to a message in `buf` at *len. */
static struct nlattr *put(uint8_t *buf, size_t *len, uint16_t type, const void *data, uint16_t size)
{
	struct nlattr *a = (struct nlattr *)(buf + *len);

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + size;
	if (size > 0)
		memcpy(buf + *len + NLA_HDRLEN, data, size);
	*len += NLA_ALIGN4(a->nla_len);
	return a;
}

static struct nlattr *nest(uint8_t *buf, size_t *len, uint16_t type)
{
	return put(buf, len, type | NLA_F_NESTED, NULL, 0);
}

static void end_nest(uint8_t *buf, size_t len, struct nlattr *a)
{
	a->nla_len = (uint16_t)(buf + len - (uint8_t *)a);
}

/* The first attribute of `type` among those in [data, data+len), or NULL. */
static const struct nlattr *find(const uint8_t *data, size_t len, uint16_t type)
{
	while (len >= NLA_HDRLEN) {
		const struct nlattr *a = (const struct nlattr *)data;

		if (a->nla_len < NLA_HDRLEN || a->nla_len > len)
			return NULL;
		if ((a->nla_type & NLA_TYPE_MASK) == type)
			return a;
		size_t step = NLA_ALIGN4(a->nla_len);
		if (step > len)
			return NULL;
		data += step;
		len -= step;
	}
	return NULL;
}

#define PAYLOAD(a) ((const uint8_t *)(a) + NLA_HDRLEN)
#define PAYLOAD_LEN(a) ((size_t)(a)->nla_len - NLA_HDRLEN)

bool mp_conntrack_translate(struct mp_conntrack *ct, int family, const uint8_t src[16], uint16_t sport,
			    const uint8_t dst[16], uint16_t dport, uint8_t out_addr[16], uint16_t *out_port)
{
	uint8_t req[256] __attribute__((aligned(4))) = {0};
	uint8_t resp[4096] __attribute__((aligned(4)));
	size_t len = NLMSG_HDRLEN;
	struct nlmsghdr *nlh = (struct nlmsghdr *)req;
	struct nfgenmsg *nfg;
	uint16_t addr_size = family == AF_INET6 ? 16 : 4;
	uint16_t src_type = family == AF_INET6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC;
	uint16_t dst_type = family == AF_INET6 ? CTA_IP_V6_DST : CTA_IP_V4_DST;
	uint8_t proto = IPPROTO_TCP;
	uint16_t sport_be = htons(sport), dport_be = htons(dport);
	struct nlattr *orig, *ip, *l4;
	ssize_t n;

	if (ct->fd < 0)
		return false;
	nfg = (struct nfgenmsg *)(req + len);
	nfg->nfgen_family = (uint8_t)family;
	nfg->version = NFNETLINK_V0;
	len += NLMSG_ALIGN(sizeof(*nfg));
	orig = nest(req, &len, CTA_TUPLE_ORIG);
	ip = nest(req, &len, CTA_TUPLE_IP);
	put(req, &len, src_type, src, addr_size);
	put(req, &len, dst_type, dst, addr_size);
	end_nest(req, len, ip);
	l4 = nest(req, &len, CTA_TUPLE_PROTO);
	put(req, &len, CTA_PROTO_NUM, &proto, 1);
	put(req, &len, CTA_PROTO_SRC_PORT, &sport_be, 2);
	put(req, &len, CTA_PROTO_DST_PORT, &dport_be, 2);
	end_nest(req, len, l4);
	end_nest(req, len, orig);
	nlh->nlmsg_len = (uint32_t)len;
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = ++ct->seq;

	ct->lookups++;
	if (send(ct->fd, req, len, 0) < 0) {
		ct->failures++;
		return false;
	}
	/* Answers to earlier, timed-out lookups may still be queued: skip any other sequence number. */
	for (int tries = 0; tries < 4; tries++) {
		n = recv(ct->fd, resp, sizeof(resp), 0);
		if (n < (ssize_t)NLMSG_HDRLEN) {
			ct->failures++;
			return false;
		}
		const struct nlmsghdr *r = (const struct nlmsghdr *)resp;
		if (r->nlmsg_seq != ct->seq)
			continue;
		if (r->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(r);
			if (e->error != -ENOENT)
				ct->failures++;
			return false;
		}
		size_t hdr = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
		if (r->nlmsg_len > (size_t)n || r->nlmsg_len < hdr)
			return false;
		const struct nlattr *reply = find(resp + hdr, r->nlmsg_len - hdr, CTA_TUPLE_REPLY);
		const struct nlattr *rip = reply ? find(PAYLOAD(reply), PAYLOAD_LEN(reply), CTA_TUPLE_IP) : NULL;
		const struct nlattr *rl4 = reply ? find(PAYLOAD(reply), PAYLOAD_LEN(reply), CTA_TUPLE_PROTO) : NULL;
		const struct nlattr *raddr = rip ? find(PAYLOAD(rip), PAYLOAD_LEN(rip), src_type) : NULL;
		const struct nlattr *rport = rl4 ? find(PAYLOAD(rl4), PAYLOAD_LEN(rl4), CTA_PROTO_SRC_PORT) : NULL;
		if (raddr == NULL || rport == NULL || PAYLOAD_LEN(raddr) != addr_size || PAYLOAD_LEN(rport) != 2)
			return false;
		uint16_t port_be;
		memcpy(&port_be, PAYLOAD(rport), 2);
		/* The reply comes from the real destination: the same as the original one when nothing
		 * was translated on the way. */
		if (memcmp(PAYLOAD(raddr), dst, addr_size) == 0 && ntohs(port_be) == dport)
			return false;
		memset(out_addr, 0, 16);
		memcpy(out_addr, PAYLOAD(raddr), addr_size);
		*out_port = ntohs(port_be);
		ct->translated++;
		return true;
	}
	return false;
}
