/**
 * What the span-assembler benchmark workloads (workload.ts for HTTP/1.x, grpc-workload.ts for gRPC)
 * share: the five services of the recorded shape, where the recorded clock starts, and one end of one
 * connection as its node's collector ships it — every raw event field but the protocol's own.
 */
import type { Http2Event, L7RawEvent, PayloadSegment } from '../../schemas/types.ts';

/** Where the recorded clock starts (ns since the epoch). */
export const WORKLOAD_T0 = 1_796_000_000_000_000_000n;

export interface Service {
  name: string;
  node: string;
  pid: number;
  address: string;
}

export const SERVICES: Service[] = [
  { name: 'gateway', node: 'node-a', pid: 1100, address: '10.0.1.10' },
  { name: 'orders', node: 'node-b', pid: 2100, address: '10.0.2.10' },
  { name: 'inventory', node: 'node-a', pid: 3100, address: '10.0.1.11' },
  { name: 'users', node: 'node-c', pid: 4100, address: '10.0.3.10' },
  { name: 'payments', node: 'node-b', pid: 5100, address: '10.0.2.11' },
];

/** `n` hex digits from a seeded generator (trace ids, tokens). */
export function hex(rand: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 16).toString(16);
  return s;
}

/** What differs between two raw events of one end. */
export interface EndEvent {
  kind: 'OPEN' | 'DATA';
  ts: bigint;
  /** Undefined for OPEN. */
  egress?: boolean;
  syscall: L7RawEvent['syscall'];
  byteCount: bigint;
  protocol: L7RawEvent['protocol'];
  segments?: PayloadSegment[];
  h2?: Http2Event[];
}

/** One end of one connection as its node's collector captures it. */
export class WorkloadEnd {
  readonly role: 'CLIENT' | 'SERVER';
  readonly local: Service;
  readonly localPort: number;
  readonly peer: Service;
  readonly peerPort: number;
  readonly key: string;
  readonly connId: bigint;
  readonly tid: number;
  readonly workloadKind: string | null;
  seq = 0n;

  constructor(
    role: 'CLIENT' | 'SERVER',
    local: Service,
    localPort: number,
    peer: Service,
    peerPort: number,
    options: { tid: number; workloadKind: string | null },
  ) {
    this.role = role;
    this.local = local;
    this.localPort = localPort;
    this.peer = peer;
    this.peerPort = peerPort;
    const ends = [`${local.address}:${localPort}`, `${peer.address}:${peerPort}`].sort();
    this.key = `${ends[0]}|${ends[1]}`;
    this.connId = BigInt(local.pid) * 100_000n + BigInt(localPort);
    this.tid = options.tid;
    this.workloadKind = options.workloadKind;
  }

  rawEvent(e: EndEvent): L7RawEvent {
    return {
      kind: e.kind,
      timeUnixNano: e.ts,
      monotonicNs: e.ts - WORKLOAD_T0 + 1_000_000_000n,
      node: this.local.node,
      seq: this.seq++,
      process: {
        pid: this.local.pid,
        tid: this.tid,
        comm: this.local.name,
        exe: `/usr/bin/${this.local.name}`,
        cgroupId: BigInt(this.local.pid),
        containerId: `c0ffee${this.local.pid}`,
      },
      workload: {
        netnsInode: 4026531840n + BigInt(this.local.pid),
        pod: `${this.local.name}-7d9f8b6c5-x2x9q`,
        namespace: 'shop',
        workload: this.local.name,
        service: this.local.name,
        podUid: null,
        container: null,
        workloadKind: this.workloadKind,
      },
      peer: null,
      connection: {
        key: this.key,
        id: this.connId,
        fd: 12,
        generation: 1,
        role: this.role,
        roleInferred: false,
        family: 'IPV4',
        localAddress: this.local.address,
        localPort: this.localPort,
        peerAddress: this.peer.address,
        peerPort: this.peerPort,
        openedUnixNano: null,
        translatedPeerAddress: null,
        translatedPeerPort: null,
      },
      direction: e.egress === undefined ? 'NONE' : e.egress ? 'EGRESS' : 'INGRESS',
      syscall: e.syscall,
      byteCount: e.byteCount,
      protocol: e.protocol,
      segments: e.segments ?? [],
      truncated: false,
      redactions: 0,
      errno: null,
      causalCandidates: [],
      h2: e.h2 ?? [],
    };
  }

  /** The connect or accept that opens this end. */
  open(ts: bigint): L7RawEvent {
    return this.rawEvent({
      kind: 'OPEN',
      ts,
      syscall: this.role === 'CLIENT' ? 'CONNECT' : 'ACCEPT4',
      byteCount: 0n,
      protocol: 'HTTP1',
    });
  }
}
