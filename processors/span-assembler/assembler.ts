/**
 * The span assembler's handlers: raw L7 events of one partition in, spans out to the trace linker.
 *
 * Per connection key (state `c:<key>`), per capture side (node, pid, connection id, generation): the
 * side's segments go through protocols/http1 (side-reader.ts), or, on an HTTP/2 connection, its stream
 * events through protocols/http2 (h2-side.ts); every exchange becomes one span for that side
 * (span-builder.ts, http2-span-builder.ts), and the two ends of the connection meet here:
 * - a SERVER span without a traceparent takes as parent the CLIENT request at the other end of the
 *   same TCP connection (same method and path, the oldest not yet claimed, plausible in time; over
 *   HTTP/2 the request of the same stream id): that
 *   request's span id is deterministic, so it is known as soon as the client's request was seen, long
 *   before the client's span ends;
 * - either end takes the other end's identity as its peer (service, pod, namespace).
 * A finished span whose other end has not been seen yet waits up to `pairWaitMs` (the other node's
 * collector may be behind), then goes out with what is known. Nothing is dropped: every exchange,
 * orphan response and failed connect becomes exactly one span, incomplete ones marked with a reason.
 */
import {
  type Http1Exchange,
  type Http1Message,
  headerValue,
  type Segment,
} from '../../protocols/http1/index.ts';
import { codecFor } from '../../schemas/codec.ts';
import type { L7RawEvent, Span, SpanKind, TraceLinkingEvent } from '../../schemas/types.ts';
import type { InputRecord, ProcessorContext } from '../runtime/definition.ts';
import { compileRouteTemplater, type RouteTemplater } from '../shared/route-template.ts';
import { deterministicSpanId } from '../shared/span-ids.ts';
import { parseTraceparent } from '../shared/trace-context.ts';
import type { AssemblerConfig } from './config.ts';
import { errnoName } from './errno.ts';
import {
  type H2EventsOp,
  type H2OverflowOp,
  h2HasOpen,
  h2HeldSpan,
  h2RequestSpanId,
  runH2Side,
} from './h2-side.ts';
import { runSide, type SideOp, type SideRun, sideHasOpen, upgradeSide } from './side-reader.ts';
import { buildConnectFailedSpan, buildExchangeSpan, type PeerIdentity } from './span-builder.ts';
import type { assemblerStores, ConnState, Dir, HeldSpan, SideState } from './state.ts';

export type AssemblerContext = ProcessorContext<AssemblerConfig, typeof assemblerStores>;

const MS = 1_000_000n;
const NO_HINTS: ReadonlyArray<number | null> = [];
/** Link confidence of a TCP_CONNECTION parent: same connection, same method and path, in order. */
export const TCP_LINK_CONFIDENCE = 0.95;
/**
 * How much earlier than the CLIENT request a SERVER request on the same node may seem to start. Syscalls
 * are stamped when they return, and the reader the write woke can return first: on the other core at
 * once, or on the writer's own core when the wake-up preempts the writer, which then returns only after
 * the reader's time slice (milliseconds under load). Requests on an HTTP/1.x connection are sequential
 * and the oldest match wins, so the slack only matters when the true match was lost.
 */
const SAME_NODE_RETURN_SLACK = 20n * MS;
/** ... when older requests of the client were skipped over (events lost on one side). */
export const TCP_LINK_CONFIDENCE_AFTER_LOSS = 0.75;

let spanCodec: ReturnType<typeof codecFor<Span>> | undefined;
function encodeSpan(span: Span): Buffer {
  spanCodec ??= codecFor<Span>('span');
  return spanCodec.encode(span);
}

const templaters = new WeakMap<object, RouteTemplater>();
function templaterFor(config: AssemblerConfig): RouteTemplater {
  let t = templaters.get(config);
  if (t === undefined) {
    t = compileRouteTemplater({ rules: config.routeRules, maxSegments: config.routeMaxSegments });
    templaters.set(config, t);
  }
  return t;
}

export function sideIdOf(ev: L7RawEvent): string {
  return `${ev.node}/${ev.process.pid}/${ev.connection.id}/${ev.connection.generation}`;
}

function newSide(ev: L7RawEvent, nowMs: number): SideState {
  return {
    id: sideIdOf(ev),
    epochNs: ev.timeUnixNano,
    node: ev.node,
    pid: ev.process.pid,
    comm: ev.process.comm,
    exe: ev.process.exe,
    containerId: ev.process.containerId,
    service: ev.workload.service,
    namespace: ev.workload.namespace,
    pod: ev.workload.pod,
    workload: ev.workload.workload,
    podUid: ev.workload.podUid,
    container: ev.workload.container,
    workloadKind: ev.workload.workloadKind,
    peerWorkload: ev.peer,
    role: ev.connection.role,
    roleInferred: ev.connection.roleInferred,
    localAddress: ev.connection.localAddress,
    localPort: ev.connection.localPort,
    peerAddress: ev.connection.peerAddress,
    peerPort: ev.connection.peerPort,
    http: { egress: null, ingress: null, pairer: null },
    requests: 0,
    paired: 0,
    orphans: 0,
    recent: [],
    tunnel: false,
    closed: false,
    lastNs: ev.timeUnixNano,
    lastSeenMs: nowMs,
  };
}

/** Finds or creates the event's side; a role seen at connect/accept overrides an inferred one. */
function sideFor(conn: ConnState, ev: L7RawEvent, nowMs: number): SideState {
  const id = sideIdOf(ev);
  let side = conn.sides.find((s) => s.id === id);
  if (side === undefined) {
    side = newSide(ev, nowMs);
    conn.sides.push(side);
  } else if (ev.connection.role !== 'UNKNOWN' && (side.role === 'UNKNOWN' || !ev.connection.roleInferred)) {
    side.role = ev.connection.role;
    side.roleInferred = ev.connection.roleInferred;
  }
  if (ev.timeUnixNano > side.lastNs) side.lastNs = ev.timeUnixNano;
  side.lastSeenMs = nowMs;
  return side;
}

/** Two sides are the two ends of one connection, as far as roles tell. */
function opposite(a: SideState, b: SideState): boolean {
  return a.id !== b.id && (a.role === 'UNKNOWN' || b.role === 'UNKNOWN' || a.role !== b.role);
}

/** The other end's identity, when it is captured: the side that answered/asked on this connection. */
function peerOf(conn: ConnState, side: SideState): SideState | null {
  let best: SideState | null = null;
  for (const s of conn.sides) {
    if (!opposite(side, s)) continue;
    // Prefer a live side over one that closed (a reused tuple), then the most recent.
    if (best === null || (best.closed && !s.closed) || (best.closed === s.closed && s.lastNs > best.lastNs))
      best = s;
  }
  return best;
}

function identityOf(s: SideState | null): PeerIdentity | null {
  return s === null
    ? null
    : {
        service: s.service,
        pod: s.pod,
        namespace: s.namespace,
        workload: s.workload,
        workloadKind: s.workloadKind ?? null,
      };
}

function kindOf(side: SideState, dir: Dir, message: 'request' | 'response'): SpanKind {
  if (side.role === 'CLIENT' || side.role === 'SERVER') return side.role;
  // A request that left the process, or a response that came in: the process asked.
  return (dir === 'egress') === (message === 'request') ? 'CLIENT' : 'SERVER';
}

/** Infers an unknown role from the first message the side produced (the collector could not tell). */
function inferRole(side: SideState, run: SideRun): void {
  if (side.role !== 'UNKNOWN' || run.firstMessage === null) return;
  side.role = kindOf(side, run.firstMessage.dir, run.firstMessage.kind);
  side.roleInferred = true;
}

/**
 * The span id of the exchange a request opens: taken from the request's traceparent on the CLIENT side
 * (the header's parent-id names exactly this call, W3C Trace Context §3.2.2.4), else a hash of where it
 * was seen, so both this side and the other end can compute it at any time.
 */
function requestSpanId(
  key: string,
  side: SideState,
  kind: SpanKind,
  request: Http1Message,
  ordinal: number,
): string {
  if (kind === 'CLIENT') {
    const tp = parseTraceparent(headerValue(request.head, 'traceparent'));
    if (tp !== null) return tp.parentId;
  }
  return deterministicSpanId([key, side.id, side.epochNs, kind, 'request', ordinal]);
}

function pathOf(request: Http1Message): string {
  return request.head.path ?? request.head.target ?? '';
}

interface ParentMatch {
  spanId: string;
  node: string;
  side: SideState;
  confidence: number;
}

/**
 * The CLIENT request at the other end of the connection that a SERVER request is the arrival of: on
 * an opposite side, the oldest remembered request with the same method and path that started no later
 * than the server saw it (give or take the clock skew between two nodes, or the order in which two
 * syscalls on one node return) and not longer ago than an exchange can last. HTTP/1.1 keeps requests in order on a connection, so the oldest match is the one;
 * older requests that do not match mean events were lost (their server half will never come): they
 * are dropped with the match, and lower its confidence.
 */
function claimParent(
  conn: ConnState,
  server: SideState,
  req: { method: string; path: string; startNs: bigint; streamId?: number | null },
  cfg: AssemblerConfig,
): ParentMatch | null {
  if (req.streamId != null) return claimStream(conn, server, req, req.streamId);
  let best: { index: number; side: SideState } | null = null;
  for (const side of conn.sides) {
    if (side.role !== 'CLIENT' || !opposite(server, side)) continue;
    const tolerance = side.node === server.node ? SAME_NODE_RETURN_SLACK : BigInt(cfg.clockSkewMs) * MS;
    const maxGap = BigInt(cfg.exchangeTimeoutMs) * MS + tolerance;
    for (let i = 0; i < side.recent.length; i++) {
      const rec = side.recent[i]!;
      if (rec.startNs > req.startNs + tolerance) break;
      if (rec.method === req.method && rec.path === req.path && req.startNs - rec.startNs <= maxGap) {
        if (best === null || rec.startNs > best.side.recent[best.index]!.startNs) best = { index: i, side };
        break;
      }
    }
  }
  if (best === null) return null;
  const rec = best.side.recent[best.index]!;
  best.side.recent.splice(0, best.index + 1);
  return {
    spanId: rec.spanId,
    node: best.side.node,
    side: best.side,
    confidence: best.index === 0 ? TCP_LINK_CONFIDENCE : TCP_LINK_CONFIDENCE_AFTER_LOSS,
  };
}

/**
 * HTTP/2: the CLIENT request on the same stream at the other end. Stream ids are never reused on a
 * connection (RFC 9113 §5.1.1), so the match is exact and takes that request alone: other streams stay
 * open concurrently and are claimed by their own server spans, in whatever order those end. No time
 * condition: the stream id says it all, and the times of the two ends' syscalls need not be in order
 * (a write is stamped when it returns, and the reader on another core may have returned first).
 */
function claimStream(
  conn: ConnState,
  server: SideState,
  req: { method: string; path: string },
  streamId: number,
): ParentMatch | null {
  for (const side of conn.sides) {
    if (side.role !== 'CLIENT' || !opposite(server, side)) continue;
    const i = side.recent.findIndex(
      (rec) => rec.streamId === streamId && rec.method === req.method && rec.path === req.path,
    );
    if (i === -1) continue;
    const rec = side.recent[i]!;
    side.recent.splice(i, 1);
    return { spanId: rec.spanId, node: side.node, side, confidence: TCP_LINK_CONFIDENCE };
  }
  return null;
}

function emitSpan(
  ctx: AssemblerContext,
  span: Span,
  parentNode: string | null,
  causalCandidates: number | null = null,
): void {
  const value: TraceLinkingEvent = {
    kind: 'SPAN',
    node: span.local.node,
    span: encodeSpan(span),
    parentNode,
    spanId: null,
    traceId: null,
    replyTo: null,
    causalCandidates,
  };
  ctx.emit('linking', span.local.node, value);
  ctx.count('spans');
  // One observed request: its SERVER span, or a CLIENT span whose other end is not captured (a call out
  // of the mesh). What `meshpipe up` divides the pipeline's CPU by; a CLIENT span that left before its
  // server side was seen (pairWaitMs) counts as well, so this slightly overcounts under lag.
  if (span.kind === 'SERVER' || span.peer.service === null) ctx.count('requests_observed');
  ctx.count(span.kind === 'SERVER' ? 'spans_server' : 'spans_client');
}

/**
 * Emits the span if what it waits for is there (or will never be), else holds it. Returns true when
 * it was emitted.
 */
function tryPlace(conn: ConnState, h: HeldSpan, ctx: AssemblerContext, force: boolean): boolean {
  const side = conn.sides.find((s) => s.id === h.sideId);
  if (!h.claimed && side !== undefined && h.request !== null) {
    const m = claimParent(conn, side, h.request, ctx.config);
    if (m !== null) {
      h.claimed = true;
      fillPeer(h.span, m.side);
      if (h.needsParent) {
        h.span.parentSpanId = m.spanId;
        h.span.link = { method: 'TCP_CONNECTION', confidence: m.confidence };
        h.needsParent = false;
        h.parentNode = m.node;
        ctx.count('tcp_links');
      } else if (h.span.parentSpanId !== m.spanId) {
        // The traceparent names another span than the client we captured: an instrumented client
        // library between the two (or a proxy). The header wins; the mismatch is worth knowing.
        ctx.count('traceparent_differs_from_tcp_peer');
      }
    }
  }
  const peer = side === undefined ? null : peerOf(conn, side);
  // The captured other end wins over what the collector knew of the peer address (a ClusterIP, say).
  if (peer !== null) fillPeer(h.span, peer);
  const waitParent = h.needsParent && conn.peer !== 'absent';
  const waitPeer = peer === null && conn.peer === 'unknown';
  if (!force && (waitParent || waitPeer)) return false;
  if (force) {
    if (h.needsParent) ctx.count(peer === null ? 'tcp_parent_peer_not_captured' : 'tcp_parent_not_found');
    if (peer === null && conn.peer === 'unknown') conn.peer = 'absent';
  }
  emitSpan(ctx, h.span, h.parentNode, h.causalCandidates);
  return true;
}

function fillPeer(span: Span, peer: SideState): void {
  const id = identityOf(peer);
  span.peer = {
    ...span.peer,
    service: id?.service ?? null,
    pod: id?.pod ?? null,
    namespace: id?.namespace ?? null,
    workload: id?.workload ?? null,
    workloadKind: id?.workloadKind ?? null,
  };
}

function place(conn: ConnState, h: HeldSpan, ctx: AssemblerContext): void {
  if (!tryPlace(conn, h, ctx, false)) {
    conn.held.push(h);
    ctx.count('spans_held');
    if (conn.held.length > ctx.config.maxHeldSpans) {
      // A connection carrying thousands of calls a second (HTTP/2) must not grow its state past what
      // the changelog takes: the oldest goes out now, with what is known.
      ctx.count('held_overflow');
      tryPlace(conn, conn.held.shift()!, ctx, true);
    }
  }
}

/**
 * Turns the exchanges of one run into spans. `hints` are the collector's causality hints of the calls
 * the run's event ended (L7RawEvent.causalCandidates): one per exchange ended by a response, in order,
 * for the CLIENT spans the trace linker decides causality for.
 */
function exchangesToSpans(
  conn: ConnState,
  side: SideState,
  run: SideRun,
  ctx: AssemblerContext,
  hints: ReadonlyArray<number | null> = NO_HINTS,
): void {
  const cfg = ctx.config;
  const templater = templaterFor(cfg);
  let hint = 0;
  for (const { exchange: x, dir, tid, ordinal } of run.exchanges) {
    ctx.count('exchanges');
    const first = (x.request ?? x.response)!;
    const kind = kindOf(side, dir, first.kind);
    let spanId: string;
    if (x.request !== undefined) {
      spanId = requestSpanId(conn.key, side, kind, x.request, ordinal);
    } else {
      spanId = deterministicSpanId([conn.key, side.id, side.epochNs, kind, 'orphan', ordinal]);
      ctx.count('orphan_responses');
    }
    const span = buildExchangeSpan(x, side, { spanId, kind, tid }, conn.key, templater, null);
    if (span.incompleteReason !== null) ctx.count(`incomplete.${span.incompleteReason}`);
    const candidates = x.response === undefined ? null : (hints[hint++] ?? null);
    const h: HeldSpan = {
      span,
      sideId: side.id,
      needsParent: false,
      request: null,
      claimed: false,
      parentNode: null,
      heldAtMs: ctx.now(),
      causalCandidates: kind === 'CLIENT' ? candidates : null,
    };
    applyTraceContext(h, x);
    place(conn, h, ctx);
  }
}

/**
 * W3C traceparent (https://www.w3.org/TR/trace-context/#traceparent-header): for a SERVER span the
 * header's parent-id is its parent; for a CLIENT span it is the span itself (requestSpanId). Without a
 * header, a SERVER span looks for its parent at the other end of the connection.
 */
function applyTraceContext(h: HeldSpan, x: Http1Exchange): void {
  const request = x.request;
  if (request === undefined) return;
  const tp = parseTraceparent(headerValue(request.head, 'traceparent'));
  if (tp !== null) {
    h.span.traceId = tp.traceId;
    h.span.traceState = headerValue(request.head, 'tracestate') ?? null;
    if (h.span.kind === 'SERVER') {
      h.span.parentSpanId = tp.parentId;
      h.span.link = { method: 'TRACEPARENT', confidence: 1 };
    }
  } else if (h.span.kind === 'SERVER') {
    h.needsParent = true;
  }
  if (h.span.kind === 'SERVER') {
    // Claimed even when the header names the parent, so it is not offered to a later server request.
    h.request = { method: request.head.method ?? '', path: pathOf(request), startNs: request.startNs };
  }
}

/** Runs ops on an HTTP/2 side: its exchanges become spans, its CLIENT requests are remembered. */
function advanceH2(
  conn: ConnState,
  side: SideState,
  ops: Array<H2EventsOp | H2OverflowOp | SideOp>,
  ctx: AssemblerContext,
): void {
  const run = runH2Side(side, ops);
  if (run.gaps > 0) ctx.count('h2_gaps', run.gaps);
  if (run.unattributed > 0) ctx.count('h2_unattributed_blocks', run.unattributed);
  if (run.late > 0) ctx.count('h2_late_events', run.late);
  if (side.role === 'CLIENT') {
    for (const r of run.requests) {
      side.recent.push({
        ordinal: r.streamId,
        spanId: h2RequestSpanId(conn.key, side, 'CLIENT', r.streamId, r.traceparent),
        method: r.method,
        path: r.path,
        startNs: r.startNs,
        streamId: r.streamId,
      });
    }
    pruneRecent(side, ctx.config);
  }
  const templater = templaterFor(ctx.config);
  for (const x of run.exchanges) {
    ctx.count('exchanges');
    ctx.count('h2_exchanges');
    if (x.request === null) ctx.count('orphan_responses');
    const h = h2HeldSpan(conn.key, side, x, templater, ctx.now());
    if (h.span.incompleteReason !== null) ctx.count(`incomplete.${h.span.incompleteReason}`);
    place(conn, h, ctx);
  }
  const excess = (side.h2?.streams.length ?? 0) - ctx.config.maxLogEntries;
  if (excess > 0) {
    // More open streams than a side may hold (about 1 KB of state each): the oldest beyond the bound
    // end now, the others go on (a gRPC client may have hundreds in flight on one connection).
    ctx.count('side_log_overflow');
    ctx.count('h2_streams_overflowed', excess);
    advanceH2(conn, side, [{ op: 'h2-overflow', count: excess }], ctx);
  }
}

/** Runs ops on a side and turns everything they produced into spans and remembered requests. */
function advance(
  conn: ConnState,
  side: SideState,
  ops: SideOp[],
  ctx: AssemblerContext,
  hints: ReadonlyArray<number | null> = NO_HINTS,
): void {
  // Timeouts and the close end HTTP/2 streams too (its data ops are `h2` ops: processRawEvent).
  if (side.h2 != null) advanceH2(conn, side, ops, ctx);
  const run = runSide(side, ops);
  inferRole(side, run);
  if (run.invalidHeads > 0) ctx.count('parse_errors', run.invalidHeads);
  if (run.headsLost > 0) ctx.count('heads_lost', run.headsLost);
  if (run.orphanBodyBytes > 0) ctx.count('orphan_body_bytes', run.orphanBodyBytes);
  for (const { message, dir, ordinal } of run.newRequests) {
    const kind = kindOf(side, dir, 'request');
    // Only CLIENT requests are ever looked up (by the SERVER side at the other end).
    if (kind !== 'CLIENT') continue;
    side.recent.push({
      ordinal,
      spanId: requestSpanId(conn.key, side, kind, message, ordinal),
      method: message.head.method ?? '',
      path: pathOf(message),
      startNs: message.startNs,
    });
  }
  pruneRecent(side, ctx.config);
  exchangesToSpans(conn, side, run, ctx, hints);
  if (run.pending > ctx.config.maxLogEntries) {
    // A deep pipeline, or responses piling up unanswered: end what is open rather than grow without bound.
    ctx.count('side_log_overflow');
    const flush = runSide(side, [{ op: 'expire', now: side.lastNs, timeout: 0n }]);
    exchangesToSpans(conn, side, flush, ctx);
  }
}

/** Remembered requests too old to be matched, or beyond the count bound, go. */
function pruneRecent(side: SideState, cfg: AssemblerConfig): void {
  const horizon = side.lastNs - (BigInt(cfg.exchangeTimeoutMs) + BigInt(cfg.clockSkewMs)) * MS;
  let drop = 0;
  while (drop < side.recent.length && side.recent[drop]!.startNs < horizon) drop++;
  drop = Math.max(drop, side.recent.length - (side.h2 == null ? cfg.recentRequests : cfg.recentStreams));
  if (drop > 0) side.recent.splice(0, drop);
}

function retryHeld(conn: ConnState, ctx: AssemblerContext, force: (h: HeldSpan) => boolean): void {
  if (conn.held.length === 0) return;
  const still: HeldSpan[] = [];
  for (const h of conn.held) if (!tryPlace(conn, h, ctx, force(h))) still.push(h);
  conn.held = still;
}

function updatePeerStatus(conn: ConnState): void {
  if (conn.peer === 'captured') return;
  for (const a of conn.sides) for (const b of conn.sides) if (opposite(a, b)) conn.peer = 'captured';
}

function toSegments(ev: L7RawEvent): Segment[] {
  return ev.segments.map((seg) => ({
    kind: seg.kind === 'HEAD' ? 'head' : seg.kind === 'BODY' ? 'body' : 'unknown',
    // Lengths beyond 2^53 cannot be real syscall counts; the reader treats a non-safe length as 0.
    length: seg.length <= BigInt(Number.MAX_SAFE_INTEGER) && seg.length >= 0n ? Number(seg.length) : -1,
    data: seg.data,
    endsMessage: seg.endsMessage,
  }));
}

export function processRawEvent(record: InputRecord<L7RawEvent>, ctx: AssemblerContext): void {
  const ev = record.value;
  const key = ev.connection.key;
  const conn: ConnState = ctx.stores.connections.get(key) ?? { key, sides: [], held: [], peer: 'unknown' };
  for (const s of conn.sides) upgradeSide(s);
  const side = sideFor(conn, ev, ctx.now());
  const timeoutNs = BigInt(ctx.config.exchangeTimeoutMs) * MS;
  ctx.count(`events.${ev.kind.toLowerCase()}`);

  switch (ev.kind) {
    case 'OPEN':
      break;
    case 'DATA': {
      if (side.closed) {
        // Data after close on the same side id: a reordered or duplicated record. Counted, not fed.
        ctx.count('events_after_close');
        break;
      }
      if (side.tunnel) {
        // After 101 or a 2xx to CONNECT the bytes are another protocol, and the collector ships them as
        // `unknown`. They are still fed: the collector decides framing, and when it did not see the
        // switch (a cut 101 head) it may ship real heads that must not vanish here.
        ctx.count('tunnel_bytes', Number(ev.byteCount));
      }
      const dir: Dir = ev.direction === 'INGRESS' ? 'ingress' : 'egress';
      if (ev.direction === 'NONE') ctx.count('data_without_direction');
      if (ev.protocol === 'HTTP2') {
        advanceH2(
          conn,
          side,
          [
            { op: 'expire', now: ev.timeUnixNano, timeout: timeoutNs },
            { op: 'h2', ts: ev.timeUnixNano, dir, tid: ev.process.tid, events: ev.h2 },
          ],
          ctx,
        );
        break;
      }
      advance(
        conn,
        side,
        [
          { op: 'expire', now: ev.timeUnixNano, timeout: timeoutNs },
          { op: 'data', ts: ev.timeUnixNano, dir, tid: ev.process.tid, segments: toSegments(ev) },
        ],
        ctx,
        ev.causalCandidates,
      );
      break;
    }
    case 'CLOSE':
      if (!side.closed) {
        // Frames the close cut short (HTTP/2: gaps) come first.
        if (ev.h2.length > 0) {
          const dir: Dir = 'egress';
          advanceH2(
            conn,
            side,
            [{ op: 'h2', ts: ev.timeUnixNano, dir, tid: ev.process.tid, events: ev.h2 }],
            ctx,
          );
        }
        advance(conn, side, [{ op: 'close', at: ev.timeUnixNano }], ctx);
        side.closed = true;
      }
      break;
    case 'CONNECT_FAILED': {
      const errorType = errnoName(ev.errno);
      ctx.count('connect_failed');
      const spanId = deterministicSpanId([key, side.id, 'CLIENT', 'connect-failed', ev.timeUnixNano]);
      const span = buildConnectFailedSpan(
        side,
        spanId,
        ev.process.tid,
        ev.timeUnixNano,
        errorType,
        ev.errno,
        key,
      );
      side.role = 'CLIENT';
      side.closed = true;
      // Nobody answered, so there is no other end to wait for.
      emitSpan(ctx, span, null);
      break;
    }
  }
  updatePeerStatus(conn);
  retryHeld(conn, ctx, () => false);
  ctx.stores.connections.set(key, conn);
}

/** How long a closed side stays, so that the other end (maybe behind) can still pair with it. */
function closedRetentionMs(cfg: AssemblerConfig): number {
  return 2 * cfg.pairWaitMs + cfg.clockSkewMs + 1_000;
}

export function punctuateAssembler(ctx: AssemblerContext): void {
  const cfg = ctx.config;
  const now = ctx.now();
  const timeoutNs = BigInt(cfg.exchangeTimeoutMs) * MS;
  const connections = ctx.stores.connections;
  for (const key of [...connections.keys()]) {
    const conn = connections.get(key);
    if (conn === undefined) continue;
    let changed = false;
    for (const side of conn.sides) if (upgradeSide(side)) changed = true;
    const forget = new Set<string>();
    for (const side of conn.sides) {
      if (side.closed) continue;
      const idleMs = now - side.lastSeenMs;
      if (idleMs >= cfg.idleSideMs) {
        // Idle this long: a CLOSE was lost, or a keep-alive connection rests. End what is open and
        // forget the side; should it speak again, it starts afresh (a new epoch, so new span ids).
        if (sideHasOpen(side) || h2HasOpen(side)) {
          advance(conn, side, [{ op: 'expire', now: side.lastNs + BigInt(idleMs) * MS, timeout: 0n }], ctx);
        }
        forget.add(side.id);
        ctx.count('sides_idle_forgotten');
        changed = true;
      } else if ((sideHasOpen(side) || h2HasOpen(side)) && idleMs >= cfg.exchangeTimeoutMs) {
        // The node's clock moved on by as much as ours since its last event on this side.
        advance(
          conn,
          side,
          [{ op: 'expire', now: side.lastNs + BigInt(idleMs) * MS, timeout: timeoutNs }],
          ctx,
        );
        changed = true;
      }
    }
    if (conn.held.length > 0) {
      // Held spans may change even when they stay (a peer's identity filled in, a request claimed).
      retryHeld(conn, ctx, (h) => now - h.heldAtMs >= cfg.pairWaitMs);
      changed = true;
    }
    const keep = conn.sides.filter(
      (s) => !forget.has(s.id) && (!s.closed || now - s.lastSeenMs < closedRetentionMs(cfg)),
    );
    if (keep.length !== conn.sides.length) {
      conn.sides = keep;
      changed = true;
    }
    if (conn.sides.length === 0 && conn.held.length === 0) connections.delete(key);
    else if (changed) connections.set(key, conn);
  }
}
