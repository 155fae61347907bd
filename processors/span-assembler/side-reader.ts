/**
 * Runs one capture side's HTTP/1.x reading and pairing (protocols/http1: a message reader per
 * direction, an exchange pairer per side) from the side's partition state.
 *
 * The reader and the pairer save their state as plain data (`toState`) and go on from it
 * (`HTTP1_PROTOCOL.restoreMessageReader`, `restorePairer`), so a side's state is what they hold —
 * the message open in each direction (with the lost-sync mark), the requests waiting for a response,
 * the responses held — and each event is parsed once, when it arrives. A reader or pairer holding
 * nothing is stored as `null`: a keep-alive connection between two exchanges costs no parser state.
 *
 * What the span needs besides the exchange travels with it:
 * - the thread: the reader tags each message with the thread of the event whose head opened it;
 * - the request ordinal (part of the span id): requests are numbered as they are read (`requests`),
 *   and since the pairer lets requests leave in the order they came, the n-th exchange with a request
 *   holds the n-th request (`paired`); orphan responses are numbered as they leave (`orphans`);
 * - the direction of the first message, which decides the span kind only while the side's role is
 *   unknown. The role is inferred from the first message that ends on the side, so a message restored
 *   from state always belongs to a side whose role is known.
 */
import {
  HTTP1_PROTOCOL,
  type Http1Exchange,
  type Http1ExchangePairer,
  type Http1Message,
  type Http1MessageReader,
  type Segment,
} from '../../protocols/http1/index.ts';
import type { Dir, SideState } from './state.ts';

/** What can happen to a side: an event's segments, a timeout check, the connection's close. */
export type SideOp =
  | { op: 'data'; ts: bigint; dir: Dir; tid: number; segments: readonly Segment[] }
  | { op: 'expire'; now: bigint; timeout: bigint }
  | { op: 'close'; at: bigint };

/** An exchange that ended, with what its span needs from the side. */
export interface SideExchange {
  readonly exchange: Http1Exchange;
  /** Direction of its first message (request, or the orphan response). */
  readonly dir: Dir;
  /** Thread of the event that opened the first message. */
  readonly tid: number;
  /** Request ordinal, or orphan-response ordinal when there is no request. */
  readonly ordinal: number;
}

export interface SideRun {
  readonly exchanges: SideExchange[];
  /** Requests read during the run, in order, with their ordinals. */
  readonly newRequests: Array<{ message: Http1Message; dir: Dir; ordinal: number }>;
  /** Direction of the first request (or, failing that, response) read during the run. */
  readonly firstMessage: { dir: Dir; kind: 'request' | 'response' } | null;
  readonly tunnel: boolean;
  /** Reader counters over the run. */
  readonly invalidHeads: number;
  readonly headsLost: number;
  readonly orphanBodyBytes: number;
  /** Messages the pairer holds after the run (requests waiting, responses held). */
  readonly pending: number;
}

/**
 * A side as span-assembler wrote it before the reader and pairer had plain-data state: the events fed
 * to them since the side was last quiescent, replayed into fresh instances on every event, request and
 * orphan ordinals handed out before that log, and the readers' lost-sync marks at its last clear.
 */
interface LegacySide {
  log?: Array<
    | { op: 'data'; ts: bigint; dir: Dir; tid: number; segments: Segment[] }
    | { op: 'expire'; now: bigint; timeout: bigint }
  >;
  baseRequests?: number;
  baseOrphans?: number;
  resync?: { egress: boolean; ingress: boolean };
}

/** A zero-length `unknown` segment: sets a reader's lost-sync mark and does nothing else. */
const LOST_SYNC: Segment = { kind: 'unknown', length: 0, data: null, endsMessage: false };

/**
 * Brings a side restored from a changelog written by an older span-assembler (see LegacySide) to the
 * parser-state form, by replaying its log once into fresh instances, as that version did on every
 * event. What the replay ends was turned into spans by that version already: only the ordinals it
 * hands out count. Returns whether the side was changed.
 */
export function upgradeSide(side: SideState): boolean {
  if (side.http !== undefined) return false;
  const legacy = side as SideState & LegacySide;
  side.http = { egress: null, ingress: null, pairer: null };
  // Before the log, every request read had left the pairer (the log starts at a quiescent point).
  side.requests = legacy.baseRequests ?? 0;
  side.paired = legacy.baseRequests ?? 0;
  side.orphans = legacy.baseOrphans ?? 0;
  const ops: SideOp[] = [];
  for (const dir of ['egress', 'ingress'] as const) {
    if (legacy.resync?.[dir] === true) ops.push({ op: 'data', ts: 0n, dir, tid: 0, segments: [LOST_SYNC] });
  }
  for (const entry of legacy.log ?? []) ops.push(entry);
  runSide(side, ops);
  delete legacy.log;
  delete legacy.baseRequests;
  delete legacy.baseOrphans;
  delete legacy.resync;
  return true;
}

/** Whether the side holds an open message or an unanswered exchange (timeouts have work to do). */
export function sideHasOpen(side: SideState): boolean {
  const h = side.http;
  return (
    h.egress?.open != null ||
    h.ingress?.open != null ||
    (h.pairer !== null && (h.pairer.waiting.length > 0 || h.pairer.held.length > 0))
  );
}

/** The direction a message of `kind` travels on a side of known role (requests leave a client). */
function roleDir(side: SideState, kind: 'request' | 'response'): Dir {
  if (side.role === 'SERVER') return kind === 'request' ? 'ingress' : 'egress';
  return kind === 'request' ? 'egress' : 'ingress';
}

function byStart(a: Http1Message, b: Http1Message): number {
  if (a.startNs !== b.startNs) return a.startNs < b.startNs ? -1 : 1;
  if (a.kind === b.kind) return 0;
  return a.kind === 'request' ? -1 : 1;
}

/** Applies `ops` to the side's readers and pairer; updates the side's state in place. */
export function runSide(side: SideState, ops: readonly SideOp[]): SideRun {
  const h = side.http;
  const protocol = HTTP1_PROTOCOL;
  let egress: Http1MessageReader | null = h.egress === null ? null : protocol.restoreMessageReader(h.egress);
  let ingress: Http1MessageReader | null =
    h.ingress === null ? null : protocol.restoreMessageReader(h.ingress);
  let pairer: Http1ExchangePairer | null = h.pairer === null ? null : protocol.restorePairer(h.pairer);
  const reader = (dir: Dir): Http1MessageReader => {
    if (dir === 'egress') {
      egress ??= protocol.createMessageReader();
      return egress;
    }
    ingress ??= protocol.createMessageReader();
    return ingress;
  };

  const dirOf = new Map<Http1Message, Dir>();
  const exchanges: SideExchange[] = [];
  const newRequests: SideRun['newRequests'] = [];
  let firstMessage: SideRun['firstMessage'] = null;

  const collect = (out: Http1Exchange[]): void => {
    for (const x of out) {
      const first = (x.request ?? x.response)!;
      const ordinal = x.request !== undefined ? side.paired++ : side.orphans++;
      const dir = dirOf.get(first) ?? roleDir(side, first.kind);
      exchanges.push({ exchange: x, dir, tid: first.tag ?? 0, ordinal });
    }
  };
  const feed = (messages: readonly Http1Message[], dir: Dir | null): void => {
    for (const m of messages) {
      const d = dir ?? dirOf.get(m)!;
      dirOf.set(m, d);
      if (m.kind === 'request') newRequests.push({ message: m, dir: d, ordinal: side.requests++ });
      if (firstMessage === null || (firstMessage.kind === 'response' && m.kind === 'request')) {
        firstMessage = { dir: d, kind: m.kind };
      }
      pairer ??= protocol.createPairer();
      collect(pairer.push(m));
    }
  };
  /** Messages ended by expire/close, both directions merged in time order (the pairer wants that). */
  const ended = (e: Http1Message[], i: Http1Message[]): Http1Message[] => {
    for (const m of e) dirOf.set(m, 'egress');
    for (const m of i) dirOf.set(m, 'ingress');
    return e.length === 0 ? i : i.length === 0 ? e : [...e, ...i].sort(byStart);
  };

  for (const op of ops) {
    switch (op.op) {
      case 'data':
        feed(reader(op.dir).push(op.ts, op.segments, op.tid), op.dir);
        break;
      case 'expire':
        // A reader or pairer that holds nothing has nothing to expire.
        feed(
          ended(egress?.expire(op.now, op.timeout) ?? [], ingress?.expire(op.now, op.timeout) ?? []),
          null,
        );
        if (pairer !== null) collect(pairer.expire(op.now, op.timeout));
        break;
      default:
        feed(ended(egress?.close(op.at) ?? [], ingress?.close(op.at) ?? []), null);
        if (pairer !== null) collect(pairer.close(op.at));
    }
  }

  let invalidHeads = 0;
  let headsLost = 0;
  let orphanBodyBytes = 0;
  for (const r of [egress, ingress]) {
    if (r === null) continue;
    for (const n of Object.values(r.counters.invalidHeads)) invalidHeads += n ?? 0;
    headsLost += r.counters.headsLost;
    orphanBodyBytes += r.counters.orphanBodyBytes;
  }
  if (egress !== null) h.egress = egress.idle ? null : egress.toState();
  if (ingress !== null) h.ingress = ingress.idle ? null : ingress.toState();
  let pending = h.pairer === null ? 0 : h.pairer.waiting.length + h.pairer.held.length;
  if (pairer !== null) {
    if (pairer.tunnel) side.tunnel = true;
    h.pairer = pairer.idle ? null : pairer.toState();
    pending = pairer.pendingRequests + pairer.heldResponses;
  }
  return {
    exchanges,
    newRequests,
    firstMessage,
    tunnel: side.tunnel,
    invalidHeads,
    headsLost,
    orphanBodyBytes,
    pending,
  };
}
