/**
 * The trace linker's partition state, plain typed data, kept live between records (index.ts) and written
 * to the changelog as Avro of the declared type state.avsc (state-codec.ts): the types below and that
 * file change together. A partition holds the state of the nodes whose name hashes to it (the linking
 * topic is keyed by node), so every key carries what it is about:
 *
 * - `s:<spanId>`: a span of one of this partition's nodes (`SpanEntry`), or a stub for one that has not
 *   arrived yet but is already waited for (by a local child, or a question from another node);
 * - `x:<spanId>`: a span of *another* node that local spans are children of; its trace id is asked for
 *   with a RESOLVE_REQUEST and arrives with a RESOLVED record;
 * - `b:<node>:<pid>:<tier>:<index>`: the SERVER spans of one process, by duration tier and start time
 *   (see TIER_MAX_NS): the candidates a CLIENT span of that process searches for its cause;
 * - `k:<node>:<pid>`: what a search needs to know before it reads a bucket: per tier, the newest bucket
 *   and how late any span in it ends (`ProcessIndexEntry`);
 * - `w:<slot>` (and `w:<slot>:<part>`): the deadline wheel: which of the keys above may be due in one
 *   100 ms slot, so that a punctuation reads what is due instead of decoding the whole state;
 * - `a:<slot>` (and `a:<slot>:<part>`): the spans that arrived in one 100 ms slot, so that the memory
 *   bound finds the oldest waiting spans without reading the whole state;
 * - `m`: the pending-span count that bounds memory, where the wheel and the arrival lists stand.
 *
 * A span touches few keys, none of them large: its own entry (which holds the span as the bytes it
 * came in, not as a decoded object), the slot lists it is listed in, `m`, and for a SERVER span its
 * bucket and its process's `k:` entry; each changed key is one changelog record per transaction.
 *
 * No value grows with traffic: each is one changelog record, and the broker refuses a record over the
 * changelog's max.message.bytes (1 MB by default) — the runtime would dead-letter the span whose call
 * made it. So every list in a value is bounded (see the constants below): a slot list continues in
 * more keys, the spans waiting for one parent and the SERVER spans of one bucket are capped, the
 * excess decided at once and counted (docs/tracing.md, "Waiting, bounded").
 */
import type { LinkInfo, SpanKind } from '../../schemas/types.ts';

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
  /**
   * The span while it waits, as it came in (a `span` record in the wire format); null once emitted (or
   * for a stub). Bytes rather than the decoded span: it is what the changelog carries, and the linker
   * decodes it once (linker.ts keeps the decoded span beside the entry while it lives in memory).
   */
  span: Buffer | null;
  /** The span's parent and how it was found, as the linker has decided so far (emitted with it). */
  parentSpanId: string | null;
  link: LinkInfo | null;
  /** Attributes the linker adds to the span, in the order it added them (emitted with it). */
  attributes: Record<string, string>;
  traceId: string | null;
  /** Trace id the request's traceparent gave, when it had one. */
  headerTrace: string | null;
  kind: SpanKind | null;
  node: string;
  pid: number;
  /** Start of the span (ns); with kind, node and pid it tells a true duplicate from another span reusing the id. */
  startNs: bigint | null;
  /** Local spans waiting for this one's trace id. */
  children: string[];
  /** Nodes that asked for this one's trace id (RESOLVE_REQUEST). */
  askedBy: string[];
  arrivedMs: number;
  deadlineMs: number;
  /**
   * CLIENT spans the collector counted the possible causes of (TraceLinkingEvent.causalCandidates): how
   * many containing SERVER spans to wait for, and until when at most (the causalityWaitMs deadline).
   * `deadlineMs` is then the next check. Absent (or null) for the others, which wait until `deadlineMs`.
   */
  causes?: { count: number; untilMs: number } | null;
  /**
   * The deadline the entry is listed at in the wheel (null: not listed yet). The entry carries it
   * because state is live (index.ts): the value read before a change is the changed object, so the old
   * deadline is gone.
   */
  scheduledMs: number | null;
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
 * One SERVER span of a bucket: its times as offsets from the bucket's start, plain numbers (exact below
 * 2^53 ns), so a search compares numbers, not BigInts. Buckets are read on every CLIENT decision.
 */
export interface ServerRow {
  spanId: string;
  startOffsetNs: number;
  durationNs: number;
  tid: number;
  headerTrace: string | null;
  /** Connection keys of the CLIENT calls already attributed to it (connection reuse is a hint). */
  childConns: string[];
}

export interface BucketEntry {
  t: 'bucket';
  /** Start of the bucket, ns on the node's clock. */
  baseNs: bigint;
  servers: ServerRow[];
  touchedMs: number;
  /** The latest end of its servers, as an offset from `baseNs` (a search skips a bucket that ends too soon). */
  reach: number;
  /**
   * At least the latest end of every server in the BUCKET_WINDOW buckets before it (same process and
   * tier), as an offset from `baseNs` (at most Number.MAX_SAFE_INTEGER): a search that finds it below
   * the call's end reads no older bucket.
   */
  olderReach: number;
}

/** How late the spans of one tier of a process end, and where its newest bucket is. */
export interface TierReach {
  /** Index of the newest bucket created in the tier. */
  newest: number;
  /** At least the latest end (ns) of every span indexed in the tier. */
  reachNs: bigint;
}

/**
 * Per process, what a search for a call's cause reads first: a tier whose spans all end before the
 * call does is not searched, and buckets newer than the newest are not looked up. Touched by every
 * SERVER span of the process; as long-lived as its newest bucket.
 */
export interface ProcessIndexEntry {
  t: 'process';
  /** One per tier (TIER_MAX_NS, then the last tier); null while the tier has no span. */
  tiers: Array<TierReach | null>;
  touchedMs: number;
}

export interface MetaEntry {
  t: 'meta';
  /** Spans held (status causality or parent). */
  pending: number;
  /** The first wheel slot not yet punctuated; null before anything was scheduled. */
  wheelFrom: number | null;
  /** The oldest and newest arrival slots that may hold a list (`a:`); null before any span arrived. */
  arrivalFrom: number | null;
  arrivalTo: number | null;
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

/**
 * The spans that arrived in one slot (by `arrivedMs`), in parts like the wheel's. Every span that
 * waits is listed in the slot it arrived in; the memory bound reads the oldest slots to find the oldest
 * waiting spans, and keeps in the lists only the spans still waiting. A list is looked at again (and
 * dropped once no span of it waits) when its spans' waits must be over (`arrivalsDueMs`).
 */
export interface ArrivalsEntry {
  t: 'arrivals';
  keys: string[];
  /** In the first part: how many parts follow it. */
  parts?: number;
}

export type LinkerState =
  | SpanEntry
  | RemoteEntry
  | BucketEntry
  | ProcessIndexEntry
  | MetaEntry
  | WheelEntry
  | ArrivalsEntry;

export const META_KEY = 'm';
export const WHEEL_SLOT_MS = 100;

/**
 * Key strings are made once per thing and reused. The store is a Map: a lookup with the very string it
 * holds is settled by identity, while a string made afresh is hashed and compared with what the table
 * holds, character by character, which in a store of a few hundred thousand keys is most of what a
 * lookup costs (bench/processors). Bounded: a cache that reaches KEY_CACHE_SIZE starts over.
 */
const KEY_CACHE_SIZE = 16_384;

function keyCache<K>(make: (k: K) => string): (k: K) => string {
  let cache = new Map<K, string>();
  return (k) => {
    let key = cache.get(k);
    if (key === undefined) {
      if (cache.size >= KEY_CACHE_SIZE) cache = new Map();
      key = make(k);
      cache.set(k, key);
    }
    return key;
  };
}

/** Keys of a slot list: `<prefix>:<slot>`, then `<prefix>:<slot>:<part>`. */
function slotKeys(prefix: string) {
  const head = keyCache((slot: number) => `${prefix}:${slot}`);
  // A slot and a part in one number (exact below 2^53: slots are tenths of a second since the epoch).
  const parts = keyCache((n: number) => `${prefix}:${Math.floor(n / 65_536)}:${n % 65_536}`);
  return {
    head,
    part: (slot: number, part: number) =>
      part < 65_536 ? parts(slot * 65_536 + part) : `${prefix}:${slot}:${part}`,
  };
}

const wheelKeys = slotKeys('w');
const arrivalsKeys = slotKeys('a');
export const wheelKey = wheelKeys.head;
export const wheelPartKey = wheelKeys.part;
export const arrivalsKey = arrivalsKeys.head;
export const arrivalsPartKey = arrivalsKeys.part;
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
/**
 * Buckets a search reads back per tier, besides the one the call starts in: a tier's buckets are a
 * tenth of its longest span, so a span that contains a call started in the call's bucket or in one of
 * the ten before it.
 */
export const BUCKET_WINDOW = 10;
/** Connection keys remembered per SERVER span (a hint for choosing among candidates). */
export const MAX_CHILD_CONNECTIONS = 4;
/** The wheel slot of a time (ms). */
export const slotOf = (ms: number) => Math.floor(ms / WHEEL_SLOT_MS);
// Not cached: there are more spans in flight than a cache holds, and a cache that misses costs more
// than the string (a profile of keyCache here: 6% of the handler, bench/processors).
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

/** The keys of one process's candidate index: its `k:` entry and its buckets. */
export interface ProcessKeys {
  process: string;
  bucket(tier: number, index: number): string;
}

let processKeysCache = new Map<string, Map<number, ProcessKeys>>();
let processKeysCount = 0;

export function processKeys(node: string, pid: number): ProcessKeys {
  let byPid = processKeysCache.get(node);
  if (byPid === undefined) {
    if (processKeysCount >= KEY_CACHE_SIZE) {
      processKeysCache = new Map();
      processKeysCount = 0;
    }
    byPid = new Map();
    processKeysCache.set(node, byPid);
  }
  let keys = byPid.get(pid);
  if (keys === undefined) {
    processKeysCount++;
    const prefix = `b:${node}:${pid}:`;
    // A tier and a bucket index in one number (exact below 2^53: indices are at most ns / 10 ms).
    const bucket = keyCache((n: number) => `${prefix}${n % 8}:${Math.floor(n / 8)}`);
    keys = { process: `k:${node}:${pid}`, bucket: (tier, index) => bucket(index * 8 + tier) };
    byPid.set(pid, keys);
  }
  return keys;
}

export const bucketKey = (node: string, pid: number, tier: number, index: number) =>
  processKeys(node, pid).bucket(tier, index);
export const processKey = (node: string, pid: number) => processKeys(node, pid).process;
