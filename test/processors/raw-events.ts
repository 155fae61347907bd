/**
 * Raw L7 events built from real wire bytes the way a collector builds them: the bytes of each syscall
 * go through the kernel copy model (test/protocols/http1/capture-model.ts) and the collector's framer
 * (protocols/http1/framer.ts), and the framer's segments become the event's `segments`. One
 * `CapturedSide` is one end of one TCP connection as one node's collector sees it.
 */
import { Http1Framer } from '../../protocols/http1/framer.ts';
import type { CapturedEvent, Direction } from '../../protocols/http1/types.ts';
import type { ConnectionRole, EventKind, L7RawEvent, PayloadSegment } from '../../schemas/types.ts';
import { bytes } from '../protocols/http1/fixtures.ts';

export const T0 = 1_796_000_000_000_000_000n;
export const US = 1_000n;
export const MS = 1_000_000n;

export interface Endpoint {
  node: string;
  pid: number;
  tid?: number;
  comm?: string;
  service: string;
  pod?: string | null;
  namespace?: string | null;
  address: string;
  port: number;
}

export interface SideOptions {
  /** Connection id on the node (default: derived from pid and port). */
  connId?: bigint;
  generation?: number;
  /** The collector saw connect()/accept() (default) or inferred the role (capture started later). */
  role?: ConnectionRole;
  roleInferred?: boolean;
  /** Kernel copy cap per message (default: copy everything). */
  copyCap?: number;
}

let seq = 0n;

export function connectionKey(a: Endpoint, b: Endpoint): string {
  const ends = [`${a.address}:${a.port}`, `${b.address}:${b.port}`].sort();
  return `${ends[0]}|${ends[1]}`;
}

export class CapturedSide {
  readonly local: Endpoint;
  readonly peer: Endpoint;
  readonly role: 'CLIENT' | 'SERVER';
  readonly key: string;
  readonly options: SideOptions;
  readonly framer = new Http1Framer();
  /** Copy budget left for the current message, per direction (the kernel's per-message budget). */
  readonly #budget = { egress: 0, ingress: 0 };

  constructor(role: 'CLIENT' | 'SERVER', local: Endpoint, peer: Endpoint, options: SideOptions = {}) {
    this.role = role;
    this.local = local;
    this.peer = peer;
    this.key = connectionKey(local, peer);
    this.options = options;
  }

  #event(
    kind: EventKind,
    ts: bigint,
    fields: Partial<
      Pick<L7RawEvent, 'direction' | 'syscall' | 'byteCount' | 'segments' | 'errno' | 'truncated'>
    > & {
      tid?: number;
    } = {},
  ): L7RawEvent {
    const o = this.options;
    return {
      kind,
      timeUnixNano: ts,
      monotonicNs: ts - T0 + 1_000_000_000n,
      node: this.local.node,
      seq: seq++,
      process: {
        pid: this.local.pid,
        tid: fields.tid ?? this.local.tid ?? this.local.pid,
        comm: this.local.comm ?? this.local.service,
        exe: null,
        cgroupId: 1n,
        containerId: null,
      },
      workload: {
        netnsInode: 4026531840n,
        pod: this.local.pod ?? this.local.service,
        namespace: this.local.namespace ?? null,
        workload: null,
        service: this.local.service,
        podUid: null,
        container: null,
        workloadKind: null,
      },
      peer: null,
      connection: {
        key: this.key,
        id: o.connId ?? BigInt(this.local.pid * 100_000 + this.local.port),
        fd: 7,
        generation: o.generation ?? 1,
        role: o.role ?? this.role,
        roleInferred: o.roleInferred ?? false,
        family: 'IPV4',
        localAddress: this.local.address,
        localPort: this.local.port,
        peerAddress: this.peer.address,
        peerPort: this.peer.port,
        openedUnixNano: null,
        translatedPeerAddress: null,
        translatedPeerPort: null,
      },
      direction: fields.direction ?? 'NONE',
      syscall: fields.syscall ?? 'OTHER',
      byteCount: fields.byteCount ?? 0n,
      protocol: 'HTTP1',
      segments: fields.segments ?? [],
      truncated: fields.truncated ?? false,
      redactions: 0,
      errno: fields.errno ?? null,
      causalCandidates: [],
      h2: [],
    };
  }

  open(ts: bigint): L7RawEvent {
    return this.#event('OPEN', ts, { syscall: this.role === 'CLIENT' ? 'CONNECT' : 'ACCEPT4' });
  }

  close(ts: bigint): L7RawEvent {
    return this.#event('CLOSE', ts, { syscall: 'CLOSE' });
  }

  connectFailed(ts: bigint, errno: number): L7RawEvent {
    return this.#event('CONNECT_FAILED', ts, { syscall: 'CONNECT', errno });
  }

  /**
   * One syscall moving `wire` (Latin-1 string) in `dir`. `copied` limits the bytes the kernel copied
   * (default: per the copy cap); the framer turns it into segments.
   */
  data(
    ts: bigint,
    dir: Direction,
    wire: string,
    options: { copied?: number; tid?: number } = {},
  ): L7RawEvent {
    const buf = bytes(wire);
    const cap = this.options.copyCap ?? Number.MAX_SAFE_INTEGER;
    const startsMessage = /^(GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH) |^HTTP\/1\.\d /.test(wire);
    let copiedLen: number;
    if (options.copied !== undefined) copiedLen = options.copied;
    else if (startsMessage) {
      copiedLen = Math.min(buf.length, cap);
      this.#budget[dir] = cap - copiedLen;
    } else {
      copiedLen = Math.min(buf.length, this.#budget[dir]);
      this.#budget[dir] -= copiedLen;
    }
    const captured: CapturedEvent = {
      direction: dir,
      role: this.role === 'CLIENT' ? 'client' : 'server',
      copied: buf.slice(0, copiedLen),
      byteCount: buf.length,
      chunkTerminator: copiedLen === 0 && wire.endsWith('\r\n0\r\n\r\n'),
    };
    const segments: PayloadSegment[] = this.framer.push(captured).map((s) => ({
      kind: s.kind === 'head' ? 'HEAD' : s.kind === 'body' ? 'BODY' : 'UNKNOWN',
      length: BigInt(s.length),
      data: s.data === null ? null : Buffer.from(s.data),
      endsMessage: s.endsMessage,
    }));
    const ingress = dir === 'ingress';
    return this.#event('DATA', ts, {
      direction: ingress ? 'INGRESS' : 'EGRESS',
      syscall: ingress ? 'READ' : 'WRITE',
      byteCount: BigInt(buf.length),
      segments,
      truncated: copiedLen < buf.length && startsMessage,
      ...(options.tid === undefined ? {} : { tid: options.tid }),
    });
  }

  /** The request direction of this side: a client writes requests, a server reads them. */
  get requestDir(): Direction {
    return this.role === 'CLIENT' ? 'egress' : 'ingress';
  }
  get responseDir(): Direction {
    return this.role === 'CLIENT' ? 'ingress' : 'egress';
  }
}

/** Both ends of one TCP connection, each captured by its own node's collector. */
export class Connection {
  readonly client: CapturedSide;
  readonly server: CapturedSide;

  constructor(
    client: Endpoint,
    server: Endpoint,
    options: { client?: SideOptions; server?: SideOptions } = {},
  ) {
    this.client = new CapturedSide('CLIENT', client, server, options.client);
    this.server = new CapturedSide('SERVER', server, client, options.server);
  }

  get key(): string {
    return this.client.key;
  }

  /**
   * One full exchange on the connection: the client writes the request at `at`, the server reads it
   * 50 µs later, writes the response at `at + latency`, the client reads it 50 µs after that.
   * Returns [client events, server events].
   */
  exchange(
    at: bigint,
    request: string,
    response: string,
    options: { latency?: bigint; clientTid?: number; serverTid?: number } = {},
  ): [L7RawEvent[], L7RawEvent[]] {
    const latency = options.latency ?? 1n * MS;
    const ct = options.clientTid === undefined ? {} : { tid: options.clientTid };
    const st = options.serverTid === undefined ? {} : { tid: options.serverTid };
    return [
      [
        this.client.data(at, 'egress', request, ct),
        this.client.data(at + latency + 100n * US, 'ingress', response, ct),
      ],
      [
        this.server.data(at + 50n * US, 'ingress', request, st),
        this.server.data(at + latency, 'egress', response, st),
      ],
    ];
  }
}
