/**
 * The trace linker's handlers. Input: the linking topic, keyed by node (docs/tracing.md):
 * - SPAN: a span from span-assembler. Its parent is known already (TRACEPARENT, or TCP_CONNECTION:
 *   the CLIENT span at the other end of its connection), or it is a SERVER root, or it is a CLIENT span
 *   whose parent is the SERVER span of its own process that caused it (PROCESS_CAUSALITY, chosen here
 *   after `causalityWaitMs`, causality.ts);
 * - RESOLVE_REQUEST / RESOLVED: trace ids asked for and given between the partitions of two nodes,
 *   when a parent was captured on another node than its child.
 * A span is emitted to meshpipe.spans.v1 (keyed by trace id) once its trace id is known: its own
 * (traceparent, or a root's), or its parent's. A span whose parent's trace id does not come within
 * `resolveTimeoutMs` becomes a root with link confidence 0. Nothing is dropped.
 */

import type { InputRecord, ProcessorContext } from '../../../processors/runtime/definition.ts';
import { jsonStore } from '../../../processors/runtime/store-types.ts';
import { deterministicSpanId, traceIdForRoot } from '../../../processors/shared/span-ids.ts';
import type { LinkerConfig } from '../../../processors/trace-linker/config.ts';
import { codecFor } from '../../../schemas/codec.ts';
import type { Span, TraceLinkingEvent } from '../../../schemas/types.ts';
import { chooseCausalParent } from './causality.ts';
import {
  type BucketEntry,
  bucketKey,
  bucketWidthNs,
  type LinkerState,
  MAX_BUCKET_SERVERS,
  MAX_CHILD_CONNECTIONS,
  MAX_WAITING_CHILDREN,
  META_KEY,
  type MetaEntry,
  type RemoteEntry,
  remoteKey,
  type ServerSummary,
  type SpanEntry,
  slotOf,
  spanKey,
  TIER_MAX_NS,
  tierMaxNs,
  tierOf,
  WHEEL_PART_KEYS,
  type WheelEntry,
  wheelKey,
  wheelPartKey,
} from './state.ts';

/** The reference keeps its one key space: one store. */
export const referenceStores = { state: jsonStore<LinkerState>() };
export type LinkerContext = ProcessorContext<LinkerConfig, typeof referenceStores>;

const MS = 1_000_000n;

let spanCodec: ReturnType<typeof codecFor<Span>> | undefined;
function decodeSpan(bytes: Buffer): Span {
  spanCodec ??= codecFor<Span>('span');
  return spanCodec.decode(bytes);
}

function summaryOf(bucket: BucketEntry, i: number): ServerSummary {
  const [spanId, startOffsetNs, durationNs, tid, headerTrace, childConns] = bucket.servers[i]!;
  const startNs = bucket.baseNs + BigInt(startOffsetNs);
  return { spanId, startNs, endNs: startNs + BigInt(durationNs), tid, headerTrace, childConns };
}

/** One call's view of the partition state, with the bookkeeping that must be written back once. */
class Linker {
  readonly ctx: LinkerContext;
  readonly cfg: LinkerConfig;
  readonly now: number;
  #pendingDelta = 0;

  constructor(ctx: LinkerContext) {
    this.ctx = ctx;
    this.cfg = ctx.config;
    this.now = ctx.now();
  }

  span(spanId: string): SpanEntry | undefined {
    const e = this.ctx.stores.state.get(spanKey(spanId));
    return e?.t === 'span' ? e : undefined;
  }

  /** Stores a span entry, scheduling its deadline when it is new or moved. */
  put(e: SpanEntry): void {
    if (e.scheduledMs !== e.deadlineMs) {
      this.schedule(spanKey(e.spanId), e.deadlineMs);
      e.scheduledMs = e.deadlineMs;
    }
    this.ctx.stores.state.set(spanKey(e.spanId), e);
  }

  #meta: MetaEntry | undefined;
  #metaDirty = false;

  meta(): MetaEntry {
    if (this.#meta === undefined) {
      const m = this.ctx.stores.state.get(META_KEY);
      this.#meta = m?.t === 'meta' ? m : { t: 'meta', pending: 0, wheelFrom: null };
    }
    return this.#meta;
  }

  /** Writes the meta entry back, once per call. */
  flush(): void {
    if (this.#pendingDelta !== 0) {
      const m = this.meta();
      m.pending = Math.max(0, m.pending + this.#pendingDelta);
      this.#pendingDelta = 0;
      this.#metaDirty = true;
    }
    if (this.#metaDirty) {
      this.ctx.stores.state.set(META_KEY, this.meta());
      this.#metaDirty = false;
    }
  }

  /** Notes that `key` may be due at `atMs`: punctuate looks at it then, and not before. */
  schedule(key: string, atMs: number): void {
    const m = this.meta();
    let slot = slotOf(atMs);
    if (m.wheelFrom === null) {
      m.wheelFrom = Math.min(slot, slotOf(this.now));
      this.#metaDirty = true;
    }
    if (slot < m.wheelFrom) slot = m.wheelFrom;
    const got = this.ctx.stores.state.get(wheelKey(slot));
    const head: WheelEntry = got?.t === 'wheel' ? got : { t: 'wheel', keys: [] };
    const parts = head.parts ?? 0;
    if (parts === 0 && head.keys.length < WHEEL_PART_KEYS) {
      head.keys.push(key);
      this.ctx.stores.state.set(wheelKey(slot), head);
      return;
    }
    // The slot continues in its last part, or in a new one when that is full.
    const lastGot = parts === 0 ? undefined : this.ctx.stores.state.get(wheelPartKey(slot, parts));
    let last: WheelEntry | undefined = lastGot?.t === 'wheel' ? lastGot : undefined;
    let part = parts;
    if (last === undefined || last.keys.length >= WHEEL_PART_KEYS) {
      part = parts + 1;
      head.parts = part;
      this.ctx.stores.state.set(wheelKey(slot), head);
      last = { t: 'wheel', keys: [] };
    }
    last.keys.push(key);
    this.ctx.stores.state.set(wheelPartKey(slot, part), last);
  }

  /** Every key listed in a wheel slot, its parts deleted. */
  #takeSlot(slot: number): string[] {
    const head = this.ctx.stores.state.get(wheelKey(slot));
    if (head?.t !== 'wheel') return [];
    this.ctx.stores.state.delete(wheelKey(slot));
    const keys = [...head.keys];
    for (let part = 1; part <= (head.parts ?? 0); part++) {
      const p = this.ctx.stores.state.get(wheelPartKey(slot, part));
      this.ctx.stores.state.delete(wheelPartKey(slot, part));
      if (p?.t === 'wheel') keys.push(...p.keys);
    }
    return keys;
  }

  stub(spanId: string, node: string): SpanEntry {
    return {
      t: 'span',
      spanId,
      status: 'expected',
      span: null,
      traceId: null,
      headerTrace: null,
      kind: null,
      node,
      pid: 0,
      fingerprint: null,
      children: [],
      askedBy: [],
      arrivedMs: this.now,
      deadlineMs: this.now + this.cfg.resolveTimeoutMs + this.cfg.retainMs,
    };
  }

  // --- SPAN --------------------------------------------------------------------------------------

  onSpan(ev: TraceLinkingEvent): void {
    if (ev.span === null) {
      this.ctx.count('span_records_without_span');
      return;
    }
    const span = decodeSpan(ev.span);
    const fingerprint = `${span.kind}|${span.local.node}|${span.local.pid}|${span.startTimeUnixNano}`;
    let existing = this.span(span.spanId);
    if (existing !== undefined && existing.status !== 'expected') {
      if (existing.fingerprint === fingerprint) {
        // The same span twice (a replayed input): the first one stands.
        this.ctx.count('duplicate_spans');
        return;
      }
      // Another span with the id: a client that retried with the same traceparent, whose parent-id
      // names both calls. It keeps the header's id as an attribute and gets one derived from it.
      span.attributes['meshpipe.span_id.original'] = span.spanId;
      span.spanId = deterministicSpanId([span.spanId, fingerprint]);
      this.ctx.count('span_ids_reused');
      existing = this.span(span.spanId);
    }
    this.ctx.count('spans_in');
    const e: SpanEntry = {
      t: 'span',
      spanId: span.spanId,
      status: 'causality',
      span,
      traceId: null,
      headerTrace: span.traceId === '' ? null : span.traceId,
      kind: span.kind,
      node: span.local.node,
      pid: span.local.pid,
      fingerprint,
      children: existing?.children ?? [],
      askedBy: existing?.askedBy ?? [],
      arrivedMs: this.now,
      deadlineMs: this.now + this.cfg.causalityWaitMs,
    };
    this.#pendingDelta++;
    if (span.kind === 'SERVER') {
      this.#index(span, e.headerTrace);
      if (span.link.method === 'TRACEPARENT' && e.headerTrace !== null) {
        this.ctx.count('links.traceparent');
        this.resolve(e, e.headerTrace);
      } else if (span.parentSpanId !== null) {
        this.ctx.count('links.tcp_connection');
        this.waitForParent(e, span.parentSpanId, ev.parentNode);
      } else {
        this.ctx.count('roots.server');
        this.resolve(e, traceIdForRoot(e.spanId));
      }
    } else {
      this.put(e);
    }
  }

  get #maxSpanNs(): bigint {
    return BigInt(this.cfg.maxServerSpanMs) * MS;
  }

  /** Where a SERVER span of `durationNs` starting at `startNs` is indexed. */
  #slotOf(node: string, pid: number, startNs: bigint, durationNs: bigint): { key: string; baseNs: bigint } {
    const tier = tierOf(durationNs);
    const width = bucketWidthNs(tier, this.#maxSpanNs);
    const index = startNs / width;
    return { key: bucketKey(node, pid, tier, index), baseNs: index * width };
  }

  /** Adds a SERVER span to its process's candidate index. */
  #index(span: Span, headerTrace: string | null): void {
    const d = span.endTimeUnixNano - span.startTimeUnixNano;
    const duration = d > 0n ? d : 0n;
    const { key, baseNs } = this.#slotOf(span.local.node, span.local.pid, span.startTimeUnixNano, duration);
    const got = this.ctx.stores.state.get(key);
    const bucket: BucketEntry =
      got?.t === 'bucket' ? got : { t: 'bucket', baseNs, servers: [], touchedMs: this.now };
    if (bucket.servers.length >= MAX_BUCKET_SERVERS) {
      // Still linked and emitted; only not a candidate cause (state.ts, MAX_BUCKET_SERVERS).
      this.ctx.count('causality_index_full');
      return;
    }
    if (got === undefined) this.schedule(key, this.now + this.#bucketLifeMs());
    bucket.servers.push([
      span.spanId,
      Number(span.startTimeUnixNano - baseNs),
      Number(duration),
      span.local.tid,
      headerTrace,
      [],
    ]);
    bucket.touchedMs = this.now;
    this.ctx.stores.state.set(key, bucket);
  }

  /** How long a remote parent is remembered (its answer, for late children). */
  #remoteLifeMs(): number {
    return this.cfg.resolveTimeoutMs + this.cfg.retainMs;
  }

  /** How long a bucket is kept after its last server span arrived. */
  #bucketLifeMs(): number {
    return this.cfg.retainMs + this.cfg.maxServerSpanMs;
  }

  /**
   * The SERVER spans of a process that contain a call (started before it, ended after it): its possible
   * causes, found in the buckets of every tier that can hold one. A process serving thousands of
   * requests a second has thousands of rows to test per call: the test runs on the rows' number
   * offsets from their bucket's base (exact: a bucket spans seconds), and only the rows that pass
   * become summaries (with their BigInt times).
   */
  #containing(node: string, pid: number, startNs: bigint, endNs: bigint): ServerSummary[] {
    const out: ServerSummary[] = [];
    for (let tier = 0; tier <= TIER_MAX_NS.length; tier++) {
      const width = bucketWidthNs(tier, this.#maxSpanNs);
      const first = startNs / width;
      const from = startNs - tierMaxNs(tier, this.#maxSpanNs);
      const last = from > 0n ? from / width : 0n;
      for (let b = first; b >= last; b--) {
        const got = this.ctx.stores.state.get(bucketKey(node, pid, tier, b));
        if (got?.t !== 'bucket') continue;
        const callStart = Number(startNs - got.baseNs);
        const callEnd = Number(endNs - got.baseNs);
        const rows = got.servers;
        for (let i = 0; i < rows.length; i++) {
          const row = rows[i]!;
          if (row[1] <= callStart && callEnd <= row[1] + row[2]) out.push(summaryOf(got, i));
        }
      }
    }
    return out;
  }

  #noteChildConnection(node: string, pid: number, parent: ServerSummary, connectionKey: string): void {
    const { key } = this.#slotOf(node, pid, parent.startNs, parent.endNs - parent.startNs);
    const got = this.ctx.stores.state.get(key);
    if (got?.t !== 'bucket') return;
    const row = got.servers.find((r) => r[0] === parent.spanId);
    if (row === undefined || row[5].includes(connectionKey) || row[5].length >= MAX_CHILD_CONNECTIONS) return;
    row[5].push(connectionKey);
    this.ctx.stores.state.set(key, got);
  }

  /** Chooses the cause of a CLIENT span among the SERVER spans of its process (causality.ts). */
  decideCausality(e: SpanEntry): void {
    const span = e.span!;
    const call = {
      startNs: span.startTimeUnixNano,
      endNs: span.endTimeUnixNano,
      tid: span.local.tid,
      connectionKey: span.connectionKey,
    };
    let candidates = this.#containing(e.node, e.pid, call.startNs, call.endNs).filter(
      (s) => s.spanId !== e.spanId,
    );
    // A call that carries a traceparent belongs to that trace: only a cause in the same trace fits.
    if (e.headerTrace !== null) candidates = candidates.filter((s) => s.headerTrace === e.headerTrace);
    const choice = chooseCausalParent(call, candidates);
    if (choice === null) {
      this.ctx.count('roots.client');
      span.link = { method: 'NONE', confidence: 0 };
      this.resolve(e, e.headerTrace ?? traceIdForRoot(e.spanId));
      return;
    }
    span.parentSpanId = choice.spanId;
    span.link = { method: 'PROCESS_CAUSALITY', confidence: choice.confidence };
    this.ctx.count('links.process_causality');
    if (choice.containing > 1) {
      span.attributes['meshpipe.link.candidates'] = String(choice.containing);
      this.ctx.count('links.process_causality_ambiguous');
    }
    const parent = candidates.find((s) => s.spanId === choice.spanId)!;
    this.#noteChildConnection(e.node, e.pid, parent, call.connectionKey);
    if (e.headerTrace !== null) this.resolve(e, e.headerTrace);
    else this.waitForParent(e, choice.spanId, null);
  }

  /** The span's trace id is its parent's: take it if known, else wait for it (asking its node). */
  waitForParent(e: SpanEntry, parentId: string, parentNode: string | null): void {
    e.status = 'parent';
    e.deadlineMs = this.now + this.cfg.resolveTimeoutMs;
    if (parentNode === null || parentNode === e.node) {
      const parent = this.span(parentId) ?? this.stub(parentId, e.node);
      if (parent.status === 'resolved' && parent.traceId !== null) {
        this.resolve(e, parent.traceId);
        return;
      }
      if (parent.children.length >= MAX_WAITING_CHILDREN) {
        this.giveUp(e, 'fanout');
        return;
      }
      parent.children.push(e.spanId);
      this.put(parent);
    } else {
      const got = this.ctx.stores.state.get(remoteKey(parentId));
      const remote: RemoteEntry =
        got?.t === 'remote'
          ? got
          : {
              t: 'remote',
              spanId: parentId,
              node: parentNode,
              traceId: null,
              children: [],
              askedMs: this.now,
            };
      if (remote.traceId !== null) {
        this.resolve(e, remote.traceId);
        return;
      }
      if (remote.children.length >= MAX_WAITING_CHILDREN) {
        this.giveUp(e, 'fanout');
        return;
      }
      if (got === undefined) {
        this.ctx.count('resolve_requests_sent');
        this.ctx.emit('linking', parentNode, {
          kind: 'RESOLVE_REQUEST',
          node: parentNode,
          span: null,
          parentNode: null,
          spanId: parentId,
          traceId: null,
          replyTo: e.node,
          causalCandidates: null,
        } satisfies TraceLinkingEvent);
      }
      remote.children.push(e.spanId);
      if (got === undefined) this.schedule(remoteKey(parentId), this.now + this.#remoteLifeMs());
      this.ctx.stores.state.set(remoteKey(parentId), remote);
    }
    this.put(e);
  }

  /**
   * Gives `first` its trace id, emits it, and hands the trace id down to every span waiting for it
   * (local children, and the nodes that asked), breadth-first: a whole chain resolves in one call.
   */
  resolve(first: SpanEntry, traceId: string): void {
    const queue: SpanEntry[] = [first];
    const traces = new Map<string, string>([[first.spanId, traceId]]);
    for (let e = queue.shift(); e !== undefined; e = queue.shift()) {
      if (e.status === 'resolved') continue;
      const t = traces.get(e.spanId)!;
      e.status = 'resolved';
      e.traceId = t;
      e.deadlineMs = this.now + this.cfg.retainMs;
      if (e.span !== null) {
        e.span.traceId = t;
        this.ctx.emit('spans', t, e.span);
        this.ctx.count('spans_out');
        e.span = null;
        this.#pendingDelta--;
      }
      for (const node of e.askedBy) {
        this.ctx.count('resolutions_sent');
        this.ctx.emit('linking', node, {
          kind: 'RESOLVED',
          node,
          span: null,
          parentNode: null,
          spanId: e.spanId,
          traceId: t,
          replyTo: null,
          causalCandidates: null,
        } satisfies TraceLinkingEvent);
      }
      e.askedBy = [];
      for (const childId of e.children) {
        const child = this.span(childId);
        if (child === undefined || child.status === 'resolved') continue;
        traces.set(child.spanId, child.headerTrace ?? t);
        queue.push(child);
      }
      e.children = [];
      this.put(e);
    }
  }

  /** The parent's trace id did not come in time: the span becomes the root of a trace of its own. */
  giveUp(e: SpanEntry, reason: string): void {
    const span = e.span!;
    if (span.parentSpanId !== null) {
      span.attributes['meshpipe.link.unresolved_parent'] = span.parentSpanId;
      span.attributes['meshpipe.link.unresolved_method'] = span.link.method;
    }
    span.attributes['meshpipe.link.unresolved_reason'] = reason;
    span.parentSpanId = null;
    span.link = { method: 'NONE', confidence: 0 };
    this.ctx.count(`roots.unresolved.${reason}`);
    this.resolve(e, e.headerTrace ?? traceIdForRoot(e.spanId));
  }

  // --- RESOLVE_REQUEST / RESOLVED ---------------------------------------------------------------

  onResolveRequest(ev: TraceLinkingEvent): void {
    if (ev.spanId === null || ev.replyTo === null) {
      this.ctx.count('malformed_linking_records');
      return;
    }
    this.ctx.count('resolve_requests_in');
    const e = this.span(ev.spanId) ?? this.stub(ev.spanId, ev.node);
    if (e.status === 'resolved' && e.traceId !== null) {
      this.ctx.count('resolutions_sent');
      this.ctx.emit('linking', ev.replyTo, {
        kind: 'RESOLVED',
        node: ev.replyTo,
        span: null,
        parentNode: null,
        spanId: ev.spanId,
        traceId: e.traceId,
        replyTo: null,
        causalCandidates: null,
      } satisfies TraceLinkingEvent);
      return;
    }
    if (!e.askedBy.includes(ev.replyTo)) e.askedBy.push(ev.replyTo);
    this.put(e);
  }

  onResolved(ev: TraceLinkingEvent): void {
    if (ev.spanId === null || ev.traceId === null) {
      this.ctx.count('malformed_linking_records');
      return;
    }
    const got = this.ctx.stores.state.get(remoteKey(ev.spanId));
    if (got?.t !== 'remote') {
      this.ctx.count('resolutions_late');
      return;
    }
    this.ctx.count('resolutions_in');
    got.traceId = ev.traceId;
    got.askedMs = this.now; // kept from now on, for late children
    this.schedule(remoteKey(ev.spanId), this.now + this.#remoteLifeMs());
    const children = got.children;
    got.children = [];
    this.ctx.stores.state.set(remoteKey(ev.spanId), got);
    for (const id of children) {
      const child = this.span(id);
      if (child !== undefined && child.status === 'parent') this.resolve(child, ev.traceId);
    }
  }

  // --- time and memory ----------------------------------------------------------------------------

  /** Acts on one due span entry; returns false when the entry was not due. */
  #due(e: SpanEntry, force: boolean): boolean {
    if (!force && e.deadlineMs > this.now) return false;
    switch (e.status) {
      case 'causality':
        this.decideCausality(e);
        return true;
      case 'parent':
        this.giveUp(e, force ? 'memory' : 'timeout');
        return true;
      case 'resolved':
        if (force) return false;
        this.ctx.stores.state.delete(spanKey(e.spanId));
        return true;
      default:
        if (force) return false;
        // Expected but never came: waiters time out on their own; questions go unanswered.
        if (e.askedBy.length > 0) this.ctx.count('resolve_requests_unanswered', e.askedBy.length);
        if (e.children.length > 0) this.ctx.count('parents_never_arrived');
        this.ctx.stores.state.delete(spanKey(e.spanId));
        return true;
    }
  }

  punctuate(): void {
    const m = this.meta();
    if (m.wheelFrom === null) return;
    const from = m.wheelFrom;
    const last = slotOf(this.now);
    // The wheel stays at the current slot: a punctuation can come anywhere in a slot (the host's timer
    // has its own phase), so the current slot may hold entries due later in it. Those are listed in it
    // again below, and the next punctuation reads the slot again. (Moving past the slot dropped them:
    // a span waited forever, and questions about it went unanswered.) Never moved back, should the
    // clock be.
    if (last > from) {
      m.wheelFrom = last;
      this.#metaDirty = true;
    }
    const due: { key: string; deadline: number }[] = [];
    for (let slot = from; slot <= last; slot++) {
      for (const key of this.#takeSlot(slot)) {
        const v = this.ctx.stores.state.get(key);
        if (v === undefined) continue;
        switch (v.t) {
          case 'span':
            if (v.deadlineMs <= this.now) due.push({ key: v.spanId, deadline: v.deadlineMs });
            // Not due yet in its own slot: listed again. (Listed in an earlier slot, its deadline
            // moved later since, and put() listed it at the new one.)
            else if (slotOf(v.deadlineMs) === slot) this.schedule(key, v.deadlineMs);
            break;
          case 'remote': {
            const until = v.askedMs + this.#remoteLifeMs();
            if (this.now >= until) this.ctx.stores.state.delete(key);
            else if (slotOf(until) === slot) this.schedule(key, until);
            break;
          }
          case 'bucket':
            if (this.now - v.touchedMs >= this.#bucketLifeMs()) this.ctx.stores.state.delete(key);
            else this.schedule(key, v.touchedMs + this.#bucketLifeMs());
            break;
          default:
            break;
        }
      }
    }
    // In deadline order (then id), so a replay acts alike; each entry is re-read, as earlier actions
    // may have resolved it. A span listed in several slots acts once: afterwards it is not due.
    due.sort((a, b) => a.deadline - b.deadline || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const seen = new Set<string>();
    for (const d of due) {
      if (seen.has(d.key)) continue;
      seen.add(d.key);
      const e = this.span(d.key);
      if (e !== undefined) this.#due(e, false);
    }
    this.flush();
  }

  /** Over the pending bound: decide the oldest tenth now, with what is known. */
  enforceBound(): void {
    this.flush();
    if (this.meta().pending <= this.cfg.maxPendingSpans) return;
    const pending: SpanEntry[] = [];
    for (const key of this.ctx.stores.state.keys()) {
      if (!key.startsWith('s:')) continue;
      const e = this.span(key.slice(2));
      if (e !== undefined && (e.status === 'causality' || e.status === 'parent')) pending.push(e);
    }
    pending.sort((a, b) => a.arrivedMs - b.arrivedMs || (a.spanId < b.spanId ? -1 : 1));
    const batch = Math.max(1, Math.ceil(this.cfg.maxPendingSpans / 10));
    for (const e of pending.slice(0, batch)) {
      const fresh = this.span(e.spanId);
      if (fresh !== undefined && this.#due(fresh, true)) this.ctx.count('forced_by_memory');
    }
    this.flush();
  }
}

export function processLinkingEvent(record: InputRecord<TraceLinkingEvent>, ctx: LinkerContext): void {
  const ev = record.value;
  const linker = new Linker(ctx);
  switch (ev.kind) {
    case 'SPAN':
      linker.onSpan(ev);
      break;
    case 'RESOLVE_REQUEST':
      linker.onResolveRequest(ev);
      break;
    case 'RESOLVED':
      linker.onResolved(ev);
      break;
  }
  linker.enforceBound();
}

export function punctuateLinker(ctx: LinkerContext): void {
  new Linker(ctx).punctuate();
}
