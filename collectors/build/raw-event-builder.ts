/**
 * Loader records in, L7RawEvent records out (schemas/l7-raw-event.avsc): the agent's hot path.
 *
 *   records ─► LossGate (hold until STATS) ─► per connection: identity, HTTP/1 framer ─► events ─► sink
 *                                                                    └ HTTP/2: http2-connection.ts
 *
 * Per connection (the loader's connection id: one TCP connection of one process, one fd generation) it
 * keeps the framer, which is the minimiser: heads leave redacted, bodies as lengths (or copied bytes
 * when `shipBodies`), unparseable bytes as `unknown` lengths. Nothing else from a payload leaves: the
 * event's other fields are metadata.
 *
 * Costs are per connection where possible (identity, the connection record, the Kafka key bytes are
 * built once and shared by its events) and per event only where the schema asks (timestamps, segments).
 * Errors are counted, never thrown: one odd record cannot stop the capture.
 */
import { Http1Framer, type Http1FramerCounters, newFramerCounters } from '../../protocols/http1/framer.ts';
import type { RedactionPolicy } from '../../protocols/http1/redact.ts';
import type { Segment } from '../../protocols/http1/types.ts';
import type {
  ConnectionInfo,
  ConnectionRole,
  Http2Event,
  L7RawEvent,
  PayloadSegment,
  ProcessIdentity,
  Syscall,
} from '../../schemas/types.ts';
import type {
  CloseRecord,
  ConnectFailedRecord,
  ConnRecordBase,
  DataRecord,
  LoaderRecord,
  NatRecord,
  OpenRecord,
  ReadyRecord,
  RoleName,
  StatsRecord,
  SyscallName,
} from '../capture/loader/record-decoder.ts';
import { type DropReasonName, isTruncationReason } from '../capture/loader/record-layout.ts';
import type { TlsLibraries } from '../capture/tls-libraries.ts';
import {
  type CaptureCounters,
  countDrop,
  countTruncation,
  DROP_REASON,
  DROP_STAGE,
  TRUNCATION_REASON,
} from '../capture-counters.ts';
import { CausalityHints } from './causality-hints.ts';
import { CaptureClock } from './clock.ts';
import { connectionKey } from './connection-key.ts';
import { ConnectionTable } from './connection-table.ts';
import {
  addHttp2Counters,
  type Http2CollectorCounters,
  Http2Connection,
  type Http2ConnectionOptions,
  isHttp2Record,
} from './http2-connection.ts';
import type { Identity, IdentityResolver } from './identity/identity-resolver.ts';
import { type ConnRecord, LossGate } from './loss-gate.ts';

/** Receives every event built, with its Kafka key (the connection key's UTF-8 bytes, shared). */
export type RawEventSink = (event: L7RawEvent, key: Buffer) => void;

export interface RawEventBuilderOptions {
  /** `node.name`. */
  node: string;
  identity: IdentityResolver;
  redaction: RedactionPolicy;
  shipBodies: boolean;
  /** HTTP/2 connections: the loader's `--h2-data-bytes` and the redaction options of their decoders. */
  h2?: Http2ConnectionOptions;
  maxConnections: number;
  counters: CaptureCounters;
  emit: RawEventSink;
  /** Loss-gate window limit (records). */
  maxHeldRecords?: number;
  /** Where the loader's TLS_LIBRARY records go (TLS capture on). */
  tlsLibraries?: TlsLibraries;
}

/**
 * Connection ids are the loader's, unique per loader run; the run number goes above them so ids stay
 * unique for the life of the collector (schema: ConnectionInfo.id). 2^44 connections per run is
 * beyond any loader's life.
 */
const RUN_SHIFT = 44n;
/** CONNECT_FAILED records carry connection id 0 (no connection was made): they get ids of their own. */
const FAILED_CONNECT_ID_BASE = 1n << 62n;
/** NAT records whose OPEN has not been released yet, at most (a gate window's worth of connects). */
const MAX_PENDING_NAT = 65_536;

const SYSCALLS: Record<SyscallName, Syscall> = {
  none: 'OTHER',
  read: 'READ',
  write: 'WRITE',
  readv: 'READV',
  writev: 'WRITEV',
  sendto: 'SENDTO',
  recvfrom: 'RECVFROM',
  sendmsg: 'SENDMSG',
  recvmsg: 'RECVMSG',
  sendfile: 'SENDFILE',
  connect: 'CONNECT',
  accept: 'ACCEPT',
  accept4: 'ACCEPT4',
  close: 'CLOSE',
  ssl_read: 'SSL_READ',
  ssl_write: 'SSL_WRITE',
};

const ROLES: Record<RoleName, ConnectionRole> = { client: 'CLIENT', server: 'SERVER', unknown: 'UNKNOWN' };
const NO_SEGMENTS: PayloadSegment[] = [];
const NO_HINTS: Array<number | null> = [];
const NO_H2_EVENTS: Http2Event[] = [];

interface Conn {
  readonly connId: number;
  readonly framer: Http1Framer;
  /** Set once the kernel marks the connection HTTP/2 (MP_F_H2): its records go there, not to the framer. */
  h2: Http2Connection | null;
  readonly keyBytes: Buffer;
  identity: Identity;
  connection: ConnectionInfo;
  /** The loss epoch this connection's last record saw (LossGate). */
  lossEpoch: number;
  /** The process record of the last event: reused while the thread does not change. */
  lastProcess: ProcessIdentity | null;
  /** Bytes of the DATA records seen, to compare with the kernel's totals at CLOSE. */
  bytesSeen: number;
  /** Wall-clock ms of the batch that brought its last record (for `reapExited`). */
  lastSeenMs: number;
}

export class RawEventBuilder {
  readonly clock = new CaptureClock();
  readonly gate: LossGate;
  readonly #o: RawEventBuilderOptions;
  readonly #counters: CaptureCounters;
  readonly #table: ConnectionTable<Conn>;
  /** Which server exchanges of each process are open: the causality hints of calls (causality-hints.ts). */
  #hints = new CausalityHints();
  /** Framer counters of connections that are gone (closed, evicted, or from earlier loader runs). */
  readonly #framerTotals: Http1FramerCounters = newFramerCounters();
  /** The same for HTTP/2 connections. */
  readonly #h2Totals: Http2CollectorCounters = {};
  readonly #release = (record: ConnRecord, afterLoss: boolean) => this.#record(record, afterLoss);
  #run = -1;
  #runBase = 0n;
  /** The previous STATS of this loader run: its counters are cumulative, drops are the deltas. */
  #lastStats: StatsRecord | null = null;
  #failedConnects = 0n;
  /** NAT records waiting for their OPEN (by loader connection id). */
  readonly #nat = new Map<number, NatRecord>();
  /** Date.now() of the batch being processed: one clock read per batch, not per record. */
  #nowMs = Date.now();

  constructor(options: RawEventBuilderOptions) {
    this.#o = options;
    this.#counters = options.counters;
    this.gate = new LossGate(
      options.maxHeldRecords === undefined ? {} : { maxHeldRecords: options.maxHeldRecords },
    );
    this.#table = new ConnectionTable<Conn>(options.maxConnections, (conn) => {
      this.#counters.connectionsEvicted++;
      this.#retire(conn);
    });
  }

  /** Connections tracked now. */
  get connections(): number {
    return this.#table.size;
  }

  /** Feeds one decoded batch, in stream order. */
  push(records: readonly LoaderRecord[]): void {
    this.#nowMs = Date.now();
    const counters = this.#counters.records;
    const gate = this.gate;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      counters[r.kind] = (counters[r.kind] ?? 0) + 1;
      switch (r.kind) {
        case 'stats':
          this.#stats(r);
          break;
        case 'ready':
          this.#ready(r);
          break;
        case 'tls_library':
          this.#o.tlsLibraries?.apply(r);
          break;
        case 'nat':
          // Comes right before its connection's OPEN (loader --conntrack), which the gate may hold.
          if (this.#nat.size >= MAX_PENDING_NAT) this.#nat.clear();
          this.#nat.set(r.connId, r);
          break;
        case 'open':
        case 'connect_failed':
          // A new connection: look its process up now, while it may still exist (see prefetch).
          this.#o.identity.prefetch(r.tgid);
          if (gate.hold(r)) gate.flush(this.#release, true);
          break;
        default:
          if (gate.hold(r)) gate.flush(this.#release, true);
      }
    }
  }

  /**
   * The loader stopped (or died): what it sent last is released with the loss hint (nothing closes
   * that window), and connection state is dropped, because the next loader run numbers connections
   * anew and will see the open ones again as pre-existing.
   */
  endRun(): void {
    this.gate.flush(this.#release);
    for (const conn of this.#table.clear()) this.#retire(conn);
    this.#hints = new CausalityHints();
  }

  /**
   * Forgets connections quiet for `idleMs` whose process is gone. A process that exits without closing
   * its sockets (most do: the kernel closes them in exit, where no close() syscall runs) leaves no
   * CLOSE record, so without this its connections would sit in the table until LRU eviction. Returns
   * how many were dropped (counted in `connectionsExited`).
   */
  reapExited(idleMs: number, alive: (pid: number) => boolean): number {
    const cutoff = Date.now() - idleMs;
    const known = new Map<number, boolean>();
    let reaped = 0;
    for (const conn of [...this.#table.values()]) {
      if (conn.lastSeenMs > cutoff) continue;
      const pid = conn.identity.process.pid;
      let isAlive = known.get(pid);
      if (isAlive === undefined) {
        isAlive = alive(pid);
        known.set(pid, isAlive);
      }
      if (isAlive) continue;
      this.#table.delete(conn.connId);
      this.#retire(conn);
      reaped++;
    }
    this.#counters.connectionsExited += reaped;
    return reaped;
  }

  /** Framer counters over every connection, gone and live (for metrics). */
  framerCounters(): Http1FramerCounters {
    const total = newFramerCounters();
    addFramerCounters(total, this.#framerTotals);
    for (const conn of this.#table.values()) addFramerCounters(total, conn.framer.counters);
    return total;
  }

  /** HTTP/2 counters over every connection, gone and live (for metrics). */
  h2Counters(): Http2CollectorCounters {
    const total: Http2CollectorCounters = { ...this.#h2Totals };
    for (const conn of this.#table.values()) if (conn.h2 !== null) addHttp2Counters(total, conn.h2);
    return total;
  }

  /** A connection leaves: its protocol counters go to the totals. */
  /** A connection leaves the table (closed, evicted, its process gone, the run ended). */
  #retire(conn: Conn): void {
    addFramerCounters(this.#framerTotals, conn.framer.counters);
    if (conn.h2 !== null) addHttp2Counters(this.#h2Totals, conn.h2);
    this.#hints.closed(conn.identity.process.pid, conn.connId);
  }

  #ready(r: ReadyRecord): void {
    // A READY without endRun() first would mean two runs interleaved, which LoaderProcess never does;
    // flushing keeps the invariant anyway.
    this.endRun();
    this.#run++;
    this.#runBase = BigInt(this.#run) << RUN_SHIFT;
    this.#lastStats = null;
    this.#o.tlsLibraries?.reset();
    this.gate.reset();
    this.clock.update(r.monotonicNs, r.realtimeNs);
  }

  #stats(r: StatsRecord): void {
    this.clock.update(r.monotonicNs, r.realtimeNs);
    this.#countDrops(r);
    this.gate.close(r, this.#release);
  }

  /** Kernel and loader drops (and kernel truncations) since the previous STATS of this run, by reason. */
  #countDrops(r: StatsRecord): void {
    const last = this.#lastStats;
    this.#lastStats = r;
    const c = this.#counters;
    c.kernelRecords += r.ringRecords - (last?.ringRecords ?? 0);
    countDrop(
      c,
      DROP_STAGE.loader,
      DROP_REASON.loaderOutputFull,
      r.loaderDroppedRecords - (last?.loaderDroppedRecords ?? 0),
    );
    for (const [reason, n] of Object.entries(r.kernelDrops) as Array<[DropReasonName, number]>) {
      const delta = n - (last?.kernelDrops[reason] ?? 0);
      if (isTruncationReason(reason)) countTruncation(c, DROP_STAGE.kernel, reason.toLowerCase(), delta);
      else countDrop(c, DROP_STAGE.kernel, reason.toLowerCase(), delta);
    }
  }

  #record(r: ConnRecord, afterLoss: boolean): void {
    switch (r.kind) {
      case 'data':
        this.#data(r, afterLoss);
        break;
      case 'open':
        this.#open(r);
        break;
      case 'close':
        this.#close(r);
        break;
      default:
        this.#connectFailed(r);
    }
  }

  /** A new connection entry, tracked in the table. */
  #newConn(r: ConnRecordBase): Conn {
    const conn = this.#makeConn(r);
    this.#table.add(r.connId, conn);
    return conn;
  }

  #makeConn(r: ConnRecordBase): Conn {
    // A connection NATed on its way (a ClusterIP) is keyed, and its peer named, by where it really
    // went, so both ends share one key (docs/collector.md, "The connection key").
    const nat = this.#nat.get(r.connId);
    if (nat !== undefined) this.#nat.delete(r.connId);
    const peerAddr = nat?.addr ?? r.peerAddr;
    const peerPort = nat?.port ?? r.peerPort;
    const key = connectionKey(r.localAddr, r.localPort, peerAddr, peerPort, r.netnsInode);
    const identity = this.#o.identity.resolve({
      tgid: r.tgid,
      netnsInode: r.netnsInode,
      cgroupId: r.cgroupId,
      localPort: r.localPort,
      localAddress: r.localAddr,
      peerAddress: peerAddr,
      role: r.role,
    });
    const conn: Conn = {
      connId: r.connId,
      framer: new Http1Framer({ redaction: this.#o.redaction, shipBodies: this.#o.shipBodies }),
      h2: null,
      keyBytes: Buffer.from(key),
      identity,
      connection: {
        key,
        id: this.#runBase | BigInt(r.connId),
        fd: r.fd,
        generation: r.generation,
        role: ROLES[r.role],
        roleInferred: r.roleInferred,
        family: r.family === 6 ? 'IPV6' : 'IPV4',
        localAddress: r.localAddr,
        localPort: r.localPort,
        peerAddress: r.peerAddr,
        peerPort: r.peerPort,
        openedUnixNano: null,
        translatedPeerAddress: nat?.addr ?? null,
        translatedPeerPort: nat?.port ?? null,
      },
      lossEpoch: this.gate.epoch,
      lastProcess: null,
      bytesSeen: 0,
      lastSeenMs: this.#nowMs,
    };
    return conn;
  }

  /** The connection of a record, created if this is its first record here. */
  #conn(r: ConnRecordBase): Conn {
    let conn = this.#table.get(r.connId);
    if (conn === undefined) {
      conn = this.#newConn(r);
      this.#counters.connectionsWithoutOpen++;
    } else {
      this.#refresh(conn, r);
    }
    conn.lastSeenMs = this.#nowMs;
    return conn;
  }

  /** Role learnt later (inferred from the first message), or a pod name that was not known yet. */
  #refresh(conn: Conn, r: ConnRecordBase): void {
    const role = ROLES[r.role];
    const c = conn.connection;
    if (role !== 'UNKNOWN' && (role !== c.role || r.roleInferred !== c.roleInferred)) {
      conn.connection = { ...c, role, roleInferred: r.roleInferred };
    }
    // A pod created just before its first connection may not be named yet when the connection is
    // first seen (see NetnsNames, and the Kubernetes caches): look again until it is.
    const peerAddress = conn.connection.translatedPeerAddress ?? r.peerAddr;
    if (this.#o.identity.namesAppeared(conn.identity, r.netnsInode, r.localAddr, peerAddress)) {
      conn.identity = this.#o.identity.resolve({
        tgid: r.tgid,
        netnsInode: r.netnsInode,
        cgroupId: r.cgroupId,
        localPort: r.localPort,
        localAddress: r.localAddr,
        peerAddress,
        role: r.role,
      });
      conn.lastProcess = null;
    }
  }

  #process(conn: Conn, tid: number): ProcessIdentity {
    const last = conn.lastProcess;
    if (last !== null && last.tid === tid) return last;
    const p = conn.identity.process;
    const next: ProcessIdentity = {
      pid: p.pid,
      tid,
      comm: p.comm,
      exe: p.exe,
      cgroupId: p.cgroupId,
      containerId: p.containerId,
    };
    conn.lastProcess = next;
    return next;
  }

  #excluded(conn: Conn): boolean {
    if (!conn.identity.self) return false;
    const excluded = this.#counters.excluded;
    excluded.self = (excluded.self ?? 0) + 1;
    return true;
  }

  #event(
    kind: L7RawEvent['kind'],
    r: ConnRecordBase,
    identity: Identity,
    connection: ConnectionInfo,
    process: ProcessIdentity,
  ): L7RawEvent {
    const events = this.#counters.events;
    events[kind] = (events[kind] ?? 0) + 1;
    return {
      kind,
      timeUnixNano: this.clock.toUnixNs(r.timestampNs),
      monotonicNs: r.timestampNs,
      node: this.#o.node,
      seq: 0n,
      process,
      workload: identity.workload,
      peer: identity.peer,
      connection,
      direction: 'NONE',
      syscall: SYSCALLS[r.syscall],
      byteCount: 0n,
      protocol: 'HTTP1',
      segments: NO_SEGMENTS,
      truncated: false,
      redactions: 0,
      errno: null,
      causalCandidates: NO_HINTS,
      h2: NO_H2_EVENTS,
    };
  }

  #open(r: OpenRecord): void {
    // A second OPEN for an id we track cannot happen within a run; start afresh if it does.
    const conn = this.#newConn(r);
    if (!r.flags.preexisting) {
      conn.connection = { ...conn.connection, openedUnixNano: this.clock.toUnixNs(r.timestampNs) };
    }
    if (this.#excluded(conn)) return;
    const ev = this.#event('OPEN', r, conn.identity, conn.connection, this.#process(conn, r.tid));
    this.#o.emit(ev, conn.keyBytes);
  }

  #data(r: DataRecord, gateLoss: boolean): void {
    const conn = this.#conn(r);
    conn.bytesSeen += r.byteCount;
    const epoch = this.gate.epoch;
    const afterLoss = gateLoss || conn.lossEpoch < epoch;
    conn.lossEpoch = epoch;
    if (this.#excluded(conn)) return;
    const ingress = r.direction === 'ingress';
    const bytes = this.#counters.bytes;
    if (ingress) bytes.ingress += r.byteCount;
    else bytes.egress += r.byteCount;
    if (r.flags.tls) this.#counters.tlsEvents[ingress ? 'ingress' : 'egress']++;
    if (afterLoss) this.#counters.lossHints++;
    if (conn.h2 !== null || isHttp2Record(r)) {
      this.#h2Data(conn, r, afterLoss);
      return;
    }

    const framer = conn.framer;
    const fc = framer.counters;
    const redactionsBefore = fc.redactions;
    const requestsBefore = fc.requests;
    const interimBefore = fc.interimResponses;
    const cutBefore = fc.headsCutByCapture;
    const segments = framer.push({
      direction: ingress ? 'ingress' : 'egress',
      role: r.role,
      copied: r.captured,
      byteCount: r.byteCount,
      chunkTerminator: r.flags.chunkTerminator,
      afterLoss,
    });
    const redactions = fc.redactions - redactionsBefore;
    this.#counters.redactions += redactions;
    countTruncation(
      this.#counters,
      DROP_STAGE.agent,
      TRUNCATION_REASON.headOverCapture,
      fc.headsCutByCapture - cutBefore,
    );

    const connection = this.#withFramerRole(conn);
    const ev = this.#event('DATA', r, conn.identity, connection, this.#process(conn, r.tid));
    ev.direction = ingress ? 'INGRESS' : 'EGRESS';
    ev.byteCount = BigInt(r.byteCount);
    ev.segments = toPayloadSegments(segments);
    ev.causalCandidates = this.#causality(
      conn,
      connection.role,
      ingress,
      afterLoss,
      fc.requests - requestsBefore,
      endsOf(segments) - (fc.interimResponses - interimBefore),
    );
    const f = r.flags;
    ev.truncated = f.truncated || f.readFailed || f.iovLimit;
    ev.redactions = redactions;
    this.#o.emit(ev, conn.keyBytes);
  }

  /**
   * Feeds the exchanges this event opened or ended to the causality hints; returns the hints of the
   * calls it ended (a response read on a CLIENT connection), else none.
   */
  #causality(
    conn: Conn,
    role: ConnectionRole,
    ingress: boolean,
    afterLoss: boolean,
    started: number,
    ended: number,
  ): Array<number | null> {
    const hints = this.#hints;
    const pid = conn.identity.process.pid;
    if (afterLoss) hints.lost(pid);
    if (role === 'SERVER') {
      if (ingress) hints.serverRequests(pid, conn.connId, started);
      else hints.serverResponsesEnded(pid, conn.connId, ended);
    } else if (role === 'CLIENT') {
      if (!ingress) hints.clientRequests(pid, conn.connId, started);
      else if (ended > 0) return hints.clientResponsesEnded(pid, conn.connId, ended);
    } else if (started > 0 || ended > 0) {
      // Messages on a connection whose role is not known: the counts of its process cannot be trusted.
      hints.lost(pid);
    }
    return NO_HINTS;
  }

  /**
   * A record of an HTTP/2 connection: stream events out, one raw event per record that completed any
   * (records of control frames only, or of frames continued in the next syscall, carry nothing a span
   * needs: they are counted as `quietRecords`, not shipped).
   */
  #h2Data(conn: Conn, r: DataRecord, afterLoss: boolean): void {
    // The causality hints count HTTP/1.x exchanges: a process that speaks HTTP/2 has exchanges they
    // do not follow, so its counts are unknown (null hints: the trace linker falls back to its timer).
    this.#hints.untracked(conn.identity.process.pid);
    // Open before the capture, or HTTP/1.x to us until now (an earlier record): the table is unknown.
    conn.h2 ??= new Http2Connection(
      r.role,
      r.flags.preexisting || conn.bytesSeen !== r.byteCount,
      this.#o.h2 ?? { policy: this.#o.redaction },
    );
    const { events, redactions } = conn.h2.data(r, afterLoss);
    if (events.length === 0) {
      conn.h2.quietRecords++;
      return;
    }
    this.#counters.redactions += redactions;
    const connection = this.#withFramerRole(conn);
    const ev = this.#event('DATA', r, conn.identity, connection, this.#process(conn, r.tid));
    ev.direction = r.direction === 'ingress' ? 'INGRESS' : 'EGRESS';
    ev.byteCount = BigInt(r.byteCount);
    ev.protocol = 'HTTP2';
    ev.h2 = events;
    ev.truncated = r.flags.truncated || r.flags.readFailed;
    ev.redactions = redactions;
    this.#o.emit(ev, conn.keyBytes);
  }

  /** When the kernel could not say the role, the framer (or the h2 decoder) may have inferred it. */
  #withFramerRole(conn: Conn): ConnectionInfo {
    const c = conn.connection;
    if (c.role !== 'UNKNOWN') return c;
    const inferred = conn.h2 !== null ? conn.h2.role : conn.framer.role;
    if (inferred === 'unknown') return c;
    conn.connection = { ...c, role: ROLES[inferred], roleInferred: true };
    return conn.connection;
  }

  #close(r: CloseRecord): void {
    let conn = this.#table.delete(r.connId);
    if (conn === undefined) {
      // Its earlier records went to an evicted entry (or were lost): close what we can say.
      conn = this.#makeConn(r);
      this.#counters.connectionsWithoutOpen++;
    }
    const kernelBytes = r.bytesEgress + r.bytesIngress;
    if (kernelBytes > conn.bytesSeen) this.#counters.unseenBytes += kernelBytes - conn.bytesSeen;
    const framer = conn.framer;
    const redactionsBefore = framer.counters.redactions;
    const rest = framer.close();
    const h2Rest = conn.h2?.close(r.timestampNs) ?? null;
    this.#retire(conn);
    if (this.#excluded(conn)) return;
    const connection = this.#withFramerRole(conn);
    const process = this.#process(conn, r.tid);
    const emit = this.#o.emit;
    // What the framer still held (a head cut by the close, the end of a close-delimited body) leaves as
    // zero-length DATA events of its direction, so readers see it where its direction's bytes are.
    for (const [direction, segments] of [
      ['EGRESS', rest.egress],
      ['INGRESS', rest.ingress],
    ] as const) {
      if (segments.length === 0) continue;
      const ev = this.#event('DATA', r, conn.identity, connection, process);
      ev.direction = direction;
      ev.segments = toPayloadSegments(segments);
      emit(ev, conn.keyBytes);
    }
    const redactions = framer.counters.redactions - redactionsBefore;
    this.#counters.redactions += redactions;
    const ev = this.#event('CLOSE', r, conn.identity, connection, process);
    ev.redactions = redactions;
    if (h2Rest !== null) {
      ev.protocol = 'HTTP2';
      ev.h2 = h2Rest;
    }
    emit(ev, conn.keyBytes);
  }

  #connectFailed(r: ConnectFailedRecord): void {
    const key = connectionKey(r.localAddr, r.localPort, r.peerAddr, r.peerPort, r.netnsInode);
    const identity = this.#o.identity.resolve({
      tgid: r.tgid,
      netnsInode: r.netnsInode,
      cgroupId: r.cgroupId,
      localPort: r.localPort,
      localAddress: r.localAddr,
      peerAddress: r.peerAddr,
      role: 'client',
    });
    if (identity.self) {
      this.#counters.excluded.self = (this.#counters.excluded.self ?? 0) + 1;
      return;
    }
    const connection: ConnectionInfo = {
      key,
      id: FAILED_CONNECT_ID_BASE | this.#failedConnects++,
      fd: r.fd,
      generation: r.generation,
      role: 'CLIENT',
      roleInferred: false,
      family: r.family === 6 ? 'IPV6' : 'IPV4',
      localAddress: r.localAddr,
      localPort: r.localPort,
      peerAddress: r.peerAddr,
      peerPort: r.peerPort,
      openedUnixNano: null,
      translatedPeerAddress: null,
      translatedPeerPort: null,
    };
    const p = identity.process;
    const process: ProcessIdentity = { ...p, tid: r.tid };
    const ev = this.#event('CONNECT_FAILED', r, identity, connection, process);
    ev.protocol = 'UNKNOWN';
    ev.errno = r.errno;
    this.#o.emit(ev, Buffer.from(key));
  }
}

/** Messages the segments end. */
function endsOf(segments: readonly Segment[]): number {
  let n = 0;
  for (let i = 0; i < segments.length; i++) if (segments[i]!.endsMessage) n++;
  return n;
}

/** The framer's segments as the schema's PayloadSegment records (bytes as Buffer views, no copies). */
export function toPayloadSegments(segments: readonly Segment[]): PayloadSegment[] {
  const out: PayloadSegment[] = new Array(segments.length);
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    const data = s.data;
    out[i] = {
      kind: s.kind === 'head' ? 'HEAD' : s.kind === 'body' ? 'BODY' : 'UNKNOWN',
      length: BigInt(s.length),
      // The framer's bytes are Buffers already (views of the loader's chunk, or redacted copies).
      data:
        data === null
          ? null
          : Buffer.isBuffer(data)
            ? data
            : Buffer.from(data.buffer, data.byteOffset, data.byteLength),
      endsMessage: s.endsMessage,
    };
  }
  return out;
}

/** Adds `b` into `a` (plain counters and the per-reason maps). */
export function addFramerCounters(a: Http1FramerCounters, b: Http1FramerCounters): void {
  for (const k of Object.keys(b) as (keyof Http1FramerCounters)[]) {
    const v = b[k];
    if (typeof v === 'number') (a[k] as number) += v;
    else {
      const into = a[k] as Record<string, number>;
      for (const [reason, n] of Object.entries(v)) into[reason] = (into[reason] ?? 0) + (n ?? 0);
    }
  }
}
