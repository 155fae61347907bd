/**
 * The trace linker's partition state, plain data. A partition holds the state of the nodes whose name
 * hashes to it (the linking topic is keyed by node), so every key carries what it is about:
 *
 * - `s:<spanId>`: a span of one of this partition's nodes (`SpanEntry`), or a stub for one that has not
 *   arrived yet but is already waited for (by a local child, or a question from another node);
 * - `x:<spanId>`: a span of *another* node that local spans are children of; its trace id is asked for
 *   with a RESOLVE_REQUEST and arrives with a RESOLVED record;
 * - `b:<node>:<pid>:<tier>:<index>`: the SERVER spans of one process, by duration tier and start time
 *   (see TIER_MAX_NS): the candidates a CLIENT span of that process searches for its cause;
 * - `w:<slot>` (and `w:<slot>:<part>`): the deadline wheel: which of the keys above may be due in one
 *   100 ms slot, so that a punctuation reads what is due instead of decoding the whole state;
 * - `m`: the pending-span count that bounds memory, and where the wheel stands.
 *
 * No value grows with traffic: each is one changelog record, and the broker refuses a record over the
 * changelog's max.message.bytes (1 MB by default) — the runtime would dead-letter the span whose call
 * made it. So every list in a value is bounded (see the constants below): a wheel slot continues in
 * more keys, the spans waiting for one parent and the SERVER spans of one bucket are capped, the
 * excess decided at once and counted (docs/tracing.md, "Waiting, bounded").
 */
import type { Span, SpanKind } from '../../../schemas/types.ts';

export type SpanStatus =
  /** Not arrived yet: only waiters are known. */
  | 'expected'
  /** A CLIENT span waiting for the SERVER spans of its process (until `deadlineMs`). */
  | 'causality'
  /** Parent chosen, waiting for the parent's trace id (until `deadlineMs`). */
  | 'parent'
  /** Trace id known, emitted; kept until `deadlineMs` for late children and questions. */
  | 'resolved';

export interface SpanEntry {
  t: 'span';
  spanId: string;
  status: SpanStatus;
  /** The span itself while it waits; null once emitted (or for a stub). */
  span: Span | null;
  traceId: string | null;
  /** Trace id the request's traceparent gave, when it had one. */
  headerTrace: string | null;
  kind: SpanKind | null;
  node: string;
  pid: number;
  /** Kind, node, pid and start of the span: tells a true duplicate from another span reusing the id. */
  fingerprint: string | null;
  /** Local spans waiting for this one's trace id. */
  children: string[];
  /** Nodes that asked for this one's trace id (RESOLVE_REQUEST). */
  askedBy: string[];
  arrivedMs: number;
  deadlineMs: number;
  /**
   * The deadline the entry is listed at in the wheel. The entry carries it because state is live
   * (index.ts): the value read before a change is the changed object, so the old deadline is gone.
   */
  scheduledMs?: number;
}

/** A span of another node, parent of local spans: its trace id is asked for. */
export interface RemoteEntry {
  t: 'remote';
  spanId: string;
  node: string;
  traceId: string | null;
  children: string[];
  askedMs: number;
}

export interface ServerSummary {
  spanId: string;
  startNs: bigint;
  endNs: bigint;
  tid: number;
  headerTrace: string | null;
  /** Connection keys of the CLIENT calls already attributed to it (connection reuse is a hint). */
  childConns: string[];
}

/**
 * A bucket stores its summaries as compact tuples (offsets from the bucket start as plain numbers,
 * exact below 2^53 ns): buckets are read on every CLIENT decision, so their encoded size matters.
 */
export type StoredSummary = [
  spanId: string,
  startOffsetNs: number,
  durationNs: number,
  tid: number,
  headerTrace: string | null,
  childConns: string[],
];

export interface BucketEntry {
  t: 'bucket';
  /** Start of the bucket, ns on the node's clock. */
  baseNs: bigint;
  servers: StoredSummary[];
  touchedMs: number;
}

export interface MetaEntry {
  t: 'meta';
  /** Spans held (status causality or parent). */
  pending: number;
  /** The first wheel slot not yet punctuated; null before anything was scheduled. */
  wheelFrom: number | null;
}

/**
 * Keys that may be due in one slot; an entry whose deadline moved later is simply skipped. A slot holds
 * at most WHEEL_PART_KEYS keys per state key: the first part (`w:<slot>`) says how many more follow
 * (`w:<slot>:1` ... `w:<slot>:<parts>`), so a burst (a backlog caught up in a moment) spreads over more
 * keys instead of growing one value — and each insertion rewrites a part, not the whole slot.
 */
export interface WheelEntry {
  t: 'wheel';
  keys: string[];
  /** In the first part: how many parts follow it (absent: none, as written before parts existed). */
  parts?: number;
}

export type LinkerState = SpanEntry | RemoteEntry | BucketEntry | MetaEntry | WheelEntry;

export const META_KEY = 'm';
export const WHEEL_SLOT_MS = 100;
export const wheelKey = (slot: number) => `w:${slot}`;
export const wheelPartKey = (slot: number, part: number) => `w:${slot}:${part}`;
/** Keys per wheel part: about 11 kB encoded. */
export const WHEEL_PART_KEYS = 512;
/**
 * Spans waiting for one parent's trace id (a span's `children`, a remote parent's `children`). A parent
 * with more waiting children than this (a fan-out of thousands of calls while its own trace id is still
 * unknown) has the excess emitted at once as roots of their own (`roots.unresolved.fanout`).
 */
export const MAX_WAITING_CHILDREN = 1024;
/**
 * SERVER spans indexed per bucket (one process, one tier, a tenth of the tier's length): beyond, a SERVER
 * span is still linked and emitted, but not a candidate cause of its process's CLIENT calls
 * (`causality_index_full`).
 */
export const MAX_BUCKET_SERVERS = 1024;
/** Connection keys remembered per SERVER span (a hint for choosing among candidates). */
export const MAX_CHILD_CONNECTIONS = 4;
/** The wheel slot of a time (ms). */
export const slotOf = (ms: number) => Math.floor(ms / WHEEL_SLOT_MS);
export const spanKey = (spanId: string) => `s:${spanId}`;
export const remoteKey = (spanId: string) => `x:${spanId}`;
/**
 * The candidate index is tiered by span duration, each tier bucketed by start time at a tenth of its
 * length: a search for the spans that contain a call reads, per tier, the buckets of one tier length
 * back, so its cost follows the process's request rate times the duration of its requests, not the
 * rate times the longest request. The last tier is as long as `maxServerSpanMs`.
 */
export const TIER_MAX_NS: readonly bigint[] = [100_000_000n, 1_000_000_000n, 10_000_000_000n];

/** The tier of a span of `durationNs` (the last tier holds everything longer than the others). */
export function tierOf(durationNs: bigint): number {
  let tier = 0;
  while (tier < TIER_MAX_NS.length && durationNs > TIER_MAX_NS[tier]!) tier++;
  return tier;
}

/** Longest span of a tier; the last one is `maxServerSpanNs`. */
export function tierMaxNs(tier: number, maxServerSpanNs: bigint): bigint {
  return TIER_MAX_NS[tier] ?? (maxServerSpanNs > TIER_MAX_NS.at(-1)! ? maxServerSpanNs : TIER_MAX_NS.at(-1)!);
}

export function bucketWidthNs(tier: number, maxServerSpanNs: bigint): bigint {
  const w = tierMaxNs(tier, maxServerSpanNs) / 10n;
  return w > 0n ? w : 1n;
}

export const bucketKey = (node: string, pid: number, tier: number, index: bigint) =>
  `b:${node}:${pid}:${tier}:${index}`;
