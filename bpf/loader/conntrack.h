/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conntrack.h — where a client connection really went, from the kernel's own record of the NAT.
 *
 * A connection to a Kubernetes ClusterIP is DNATed by kube-proxy (iptables, IPVS or nftables) in the
 * node's network namespace: the client's socket keeps the ClusterIP, the server's sees the client's
 * pod address, so the two ends of one TCP connection have different tuples. conntrack knows both: the
 * reply tuple of the entry whose original tuple is the client's socket names the real destination.
 * One ctnetlink GET per new client connection (IPCTNL_MSG_CT_GET, an exact lookup, no dump), on a
 * socket opened once in the namespace where the NAT happens. Needs CAP_NET_ADMIN there.
 */
#ifndef MP_LOADER_CONNTRACK_H
#define MP_LOADER_CONNTRACK_H

#include <stdbool.h>
#include <stdint.h>

struct mp_conntrack {
	int fd;
	uint32_t seq;
	uint64_t lookups;    /* GETs sent */
	uint64_t translated; /* answers whose reply source differs from the original destination */
	uint64_t failures;   /* errors other than "no such entry" (ENOENT) */
};

/* Opens the ctnetlink socket, in the network namespace at `netns_path` (a /run/netns or /proc/PID/ns/net
 * file) or, when NULL, in the loader's own. Returns 0 or -errno. */
int mp_conntrack_open(struct mp_conntrack *ct, const char *netns_path);
void mp_conntrack_close(struct mp_conntrack *ct);

/* The translated destination of the TCP connection (src:sport → dst:dport) of `family` (AF_INET or
 * AF_INET6; addresses as in struct mp_conn_tuple, ports in host order). True when conntrack has an
 * entry whose reply source differs from dst:dport; the real destination is then in out_addr/out_port. */
bool mp_conntrack_translate(struct mp_conntrack *ct, int family, const uint8_t src[16], uint16_t sport,
			    const uint8_t dst[16], uint16_t dport, uint8_t out_addr[16], uint16_t *out_port);

#endif
