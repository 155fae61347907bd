/**
 * Raw events for processor unit tests: a complete, valid `L7RawEvent` from a few options, so a test
 * states what matters to it (service, direction, the HTTP head) and nothing else.
 *
 *   rawEvent({ service: 'orders', direction: 'INGRESS', head: 'GET /users/1 HTTP/1.1\r\n\r\n' })
 */
import type { L7RawEvent, PayloadSegment } from '../../schemas/types.ts';

export interface RawEventOptions {
  kind?: L7RawEvent['kind'];
  /** Service of the process that made the syscall (default `client`). */
  service?: string;
  direction?: L7RawEvent['direction'];
  role?: L7RawEvent['connection']['role'];
  /** An HTTP head carried by the event (shipped as a HEAD segment). */
  head?: string;
  /** Body bytes carried by the event (shipped as a length-only BODY segment). */
  bodyBytes?: number;
  /** Default 1_700_000_000_000_000_000 ns. */
  timeUnixNano?: bigint;
  connectionKey?: string;
  node?: string;
  pid?: number;
  seq?: bigint;
}

export function rawEvent(options: RawEventOptions = {}): L7RawEvent {
  const kind = options.kind ?? 'DATA';
  const segments: PayloadSegment[] = [];
  if (options.head !== undefined) {
    const data = Buffer.from(options.head, 'latin1');
    segments.push({ kind: 'HEAD', length: BigInt(data.length), data, endsMessage: !options.bodyBytes });
  }
  if (options.bodyBytes !== undefined && options.bodyBytes > 0) {
    segments.push({ kind: 'BODY', length: BigInt(options.bodyBytes), data: null, endsMessage: true });
  }
  const time = options.timeUnixNano ?? 1_700_000_000_000_000_000n;
  const role = options.role ?? 'CLIENT';
  const local = role === 'SERVER' ? ['10.0.0.2', 8080] : ['10.0.0.1', 40000];
  const peer = role === 'SERVER' ? ['10.0.0.1', 40000] : ['10.0.0.2', 8080];
  const service = options.service ?? 'client';
  return {
    kind,
    timeUnixNano: time,
    monotonicNs: time % 1_000_000_000_000n,
    node: options.node ?? 'node-a',
    seq: options.seq ?? 0n,
    process: {
      pid: options.pid ?? 1000,
      tid: options.pid ?? 1000,
      comm: service.slice(0, 15),
      exe: null,
      cgroupId: 1n,
      containerId: null,
    },
    workload: {
      netnsInode: 4026531840n,
      pod: null,
      namespace: null,
      workload: null,
      service,
      podUid: null,
      container: null,
      workloadKind: null,
    },
    peer: null,
    connection: {
      key: options.connectionKey ?? '10.0.0.1:40000|10.0.0.2:8080',
      id: 1n,
      fd: 5,
      generation: 1,
      role,
      roleInferred: false,
      family: 'IPV4',
      localAddress: local[0] as string,
      localPort: local[1] as number,
      peerAddress: peer[0] as string,
      peerPort: peer[1] as number,
      openedUnixNano: null,
      translatedPeerAddress: null,
      translatedPeerPort: null,
    },
    direction: kind === 'DATA' ? (options.direction ?? 'EGRESS') : 'NONE',
    syscall: kind === 'DATA' ? (options.direction === 'INGRESS' ? 'READ' : 'WRITE') : 'CLOSE',
    byteCount: segments.reduce((sum, s) => sum + s.length, 0n),
    protocol: 'HTTP1',
    segments,
    truncated: false,
    redactions: 0,
    errno: null,
    causalCandidates: [],
    h2: [],
  };
}
