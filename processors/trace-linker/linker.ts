/**
 * The trace linker's handlers. Input: the linking topic, keyed by node (docs/tracing.md):
 * - SPAN: a span from span-assembler. Its parent is known already (TRACEPARENT, or TCP_CONNECTION:
 *   the CLIENT span at the other end of its connection), or it is a SERVER root, or it is a CLIENT span
 *   whose parent is the SERVER span of its own process that caused it (PROCESS_CAUSALITY, chosen here
 *   after `causalityWaitMs`, causality.ts);
 * - RESOLVE_REQUEST / RESOLVED: trace ids asked for and given between the partitions of two nodes,
 *   when a parent was captured on another node than its child.
 * A span is emitted to meshpipe.spans.v2 (keyed by trace id) once its trace id is known: its own
 * (traceparent, or a root's), or its parent's. A span whose parent's trace id does not come within
 * `resolveTimeoutMs` becomes a root with link confidence 0. Nothing is dropped.
 */
import type { TraceLinkingEvent } from '../../schemas/types.ts';
import type { InputRecord, ProcessorContext } from '../runtime/definition.ts';
import { deterministicSpanId, traceIdForRoot } from '../shared/span-ids.ts';
import { CausalChooser } from './causality.ts';
import type { LinkerConfig } from './config.ts';
import { emitLinked, readSpan, type SpanView } from './span-bytes.ts';
import {
  type ArrivalsEntry,
  arrivalsKey,
  arrivalsPartKey,
  BUCKET_WINDOW,
  type BucketEntry,
  bucketWidthNs,
  MAX_BUCKET_SERVERS,
  MAX_CHILD_CONNECTIONS,
  MAX_WAITING_CHILDREN,
  META_KEY,
  type MetaEntry,
  type ProcessIndexEntry,
  type ProcessKeys,
  processKeys,
  type RemoteEntry,
  remoteKey,
  type SpanEntry,
  slotOf,
  spanKey,
  TIER_MAX_NS,
  tierMaxNs,
  tierOf,
  WHEEL_PART_KEYS,
  WHEEL_SLOT_MS,
  type WheelEntry,
  wheelKey,
  wheelPartKey,
} from './state.ts';
import type { linkerStores } from './state-codec.ts';

export type LinkerContext = ProcessorContext<LinkerConfig, typeof linkerStores>;

const MS = 1_000_000n;
/** An offset no search compares above: the stand-in for "no bound known" in a bucket's olderReach. */
const NO_BOUND = Number.MAX_SAFE_INTEGER;

/**
 * The span of an entry that waits, as read from its bytes (span-bytes.ts), kept beside it while the
 * entry lives in memory, so a span is read once (when it arrives), not again when it is emitted. Keyed
 * by the entry object: after a restore or an aborted transaction the store hands out new objects, which
 * miss here, and their span is read from the bytes the entry holds. The span read is never changed
 * before it is emitted (the linker's changes are in the entry), so it is always what the bytes say.
 */
const decodedSpans = new WeakMap<SpanEntry, SpanView>();

/** Per config: each tier's bucket width and longest span (ns), computed once, not per search. */
interface Tiers {
  width: bigint[];
  maxNs: bigint[];
}
const tiersByConfig = new WeakMap<LinkerConfig, Tiers>();
function tiersOf(cfg: LinkerConfig): Tiers {
  let tiers = tiersByConfig.get(cfg);
  if (tiers === undefined) {
    const maxSpanNs = BigInt(cfg.maxServerSpanMs) * MS;
    const all = Array.from({ length: TIER_MAX_NS.length + 1 }, (_, tier) => tier);
    tiers = {
      width: all.map((tier) => bucketWidthNs(tier, maxSpanNs)),
      maxNs: all.map((tier) => tierMaxNs(tier, maxSpanNs)),
    };
    tiersByConfig.set(cfg, tiers);
  }
  return tiers;
}

/** `ns - baseNs` as a number, rounded up to NO_BOUND when it is too far to be exact (an upper bound). */
function offsetAtMost(ns: bigint, baseNs: bigint): number {
  const d = ns - baseNs;
  return d < BigInt(NO_BOUND) ? Number(d) : NO_BOUND;
}

/** Handlers run one at a time: one chooser serves every search. Its refs: [bucket key, row index]. */
const chooser = new CausalChooser<string>();

type SlotKind = 'w' | 'a';
const SLOT_KEYS: Record<
  SlotKind,
  { head: (slot: number) => string; part: (slot: number, part: number) => string }
> = {
  w: { head: wheelKey, part: wheelPartKey },
  a: { head: arrivalsKey, part: arrivalsPartKey },
};

type SlotList = WheelEntry | ArrivalsEntry;
/** The part each kind of slot list was last appended to (checked against the store before use). */
const tails: Record<
  SlotKind,
  { state: LinkerContext['stores']['entries']; slot: number; key: string; list: SlotList } | undefined
> = { w: undefined, a: undefined };

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
    const e = this.ctx.stores.entries.get(spanKey(spanId));
    return e?.t === 'span' ? e : undefined;
  }

  /** Stores a span entry, scheduling its deadline when it is new or moved. */
  put(e: SpanEntry, key = spanKey(e.spanId)): void {
    if (e.scheduledMs !== e.deadlineMs) {
      this.schedule(key, e.deadlineMs);
      e.scheduledMs = e.deadlineMs;
    }
    this.ctx.stores.entries.set(key, e);
  }

  #meta: MetaEntry | undefined;
  #metaDirty = false;

  meta(): MetaEntry {
    if (this.#meta === undefined) {
      const m = this.ctx.stores.entries.get(META_KEY);
      this.#meta =
        m?.t === 'meta' ? m : { t: 'meta', pending: 0, wheelFrom: null, arrivalFrom: null, arrivalTo: null };
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
      this.ctx.stores.entries.set(META_KEY, this.meta());
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
    this.#append('w', slot, key);
  }

  /**
   * Adds `key` to a slot list (the wheel's or the arrivals'), in its last part, or in a new part when
   * that one is full; returns true when the list was new.
   */
  #append(kind: SlotKind, slot: number, key: string): boolean {
    // Appends go to one slot after another: the last part written is usually the one to write again.
    const tail = tails[kind];
    if (
      tail !== undefined &&
      tail.slot === slot &&
      tail.state === this.ctx.stores.entries &&
      tail.list.keys.length < WHEEL_PART_KEYS &&
      // Still the stored value (an aborted call or transaction leaves another object, or none).
      this.ctx.stores.entries.get(tail.key) === tail.list
    ) {
      tail.list.keys.push(key);
      this.ctx.stores.entries.set(tail.key, tail.list);
      return false;
    }
    const keys = SLOT_KEYS[kind];
    const t = kind === 'w' ? 'wheel' : 'arrivals';
    const headKey = keys.head(slot);
    const got = this.ctx.stores.entries.get(headKey);
    const created = got?.t !== t;
    const head = (created ? { t, keys: [] } : got) as SlotList;
    const parts = head.parts ?? 0;
    let listKey = headKey;
    let list = head;
    if (parts > 0 || head.keys.length >= WHEEL_PART_KEYS) {
      const lastGot = parts === 0 ? undefined : this.ctx.stores.entries.get(keys.part(slot, parts));
      list = (lastGot?.t === t ? lastGot : undefined) as SlotList;
      listKey = keys.part(slot, parts);
      if (list === undefined || list.keys.length >= WHEEL_PART_KEYS) {
        head.parts = parts + 1;
        this.ctx.stores.entries.set(headKey, head);
        list = { t, keys: [] } as SlotList;
        listKey = keys.part(slot, parts + 1);
      }
    }
    list.keys.push(key);
    this.ctx.stores.entries.set(listKey, list);
    tails[kind] = { state: this.ctx.stores.entries, slot, key: listKey, list };
    return created;
  }

  /** Every key listed in a slot list, or undefined when there is none; with `take`, its parts deleted. */
  #readSlot(kind: SlotKind, slot: number, take: boolean): string[] | undefined {
    const keys = SLOT_KEYS[kind];
    const head = this.ctx.stores.entries.get(keys.head(slot));
    if (head?.t !== (kind === 'w' ? 'wheel' : 'arrivals')) return undefined;
    if (take) this.ctx.stores.entries.delete(keys.head(slot));
    const parts = head.parts ?? 0;
    if (parts === 0) return take ? head.keys : [...head.keys];
    const out = [...head.keys];
    for (let part = 1; part <= parts; part++) {
      const p = this.ctx.stores.entries.get(keys.part(slot, part));
      if (take) this.ctx.stores.entries.delete(keys.part(slot, part));
      if (p?.t === 'wheel' || p?.t === 'arrivals') for (const k of p.keys) out.push(k);
    }
    return out;
  }

  /** Replaces a slot list with `list` (deleted when empty). */
  #rewriteSlot(kind: SlotKind, slot: number, list: string[]): void {
    this.#readSlot(kind, slot, true);
    for (const key of list) this.#append(kind, slot, key);
  }

  stub(spanId: string, node: string): SpanEntry {
    return {
      t: 'span',
      spanId,
      status: 'expected',
      span: null,
      parentSpanId: null,
      link: null,
      attributes: {},
      traceId: null,
      headerTrace: null,
      kind: null,
      node,
      pid: 0,
      startNs: null,
      children: [],
      askedBy: [],
      arrivedMs: this.now,
      deadlineMs: this.now + this.cfg.resolveTimeoutMs + this.cfg.retainMs,
      scheduledMs: null,
    };
  }

  /** The span of an entry that holds one (read once, see decodedSpans). */
  #decoded(e: SpanEntry): SpanView {
    let span = decodedSpans.get(e);
    if (span === undefined) {
      span = readSpan(e.span!);
      decodedSpans.set(e, span);
    }
    return span;
  }

  // --- SPAN --------------------------------------------------------------------------------------

  onSpan(ev: TraceLinkingEvent): void {
    if (ev.span === null) {
      this.ctx.count('span_records_without_span');
      return;
    }
    const span = readSpan(ev.span);
    let spanId = span.spanId;
    let existing = this.span(spanId);
    const attributes: Record<string, string> = {};
    if (existing !== undefined && existing.status !== 'expected') {
      if (
        existing.kind === span.kind &&
        existing.node === span.local.node &&
        existing.pid === span.local.pid &&
        existing.startNs === span.startTimeUnixNano
      ) {
        // The same span twice (a replayed input): the first one stands.
        this.ctx.count('duplicate_spans');
        return;
      }
      // Another span with the id: a client that retried with the same traceparent, whose parent-id
      // names both calls. It keeps the header's id as an attribute and gets one derived from it.
      attributes['meshpipe.span_id.original'] = spanId;
      const fingerprint = `${span.kind}|${span.local.node}|${span.local.pid}|${span.startTimeUnixNano}`;
      spanId = deterministicSpanId([spanId, fingerprint]);
      this.ctx.count('span_ids_reused');
      existing = this.span(spanId);
    }
    this.ctx.count('spans_in');
    const e: SpanEntry = {
      t: 'span',
      spanId,
      status: 'causality',
      span: ev.span,
      parentSpanId: span.parentSpanId,
      link: span.link,
      attributes,
      traceId: null,
      headerTrace: span.traceId === '' ? null : span.traceId,
      kind: span.kind,
      node: span.local.node,
      pid: span.local.pid,
      startNs: span.startTimeUnixNano,
      children: existing?.children ?? [],
      askedBy: existing?.askedBy ?? [],
      arrivedMs: this.now,
      deadlineMs: this.now + this.cfg.causalityWaitMs,
      scheduledMs: null,
    };
    decodedSpans.set(e, span);
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
    } else if (ev.causalCandidates === null || !this.#hinted(e, span, ev.causalCandidates)) {
      this.put(e);
    }
    if (e.status === 'causality' || e.status === 'parent') this.#listArrival(e);
  }

  /**
   * A CLIENT span whose possible causes the collector counted (L7RawEvent.causalCandidates): decided as
   * soon as that many containing SERVER spans of its process have arrived — at once when none could
   * have caused it, or when they all came first — else checked again every `punctuateMs` until they
   * have, and decided with what arrived at `causalityWaitMs` at the latest (a cause the pipeline lost).
   * Returns false when the span waits the usual way.
   */
  #hinted(e: SpanEntry, span: SpanView, count: number): boolean {
    if (count < 0) return false;
    if (count === 0 || this.#causesArrived(e, span) >= count) {
      this.ctx.count('causality.decided_on_arrival');
      // With count 0 nothing was searched; else the search that counted the causes is the one to choose from.
      this.decideCausality(e, undefined, count > 0);
      return true;
    }
    e.causes = { count, untilMs: e.deadlineMs };
    e.deadlineMs = Math.min(e.causes.untilMs, this.now + this.cfg.punctuateMs);
    this.put(e);
    return true;
  }

  /** How many SERVER spans of the process that contain the call have arrived. */
  #causesArrived(e: SpanEntry, span: SpanView): number {
    chooser.reset(span.local.tid, span.connectionKey);
    this.#offerCauses(e, span);
    return chooser.containing;
  }

  /** Lists a waiting span in the slot it arrived in, for the memory bound (ArrivalsEntry). */
  #listArrival(e: SpanEntry): void {
    const slot = slotOf(e.arrivedMs);
    if (this.#append('a', slot, e.spanId)) {
      // Looked at again when its spans must be done waiting: a cause found, then a parent's trace id.
      this.schedule(arrivalsKey(slot), this.#arrivalsDueMs(slot));
    }
    const m = this.meta();
    if (m.arrivalFrom === null || slot < m.arrivalFrom) {
      m.arrivalFrom = slot;
      this.#metaDirty = true;
    }
    if (m.arrivalTo === null || slot > m.arrivalTo) {
      m.arrivalTo = slot;
      this.#metaDirty = true;
    }
  }

  #arrivalsDueMs(slot: number): number {
    return (slot + 1) * WHEEL_SLOT_MS + this.cfg.causalityWaitMs + this.cfg.resolveTimeoutMs;
  }

  /**
   * Keeps in an arrival list only the spans of it that still wait; returns them. The list goes when none
   * does (and the oldest arrival slot moves on past it).
   */
  #pruneArrivals(slot: number): SpanEntry[] {
    const ids = this.#readSlot('a', slot, false);
    const waiting: SpanEntry[] = [];
    if (ids !== undefined) {
      const keep = new Set<string>();
      for (const id of ids) {
        const e = this.span(id);
        if (e === undefined || (e.status !== 'causality' && e.status !== 'parent')) continue;
        // A later span with the id is listed in its own slot; one that came again within the slot
        // (a retry's derived id, replayed) is listed twice in it.
        if (slotOf(e.arrivedMs) !== slot || keep.has(id)) continue;
        waiting.push(e);
        keep.add(id);
      }
      if (keep.size < ids.length) this.#rewriteSlot('a', slot, [...keep]);
    }
    if (waiting.length === 0) {
      const m = this.meta();
      if (m.arrivalFrom === slot) {
        if (m.arrivalTo === null || slot >= m.arrivalTo) {
          m.arrivalFrom = null;
          m.arrivalTo = null;
        } else m.arrivalFrom = slot + 1;
        this.#metaDirty = true;
      }
    }
    return waiting;
  }

  /** Where a SERVER span starting at `startNs` of `durationNs` is indexed: tier, bucket index and base. */
  #bucketOf(startNs: bigint, durationNs: bigint): { tier: number; index: number; baseNs: bigint } {
    const tier = tierOf(durationNs);
    const width = tiersOf(this.cfg).width[tier]!;
    const index = startNs / width;
    return { tier, index: Number(index), baseNs: index * width };
  }

  /** Adds a SERVER span to its process's candidate index (and what its process's searches read first). */
  #index(span: SpanView, headerTrace: string | null): void {
    const d = span.endTimeUnixNano - span.startTimeUnixNano;
    const duration = d > 0n ? d : 0n;
    const endNs = d > 0n ? span.endTimeUnixNano : span.startTimeUnixNano;
    const keys = processKeys(span.local.node, span.local.pid);
    const { tier, index, baseNs } = this.#bucketOf(span.startTimeUnixNano, duration);
    const key = keys.bucket(tier, index);
    const got = this.ctx.stores.entries.get(key);
    if (got?.t === 'bucket' && got.servers.length >= MAX_BUCKET_SERVERS) {
      // Still linked and emitted; only not a candidate cause (state.ts, MAX_BUCKET_SERVERS).
      this.ctx.count('causality_index_full');
      return;
    }
    const procKey = keys.process;
    const procGot = this.ctx.stores.entries.get(procKey);
    let proc: ProcessIndexEntry;
    if (procGot?.t === 'process') proc = procGot;
    else {
      proc = { t: 'process', tiers: TIER_MAX_NS.map(() => null).concat(null), touchedMs: this.now };
      this.schedule(procKey, this.now + this.#bucketLifeMs());
    }
    const reach = proc.tiers[tier] ?? null;
    const start = Number(span.startTimeUnixNano - baseNs);
    const end = start + Number(duration);
    let bucket: BucketEntry;
    if (got?.t === 'bucket') {
      bucket = got;
      if (end > bucket.reach) bucket.reach = end;
    } else {
      bucket = {
        t: 'bucket',
        baseNs,
        servers: [],
        touchedMs: this.now,
        reach: end,
        // Every span of the tier ends by the tier's reach: so do those of the buckets before this one.
        olderReach: reach === null ? -NO_BOUND : offsetAtMost(reach.reachNs, baseNs),
      };
      this.schedule(key, this.now + this.#bucketLifeMs());
    }
    bucket.servers.push({
      spanId: span.spanId,
      startOffsetNs: start,
      durationNs: Number(duration),
      tid: span.local.tid,
      headerTrace,
      childConns: [],
    });
    bucket.touchedMs = this.now;
    this.ctx.stores.entries.set(key, bucket);
    if (reach === null) proc.tiers[tier] = { newest: index, reachNs: endNs };
    else {
      // A span that came after spans that started later: the buckets it precedes learn how late it ends.
      if (index < reach.newest)
        this.#raiseOlderReach(keys, tier, index, Math.min(reach.newest, index + BUCKET_WINDOW), endNs);
      if (index > reach.newest) reach.newest = index;
      if (endNs > reach.reachNs) reach.reachNs = endNs;
    }
    proc.touchedMs = this.now;
    this.ctx.stores.entries.set(procKey, proc);
  }

  #raiseOlderReach(keys: ProcessKeys, tier: number, from: number, to: number, endNs: bigint): void {
    for (let b = from + 1; b <= to; b++) {
      const key = keys.bucket(tier, b);
      const got = this.ctx.stores.entries.get(key);
      if (got?.t !== 'bucket') continue;
      const end = offsetAtMost(endNs, got.baseNs);
      if (end <= got.olderReach) continue;
      got.olderReach = end;
      this.ctx.stores.entries.set(key, got);
    }
  }

  /** How long a remote parent is remembered (its answer, for late children). */
  #remoteLifeMs(): number {
    return this.cfg.resolveTimeoutMs + this.cfg.retainMs;
  }

  /** How long a bucket (and its process's index entry) is kept after its last server span arrived. */
  #bucketLifeMs(): number {
    return this.cfg.retainMs + this.cfg.maxServerSpanMs;
  }

  /**
   * Offers the chooser every SERVER span of the call's process that contains it (started before it,
   * ended after it) — its possible causes — other than the call itself, and, for a call that carries a
   * traceparent, only those of the same trace. Per tier: a tier whose spans all end before the call
   * does is skipped; the buckets that can hold a cause (one tier length back) are read newest first, a
   * bucket whose servers all end too soon is not scanned, and a bucket whose predecessors all end too
   * soon (olderReach) is the last one read. Rows are tested on their number offsets from their bucket's
   * base (exact: a bucket spans seconds), with no allocation.
   */
  #offerCauses(e: SpanEntry, span: SpanView): void {
    const keys = processKeys(e.node, e.pid);
    const proc = this.ctx.stores.entries.get(keys.process);
    if (proc?.t !== 'process') return;
    const tiers = tiersOf(this.cfg);
    const startNs = span.startTimeUnixNano;
    const endNs = span.endTimeUnixNano;
    for (let tier = 0; tier < proc.tiers.length; tier++) {
      const reach = proc.tiers[tier];
      if (reach == null || reach.reachNs < endNs) continue;
      const width = tiers.width[tier]!;
      const first = Number(startNs / width);
      const from = startNs - tiers.maxNs[tier]!;
      const last = from > 0n ? Number(from / width) : 0;
      const exits = first - last <= BUCKET_WINDOW;
      for (let b = Math.min(first, reach.newest); b >= last; b--) {
        const key = keys.bucket(tier, b);
        const got = this.ctx.stores.entries.get(key);
        if (got?.t !== 'bucket') continue;
        const callStart = Number(startNs - got.baseNs);
        const callEnd = Number(endNs - got.baseNs);
        if (got.reach >= callEnd) {
          const rows = got.servers;
          for (let i = 0; i < rows.length; i++) {
            const row = rows[i]!;
            const rowStart = row.startOffsetNs;
            const rowEnd = rowStart + row.durationNs;
            if (rowStart > callStart || callEnd > rowEnd) continue;
            if (row.spanId === e.spanId || (e.headerTrace !== null && row.headerTrace !== e.headerTrace))
              continue;
            // Offsets from the call's start: common to every bucket.
            chooser.add(
              rowStart - callStart,
              rowEnd - callStart,
              row.spanId,
              row.tid,
              row.childConns,
              key,
              i,
            );
          }
        }
        if (exits && got.olderReach < callEnd) break;
      }
    }
  }

  /** Chooses the cause of a CLIENT span among the SERVER spans of its process (causality.ts). */
  decideCausality(e: SpanEntry, key?: string, offered = false): void {
    const span = this.#decoded(e);
    // `offered`: the chooser already holds this span's candidates (#causesArrived just counted them).
    if (!offered) {
      chooser.reset(span.local.tid, span.connectionKey);
      this.#offerCauses(e, span);
    }
    const choice = chooser.choice();
    if (choice === null) {
      this.ctx.count('roots.client');
      e.link = { method: 'NONE', confidence: 0 };
      this.resolve(e, e.headerTrace ?? traceIdForRoot(e.spanId), key);
      return;
    }
    e.parentSpanId = choice.spanId;
    e.link = { method: 'PROCESS_CAUSALITY', confidence: choice.confidence };
    this.ctx.count('links.process_causality');
    if (choice.containing > 1) {
      e.attributes['meshpipe.link.candidates'] = String(choice.containing);
      this.ctx.count('links.process_causality_ambiguous');
    }
    this.#noteChildConnection(choice.ref, choice.index, span.connectionKey);
    if (e.headerTrace !== null) this.resolve(e, e.headerTrace, key);
    else this.waitForParent(e, choice.spanId, null, key);
  }

  /** Remembers that the chosen cause made a call on `connectionKey` (row `index` of bucket `key`). */
  #noteChildConnection(key: string, index: number, connectionKey: string): void {
    const got = this.ctx.stores.entries.get(key);
    if (got?.t !== 'bucket') return;
    const conns = got.servers[index]!.childConns;
    if (conns.includes(connectionKey) || conns.length >= MAX_CHILD_CONNECTIONS) return;
    conns.push(connectionKey);
    this.ctx.stores.entries.set(key, got);
  }

  /** The span's trace id is its parent's: take it if known, else wait for it (asking its node). */
  waitForParent(e: SpanEntry, parentId: string, parentNode: string | null, key?: string): void {
    e.status = 'parent';
    e.deadlineMs = this.now + this.cfg.resolveTimeoutMs;
    if (parentNode === null || parentNode === e.node) {
      const parent = this.span(parentId) ?? this.stub(parentId, e.node);
      if (parent.status === 'resolved' && parent.traceId !== null) {
        this.resolve(e, parent.traceId, key);
        return;
      }
      if (parent.children.length >= MAX_WAITING_CHILDREN) {
        this.giveUp(e, 'fanout', key);
        return;
      }
      parent.children.push(e.spanId);
      this.put(parent);
    } else {
      const parentKey = remoteKey(parentId);
      const got = this.ctx.stores.entries.get(parentKey);
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
        this.resolve(e, remote.traceId, key);
        return;
      }
      if (remote.children.length >= MAX_WAITING_CHILDREN) {
        this.giveUp(e, 'fanout', key);
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
      if (got === undefined) this.schedule(parentKey, this.now + this.#remoteLifeMs());
      this.ctx.stores.entries.set(parentKey, remote);
    }
    this.put(e, key);
  }

  /** Resolves one entry: emits its span (with the linker's changes) and answers the nodes that asked. */
  #resolveOne(e: SpanEntry, traceId: string): void {
    e.status = 'resolved';
    e.traceId = traceId;
    e.deadlineMs = this.now + this.cfg.retainMs;
    if (e.span !== null) {
      const span = this.#decoded(e);
      decodedSpans.delete(e);
      emitLinked(
        this.ctx,
        span,
        e.span,
        { spanId: e.spanId, parentSpanId: e.parentSpanId, link: e.link!, attributes: e.attributes },
        traceId,
      );
      this.ctx.count('spans_out');
      e.span = null;
      this.#pendingDelta--;
    }
    if (e.askedBy.length > 0) {
      for (const node of e.askedBy) {
        this.ctx.count('resolutions_sent');
        this.ctx.emit('linking', node, {
          kind: 'RESOLVED',
          node,
          span: null,
          parentNode: null,
          spanId: e.spanId,
          traceId,
          replyTo: null,
          causalCandidates: null,
        } satisfies TraceLinkingEvent);
      }
      e.askedBy = [];
    }
  }

  /**
   * Gives `first` its trace id, emits it, and hands the trace id down to every span waiting for it
   * (local children, and the nodes that asked), breadth-first: a whole chain resolves in one call.
   */
  resolve(first: SpanEntry, traceId: string, key?: string): void {
    if (first.status === 'resolved') return;
    if (first.children.length === 0) {
      // Most spans: nothing waits for them.
      this.#resolveOne(first, traceId);
      this.put(first, key);
      return;
    }
    const queue: SpanEntry[] = [first];
    const traces = new Map<string, string>([[first.spanId, traceId]]);
    for (let e = queue.shift(); e !== undefined; e = queue.shift()) {
      if (e.status === 'resolved') continue;
      const t = traces.get(e.spanId)!;
      this.#resolveOne(e, t);
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
  giveUp(e: SpanEntry, reason: string, key?: string): void {
    if (e.parentSpanId !== null) {
      e.attributes['meshpipe.link.unresolved_parent'] = e.parentSpanId;
      e.attributes['meshpipe.link.unresolved_method'] = e.link!.method;
    }
    e.attributes['meshpipe.link.unresolved_reason'] = reason;
    e.parentSpanId = null;
    e.link = { method: 'NONE', confidence: 0 };
    this.ctx.count(`roots.unresolved.${reason}`);
    this.resolve(e, e.headerTrace ?? traceIdForRoot(e.spanId), key);
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
    const key = remoteKey(ev.spanId);
    const got = this.ctx.stores.entries.get(key);
    if (got?.t !== 'remote') {
      this.ctx.count('resolutions_late');
      return;
    }
    this.ctx.count('resolutions_in');
    got.traceId = ev.traceId;
    got.askedMs = this.now; // kept from now on, for late children
    this.schedule(key, this.now + this.#remoteLifeMs());
    const children = got.children;
    got.children = [];
    this.ctx.stores.entries.set(key, got);
    for (const id of children) {
      const child = this.span(id);
      if (child !== undefined && child.status === 'parent') this.resolve(child, ev.traceId);
    }
  }

  // --- time and memory ----------------------------------------------------------------------------

  /** Acts on one due span entry (stored at `key`); returns false when the entry was not due. */
  #due(e: SpanEntry, force: boolean, key = spanKey(e.spanId)): boolean {
    if (!force && e.deadlineMs > this.now) return false;
    switch (e.status) {
      case 'causality': {
        const causes = e.causes;
        if (!force && causes != null && this.now < causes.untilMs) {
          if (this.#causesArrived(e, this.#decoded(e)) < causes.count) {
            // Not all of them yet: checked again at the next punctuation (at the latest, untilMs).
            e.deadlineMs = Math.min(causes.untilMs, this.now + this.cfg.punctuateMs);
            this.put(e, key);
            return false;
          }
          this.ctx.count('causality.decided_on_causes');
          this.decideCausality(e, key, true);
          return true;
        }
        if (causes != null) this.ctx.count('causality.decided_by_timer');
        this.decideCausality(e, key);
        return true;
      }
      case 'parent':
        this.giveUp(e, force ? 'memory' : 'timeout', key);
        return true;
      case 'resolved':
        if (force) return false;
        this.ctx.stores.entries.delete(key);
        return true;
      default:
        if (force) return false;
        // Expected but never came: waiters time out on their own; questions go unanswered.
        if (e.askedBy.length > 0) this.ctx.count('resolve_requests_unanswered', e.askedBy.length);
        if (e.children.length > 0) this.ctx.count('parents_never_arrived');
        this.ctx.stores.entries.delete(key);
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
    const due: { key: string; entry: SpanEntry; deadline: number }[] = [];
    for (let slot = from; slot <= last; slot++) {
      for (const key of this.#readSlot('w', slot, true) ?? []) {
        const v = this.ctx.stores.entries.get(key);
        if (v === undefined) continue;
        switch (v.t) {
          case 'span':
            if (v.deadlineMs <= this.now) due.push({ key, entry: v, deadline: v.deadlineMs });
            // Not due yet in its own slot: listed again. (Listed in an earlier slot, its deadline
            // moved later since, and put() listed it at the new one.)
            else if (slotOf(v.deadlineMs) === slot) this.schedule(key, v.deadlineMs);
            break;
          case 'remote': {
            const until = v.askedMs + this.#remoteLifeMs();
            if (this.now >= until) this.ctx.stores.entries.delete(key);
            else if (slotOf(until) === slot) this.schedule(key, until);
            break;
          }
          case 'bucket':
          case 'process':
            if (this.now - v.touchedMs >= this.#bucketLifeMs()) this.ctx.stores.entries.delete(key);
            else this.schedule(key, v.touchedMs + this.#bucketLifeMs());
            break;
          case 'arrivals': {
            const arrivals = Number(key.slice(2));
            const waiting = this.#pruneArrivals(arrivals);
            if (waiting.length > 0) {
              let until = this.#arrivalsDueMs(arrivals);
              for (const w of waiting) until = Math.max(until, w.deadlineMs + WHEEL_SLOT_MS);
              this.schedule(key, Math.max(until, this.now + WHEEL_SLOT_MS));
            }
            break;
          }
          default:
            break;
        }
      }
    }
    // In deadline order (then id), so a replay acts alike. Earlier actions may have resolved an entry
    // (it is then no longer due) but never replace or delete another's: each span's own object is
    // what it acts on. A span listed in several slots acts once: afterwards it is not due.
    due.sort((a, b) =>
      a.deadline !== b.deadline
        ? a.deadline - b.deadline
        : a.entry.spanId < b.entry.spanId
          ? -1
          : a.entry.spanId > b.entry.spanId
            ? 1
            : 0,
    );
    const seen = new Set<string>();
    for (const d of due) {
      if (seen.has(d.entry.spanId)) continue;
      seen.add(d.entry.spanId);
      this.#due(d.entry, false, d.key);
    }
    this.flush();
  }

  /**
   * Over the pending bound: decide the oldest tenth now, with what is known. The oldest waiting spans
   * are found in the arrival lists, oldest slot first (a slot's spans all arrived before the next
   * slot's), which are pruned of the spans no longer waiting as they are read.
   */
  enforceBound(): void {
    this.flush();
    const m = this.meta();
    if (m.pending <= this.cfg.maxPendingSpans) return;
    const batch = Math.max(1, Math.ceil(this.cfg.maxPendingSpans / 10));
    const pending: SpanEntry[] = [];
    for (let slot = m.arrivalFrom; slot !== null && m.arrivalTo !== null && slot <= m.arrivalTo; slot++) {
      for (const e of this.#pruneArrivals(slot)) pending.push(e);
      if (pending.length >= batch) break;
    }
    pending.sort((a, b) => a.arrivedMs - b.arrivedMs || (a.spanId < b.spanId ? -1 : 1));
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
