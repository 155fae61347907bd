/**
 * The trace linker's partition state, plain data. A partition holds the state of the nodes whose name
 * hashes to it (the linking topic is keyed by node), so every key carries what it is about:
 *
 * - `s:<spanId>`: a span of one of this partition's nodes (`SpanEntry`), or a stub for one that has not
 *   arrived yet but is already waited for (by a local child, or a question from another node);
 * - `x:<spanId>`: a span of *another* node that local spans are children of; its trace id is asked for
 *   with a RESOLVE_REQUEST and arrives with a RESOLVED record;
 * - `b:<node>:<pid>:<second>`: the SERVER spans of one process that started in one second of the
 *   node's clock: the candidates a CLIENT span of that process searches for its cause;
 * - `m`: counters that bound memory.
 */
import type { Span, SpanKind } from '../../schemas/types.ts';

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
  /** Local spans waiting for this one's trace id. */
  children: string[];
  /** Nodes that asked for this one's trace id (RESOLVE_REQUEST). */
  askedBy: string[];
  arrivedMs: number;
  deadlineMs: number;
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
}

export type LinkerState = SpanEntry | RemoteEntry | BucketEntry | MetaEntry;

export const META_KEY = 'm';
export const spanKey = (spanId: string) => `s:${spanId}`;
export const remoteKey = (spanId: string) => `x:${spanId}`;
/** One-second buckets: a CLIENT search reads at most maxServerSpanMs/1000 of them, few exist. */
export const BUCKET_NS = 1_000_000_000n;
export const bucketKey = (node: string, pid: number, startNs: bigint) =>
  `b:${node}:${pid}:${startNs / BUCKET_NS}`;
