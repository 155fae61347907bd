/**
 * The Kafka key of a raw event: the normalised connection tuple, identical on both ends of one TCP
 * connection, so the client side (captured on one node) and the server side (maybe another node) land
 * on one partition and the span assembler pairs them without a shuffle.
 *
 *   10.231.0.1:41234|10.231.0.2:8080           the two endpoints as `addr:port`, sorted
 *   [fd00::1]:41234|[fd00::2]:8080             IPv6 addresses in brackets (RFC 3986 host syntax)
 *   4026532281/127.0.0.1:41234|127.0.0.1:8080  loopback, prefixed with the network-namespace inode
 *
 * Why the prefix: every network namespace has its own 127.0.0.1 and ::1, so two pods' loopback
 * connections can have identical tuples; both ends of a loopback connection are in one namespace, so
 * its inode keeps them together and the pods apart. IPv4-mapped IPv6 addresses arrive as IPv4 (the
 * kernel side reports them so), so a dual-stack server and an IPv4 client agree.
 *
 * Known limit: a connection translated on its way (Kubernetes ClusterIP DNAT, SNAT to a node address)
 * has different tuples at its two ends, hence two keys; pairing those needs conntrack (not done).
 */

/** `addr:port`, with IPv6 addresses in brackets. */
export function endpointText(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Loopback addresses: 127.0.0.0/8 and ::1. */
export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

export function connectionKey(
  localAddress: string,
  localPort: number,
  peerAddress: string,
  peerPort: number,
  netnsInode: number,
): string {
  const local = endpointText(localAddress, localPort);
  const peer = endpointText(peerAddress, peerPort);
  const pair = local < peer ? `${local}|${peer}` : `${peer}|${local}`;
  return isLoopback(localAddress) || isLoopback(peerAddress) ? `${netnsInode}/${pair}` : pair;
}
