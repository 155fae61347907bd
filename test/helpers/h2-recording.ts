/**
 * Real HTTP/2 traffic without the kernel: a TCP proxy records what each direction of a connection
 * carried, chunk by chunk (each chunk is what one read() on the proxy got: a syscall's worth), and
 * `loaderRecords` turns a recording into the loader records the kernel would have given each end
 * (bpf/lib/h2.h's copy rule, modelled byte by byte in test/protocols/http2/capture-model.ts), so the
 * collector's own code (RawEventBuilder) can be run on it. The real kernel is tested by test/bpf and
 * the live pipeline tests; this keeps the logic tests fast, exact and root-free.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import type {
  CloseRecord,
  DataRecord,
  LoaderRecord,
  OpenRecord,
  ReadyRecord,
  RecordFlags,
  StatsRecord,
} from '../../collectors/capture/loader/record-decoder.ts';
import { Flag } from '../../collectors/capture/loader/record-layout.ts';
import { captureDirection } from '../protocols/http2/capture-model.ts';

export interface Chunk {
  toServer: boolean;
  bytes: Uint8Array;
  /** Which of the proxy's connections carried it (0, 1, ... in accept order). */
  connection: number;
}

export interface RecordingProxy {
  readonly port: number;
  readonly chunks: Chunk[];
  close(): Promise<void>;
}

/** A TCP proxy to `upstreamPort` on 127.0.0.1 that records every chunk in the order it passed. */
export async function recordingProxy(upstreamPort: number): Promise<RecordingProxy> {
  const chunks: Chunk[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((down: Socket) => {
    const connection = connections++;
    const up = tcpConnect(upstreamPort, '127.0.0.1');
    sockets.add(down).add(up);
    down.on('data', (d) => {
      chunks.push({ toServer: true, bytes: Uint8Array.from(d), connection });
      up.write(d);
    });
    up.on('data', (d) => {
      chunks.push({ toServer: false, bytes: Uint8Array.from(d), connection });
      down.write(d);
    });
    const close = () => {
      down.destroy();
      up.destroy();
    };
    down.on('close', close).on('error', close);
    up.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    chunks,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const NO_FLAGS: RecordFlags = {
  messageStart: false,
  response: false,
  truncated: false,
  chunkTerminator: false,
  readFailed: false,
  iovLimit: false,
  roleInferred: false,
  preexisting: false,
  v4Mapped: false,
  async: false,
  tls: false,
};

/** One end of one recorded connection, as a loader would name it. */
export interface EndOptions {
  end: 'client' | 'server';
  connId: number;
  tgid?: number;
  clientAddr?: string;
  clientPort?: number;
  serverAddr?: string;
  serverPort?: number;
  netnsInode?: number;
  /** The kernel's copy cap (buffers above it are walked and DATA payloads elided). */
  cap?: number;
  /** The connection was open before the capture: no OPEN, PREEXISTING, role unknown. */
  preexisting?: boolean;
  /** First monotonic timestamp; chunk i is at `startNs + i * 10 µs` (+1 µs on the receiving end). */
  startNs?: bigint;
}

export const READY: ReadyRecord = {
  kind: 'ready',
  abiVersion: 1,
  loaderTgid: 1,
  captureCap: 4096,
  ringBytes: 1 << 23,
  pollMs: 10,
  features: { asyncConnect: true, tls: false },
  monotonicNs: 1_000_000_000n,
  realtimeNs: 1_796_000_000_000_000_000n,
};

/** A STATS record with no drops at `monotonicNs`: it releases what the loss gate holds. */
export function statsAt(monotonicNs: bigint): StatsRecord {
  const kernelDrops = {
    RINGBUF_FULL: 0,
    CONN_MAP_FULL: 0,
    ARGS_MAP_FULL: 0,
    PENDING_MAP_FULL: 0,
    READ_USER: 0,
    READ_KERNEL: 0,
    IOV_LIMIT: 0,
    CONN_MISMATCH: 0,
    SCRATCH: 0,
    TLS_UNBOUND: 0,
    TLS_NOTICE: 0,
    READ_PAYLOAD: 0,
  };
  return {
    kind: 'stats',
    monotonicNs,
    realtimeNs: monotonicNs + (READY.realtimeNs - READY.monotonicNs),
    ringRecords: 0,
    ringBytes: 0,
    forwardedRecords: 0,
    forwardedBytes: 0,
    loaderDroppedRecords: 0,
    loaderDroppedBytes: 0,
    kernelDrops: kernelDrops as StatsRecord['kernelDrops'],
  };
}

/**
 * The loader records one end of recorded connection `connection` would produce: OPEN, a DATA record
 * per captured event (several for a buffer above the cap), CLOSE. Directions, roles and addresses
 * are those of the end.
 */
export function loaderRecords(chunks: readonly Chunk[], connection: number, o: EndOptions): LoaderRecord[] {
  const mine = chunks.filter((c) => c.connection === connection);
  const client = o.end === 'client';
  const clientAddr = o.clientAddr ?? '10.9.0.1';
  const serverAddr = o.serverAddr ?? '10.9.0.2';
  const clientPort = o.clientPort ?? 40_000 + connection;
  const serverPort = o.serverPort ?? 50_051;
  const start = o.startNs ?? READY.monotonicNs + 1_000_000n;
  const base = {
    tgid: o.tgid ?? process.pid,
    tid: o.tgid ?? process.pid,
    fd: 10 + connection,
    connId: o.connId,
    generation: 1,
    role: o.preexisting ? 'unknown' : o.end,
    roleInferred: false,
    family: 4,
    localAddr: client ? clientAddr : serverAddr,
    localPort: client ? clientPort : serverPort,
    peerAddr: client ? serverAddr : clientAddr,
    peerPort: client ? serverPort : clientPort,
    cgroupId: 1n,
    netnsInode: o.netnsInode ?? 4026531840,
    flags: o.preexisting ? { ...NO_FLAGS, preexisting: true } : NO_FLAGS,
    flagBits: Flag.H2,
  } as const;
  // The kernel's view of each direction: every chunk a syscall, copied by the h2 rule.
  const perDirection = (toServer: boolean) => {
    const list = mine.filter((c) => c.toServer === toServer);
    const wire = new Uint8Array(list.reduce((n, c) => n + c.bytes.length, 0));
    let at = 0;
    for (const c of list) {
      wire.set(c.bytes, at);
      at += c.bytes.length;
    }
    const events = captureDirection(
      wire,
      list.map((c) => c.bytes.length),
      o.cap === undefined ? {} : { cap: o.cap },
    );
    const groups: (typeof events)[] = [];
    let i = 0;
    for (const c of list) {
      const group: typeof events = [];
      let n = 0;
      while (n < c.bytes.length) {
        const e = events[i++]!;
        group.push(e);
        n += e.byteCount;
      }
      groups.push(group);
    }
    return groups;
  };
  const up = perDirection(true);
  const down = perDirection(false);
  const out: LoaderRecord[] = [];
  if (!o.preexisting) {
    const open: OpenRecord = {
      ...base,
      kind: 'open',
      timestampNs: start - 1000n,
      direction: 'none',
      syscall: client ? 'connect' : 'accept4',
    };
    out.push(open);
  }
  let ts = start;
  for (const c of mine) {
    const group = c.toServer ? up.shift()! : down.shift()!;
    // Sent by this end: egress at the chunk's time; received: ingress a microsecond later.
    const egress = c.toServer === client;
    const at = egress ? ts : ts + 1000n;
    for (const e of group) {
      const record: DataRecord = {
        ...base,
        kind: 'data',
        timestampNs: at,
        direction: egress ? 'egress' : 'ingress',
        syscall: egress ? 'writev' : 'read',
        byteCount: e.byteCount,
        captured: e.copied,
        durationNs: 1000,
        flagBits: Flag.H2 | (e.elided ? Flag.H2_ELIDED : 0) | (e.frameStart ? Flag.H2_FRAME_START : 0),
      };
      out.push(record);
    }
    ts += 10_000n;
  }
  const close: CloseRecord = {
    ...base,
    kind: 'close',
    timestampNs: ts + 10_000n,
    direction: 'none',
    syscall: 'close',
    openNs: start,
    bytesEgress: 0,
    bytesIngress: 0,
  };
  out.push(close);
  return out;
}
