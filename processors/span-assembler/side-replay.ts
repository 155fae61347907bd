/**
 * Runs one capture side's HTTP/1.x reading and pairing (protocols/http1: a message reader per
 * direction, an exchange pairer per side) from plain-data state.
 *
 * Why a replay: `Http1MessageReader` and `Http1ExchangePairer` keep their state in private fields, and
 * processor state must be plain data for the changelog. So the state of a side is the log of what was
 * fed to them since the side was last *quiescent* (no message open in either direction, no request
 * waiting, no response held); every event replays that log into fresh instances and then feeds the new
 * event. The log is short in practice (a request and its response, then it is cleared), long bodies
 * are compacted into one entry, and its length is capped. It is deterministic, so a replay rebuilds
 * exactly the instances the previous call had, and request ordinals (hence span ids) come out alike.
 *
 * The one piece of state that outlives a clear is the reader's "sync lost" mark, which tells the pairer
 * that responses may be missing before the next one. It is read at the clear by feeding the discarded
 * reader a probe head and looking at the message's `resync` flag, and restored before the next replay
 * with a zero-length `unknown` segment (which sets the mark and does nothing else).
 */
import {
  HTTP1_PROTOCOL,
  type Http1Exchange,
  type Http1Message,
  type Http1MessageReader,
  type Segment,
} from '../../protocols/http1/index.ts';
import type { Dir, LogEntry, SideState, StoredSegment } from './state.ts';

/** What a live step can be: an event's segments, a timeout check, the connection's close. */
export type LiveOp = LogEntry | { op: 'close'; at: bigint };

export interface MessageInfo {
  readonly dir: Dir;
  /** Thread of the event that carried the message's first bytes. */
  readonly tid: number;
  /** Request ordinal on this side (requests only). */
  readonly ordinal: number | null;
}

export interface SideRun {
  /** Exchanges that ended during the live ops (those of the replayed log were handled before). */
  readonly exchanges: Http1Exchange[];
  readonly info: ReadonlyMap<Http1Message, MessageInfo>;
  /** Ordinals of orphan responses among `exchanges`. */
  readonly orphanOrdinal: ReadonlyMap<Http1Exchange, number>;
  /** Requests that ended during the live ops, in order. */
  readonly newRequests: Http1Message[];
  /** Direction of the first request (or, failing that, response) that ended during the live ops. */
  readonly firstMessage: { dir: Dir; kind: 'request' | 'response' } | null;
  readonly tunnel: boolean;
  /** Reader counter deltas over the live ops. */
  readonly invalidHeads: number;
  readonly headsLost: number;
  readonly orphanBodyBytes: number;
}

const EMPTY_UNKNOWN: Segment = { kind: 'unknown', length: 0, data: null, endsMessage: false };
const PROBE_HEAD: Segment = {
  kind: 'head',
  length: 0,
  data: new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'),
  endsMessage: true,
};

function readerCounts(r: Http1MessageReader): [number, number, number] {
  let invalid = 0;
  for (const n of Object.values(r.counters.invalidHeads)) invalid += n ?? 0;
  return [invalid, r.counters.headsLost, r.counters.orphanBodyBytes];
}

/**
 * Replays `side.log`, applies `live`, and updates `side` in place (log, ordinals, resync marks,
 * tunnel). Returns what the live ops produced.
 */
export function runSide(side: SideState, live: readonly LiveOp[]): SideRun {
  const readers = {
    egress: HTTP1_PROTOCOL.createMessageReader(),
    ingress: HTTP1_PROTOCOL.createMessageReader(),
  };
  const pairer = HTTP1_PROTOCOL.createPairer();
  const info = new Map<Http1Message, MessageInfo>();
  const orphanOrdinal = new Map<Http1Exchange, number>();
  const tidAt = { egress: new Map<bigint, number>(), ingress: new Map<bigint, number>() };
  let requests = side.baseRequests;
  let orphans = side.baseOrphans;
  let collecting = false;
  const exchanges: Http1Exchange[] = [];
  const newRequests: Http1Message[] = [];
  let firstMessage: SideRun['firstMessage'] = null;

  for (const dir of ['egress', 'ingress'] as const) {
    if (side.resync[dir]) readers[dir].push(0n, [EMPTY_UNKNOWN]);
  }

  const pushMessages = (dir: Dir | null, messages: Http1Message[], tid: number): number => {
    let produced = messages.length;
    for (const m of messages) {
      const d = dir ?? info.get(m)?.dir ?? 'egress';
      const ordinal = m.kind === 'request' ? requests++ : null;
      info.set(m, { dir: d, tid: tidAt[d].get(m.startNs) ?? tid, ordinal });
      if (collecting) {
        if (m.kind === 'request') newRequests.push(m);
        if (firstMessage === null || (firstMessage.kind === 'response' && m.kind === 'request')) {
          firstMessage = { dir: d, kind: m.kind };
        }
      }
      produced += collect(pairer.push(m));
    }
    return produced;
  };
  const collect = (out: Http1Exchange[]): number => {
    for (const x of out) {
      if (x.request === undefined) orphanOrdinal.set(x, orphans++);
      if (collecting) exchanges.push(x);
    }
    return out.length;
  };
  /** Messages ended by expire/close, both directions merged in time order (the pairer wants that). */
  const ended = (egress: Http1Message[], ingress: Http1Message[]): Http1Message[] => {
    for (const m of egress)
      info.set(m, { dir: 'egress', tid: tidAt.egress.get(m.startNs) ?? 0, ordinal: null });
    for (const m of ingress)
      info.set(m, { dir: 'ingress', tid: tidAt.ingress.get(m.startNs) ?? 0, ordinal: null });
    return [...egress, ...ingress].sort((a, b) =>
      a.startNs === b.startNs
        ? a.kind === b.kind
          ? 0
          : a.kind === 'request'
            ? -1
            : 1
        : a.startNs < b.startNs
          ? -1
          : 1,
    );
  };
  /** Applies one op; returns how many messages and exchanges it produced. */
  const apply = (op: LiveOp): number => {
    switch (op.op) {
      case 'data': {
        for (const seg of op.segments) {
          if (seg.kind === 'head' && !tidAt[op.dir].has(op.ts)) tidAt[op.dir].set(op.ts, op.tid);
        }
        return pushMessages(op.dir, readers[op.dir].push(op.ts, op.segments as Segment[]), op.tid);
      }
      case 'expire': {
        const ms = ended(
          readers.egress.expire(op.now, op.timeout),
          readers.ingress.expire(op.now, op.timeout),
        );
        return pushMessages(null, ms, 0) + collect(pairer.expire(op.now, op.timeout));
      }
      default: {
        const ms = ended(readers.egress.close(op.at), readers.ingress.close(op.at));
        return pushMessages(null, ms, 0) + collect(pairer.close(op.at));
      }
    }
  };

  for (const entry of side.log) apply(entry);

  collecting = true;
  const before = [...readerCounts(readers.egress), ...readerCounts(readers.ingress)];
  const logged: LogEntry[] = [];
  let closed = false;
  for (const op of live) {
    const produced = apply(op);
    if (op.op === 'close') closed = true;
    // A timeout check that ended nothing changed nothing: no need to remember it.
    else if (op.op === 'data' || produced > 0) logged.push(op);
  }
  const after = [...readerCounts(readers.egress), ...readerCounts(readers.ingress)];
  const delta = (i: number) => after[i]! - before[i]! + (after[i + 3]! - before[i + 3]!);

  side.requests = requests;
  side.orphans = orphans;
  if (pairer.tunnel) side.tunnel = true;
  const quiescent =
    readers.egress.openSinceNs === null &&
    readers.ingress.openSinceNs === null &&
    pairer.pendingRequests === 0 &&
    pairer.heldResponses === 0;
  if (closed || quiescent) {
    side.log = [];
    side.baseRequests = requests;
    side.baseOrphans = orphans;
    // Read each reader's sync-lost mark before the instances are dropped (see the file comment).
    for (const dir of ['egress', 'ingress'] as const) {
      side.resync[dir] = !closed && (readers[dir].push(0n, [PROBE_HEAD])[0]?.resync ?? false);
    }
  } else {
    for (const entry of logged) appendCompacted(side.log, entry);
  }
  return {
    exchanges,
    info,
    orphanOrdinal,
    newRequests,
    firstMessage,
    tunnel: pairer.tunnel,
    invalidHeads: delta(0),
    headsLost: delta(1),
    orphanBodyBytes: delta(2),
  };
}

/** Only body bytes that end nothing, or only unknown bytes: such entries fold into one. */
function foldable(entry: LogEntry): 'body' | 'unknown' | null {
  if (entry.op !== 'data' || entry.segments.length === 0) return null;
  const kind = entry.segments[0]!.kind;
  if (kind === 'head') return null;
  for (const seg of entry.segments) {
    if (seg.kind !== kind || seg.endsMessage || (seg.data !== null && seg.data.length > 0)) return null;
  }
  return kind;
}

/**
 * Appends, folding runs of body-only (or unknown-only) events of one direction into one entry: the
 * reader does the same thing for N of them as for one with their summed length and the last timestamp
 * (bytes counted, last-activity time moved), so a streamed download costs one entry, not thousands.
 */
export function appendCompacted(log: LogEntry[], entry: LogEntry): void {
  const prev = log[log.length - 1];
  const kind = foldable(entry);
  if (
    prev !== undefined &&
    prev.op === 'data' &&
    entry.op === 'data' &&
    kind !== null &&
    prev.dir === entry.dir
  ) {
    if (foldable(prev) === kind) {
      let length = 0;
      for (const seg of prev.segments) length += seg.length;
      for (const seg of entry.segments) length += seg.length;
      const merged: StoredSegment = { kind, length, data: null, endsMessage: false };
      log[log.length - 1] = { op: 'data', ts: entry.ts, dir: entry.dir, tid: entry.tid, segments: [merged] };
      return;
    }
  }
  log.push(entry);
}
