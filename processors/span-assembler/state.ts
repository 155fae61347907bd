/**
 * The span assembler's partition state: one store, `connections`, of values of the declared type
 * state.avsc (the types below and that file change together), written to the changelog so that a
 * restarted or rebalanced instance continues exactly where the committed outputs left off.
 *
 * One entry per connection key: both ends of one TCP connection, possibly captured by two nodes, share
 * the key and therefore this entry, which is what lets a SERVER span name the CLIENT span at the other
 * end without a shuffle.
 */
import type { Http1PairerState, Http1ReaderState } from '../../protocols/http1/index.ts';
import type { Http2PairerState } from '../../protocols/http2/index.ts';
import type { PeerWorkload, Span } from '../../schemas/types.ts';
import type { LegacyEntry } from '../runtime/definition.ts';
import { jsonStateCodec } from '../runtime/state-codec.ts';
import { avroStore } from '../runtime/store-types.ts';

export type Dir = 'egress' | 'ingress';
export type SideRole = 'CLIENT' | 'SERVER' | 'UNKNOWN';

/**
 * A request a CLIENT side sent, remembered until the SERVER side at the other end names it as a
 * parent. Requests are answered in order, so once one is claimed, the older ones never will be: they
 * are dropped with it. Unclaimed ones go when they are older than an exchange can last.
 */
export interface RequestRecord {
  ordinal: number;
  spanId: string;
  method: string;
  /** url.path, or the whole target when it has no path (CONNECT's authority-form). */
  path: string;
  startNs: bigint;
  /**
   * HTTP/2: the request's stream. Both ends of a connection number its streams alike, so the SERVER side
   * claims exactly this request, whatever order concurrent streams end in (see h2-side.ts).
   */
  streamId?: number | null;
}

/** One end of one connection as one collector captured it: node, process, connection id/generation. */
export interface SideState {
  id: string;
  /**
   * Time of the first event seen on this side: part of its span ids, so a side forgotten while idle
   * and seen again, or a connection id reused after a collector restart, never repeats an id.
   */
  epochNs: bigint;
  node: string;
  pid: number;
  comm: string;
  exe: string | null;
  containerId: string | null;
  service: string;
  namespace: string | null;
  pod: string | null;
  workload: string | null;
  /** Kubernetes identity (k8s.pod.uid, k8s.container.name, the workload's kind); null elsewhere. */
  podUid: string | null;
  container: string | null;
  workloadKind: string | null;
  /** The other end as the collector's Kubernetes decorator named it by address: used when it is not captured. */
  peerWorkload: PeerWorkload | null;
  role: SideRole;
  roleInferred: boolean;
  localAddress: string;
  localPort: number;
  peerAddress: string;
  peerPort: number;
  /**
   * The HTTP/1.x reader of each direction and the side's pairer, as their plain-data state
   * (protocols/http1 `toState`), `null` while one holds nothing (see side-reader.ts).
   */
  http: {
    egress: Http1ReaderState | null;
    ingress: Http1ReaderState | null;
    pairer: Http1PairerState | null;
  };
  /** An HTTP/2 side: its stream pairer's plain-data state (protocols/http2), absent before its first event. */
  h2?: Http2PairerState | null;
  /** Requests read on this side: the next one's ordinal (part of its span id). */
  requests: number;
  /** Requests that left the pairer in an exchange (they leave in order): the next exchange's ordinal. */
  paired: number;
  /** Orphan responses so far: the next one's ordinal. */
  orphans: number;
  recent: RequestRecord[];
  /** After 101 or a 2xx to CONNECT: the bytes are another protocol (counted as tunnel bytes). */
  tunnel: boolean;
  closed: boolean;
  /** Latest event time on this side (the capturing node's clock). */
  lastNs: bigint;
  /** Processor wall-clock ms of the latest event, for timeouts on idle sides. */
  lastSeenMs: number;
}

/** A finished span waiting for the other end of its connection (its parent, or its peer's identity). */
export interface HeldSpan {
  span: Span;
  sideId: string;
  /** SERVER spans with a request and no traceparent wait for the CLIENT request to name as parent. */
  needsParent: boolean;
  /** SERVER spans: the request, to find the CLIENT request it is the arrival of (until `claimed`). */
  request: { method: string; path: string; startNs: bigint; streamId?: number | null } | null;
  /** The CLIENT request at the other end was found (and claimed, so no later request takes it). */
  claimed: boolean;
  /** Node of the CLIENT span named as parent, once found (the linker may have to ask that node). */
  parentNode: string | null;
  heldAtMs: number;
  /** CLIENT spans: the collector's count of the call's possible causes (L7RawEvent.causalCandidates). */
  causalCandidates: number | null;
}

export interface ConnState {
  key: string;
  sides: SideState[];
  held: HeldSpan[];
  /**
   * Whether the other end of this connection is captured: `unknown` until a second side shows up or a
   * held span times out without one (`absent`: later spans are emitted without waiting).
   */
  peer: 'unknown' | 'captured' | 'absent';
}

/** The state stores (processors/runtime/store-types.ts). */
export const assemblerStores = {
  /**
   * Connection key → both ends of the connection. Binary values of a declared type: the JSON codec's
   * tree of tagged values was the largest single cost of the handler.
   */
  connections: avroStore<ConnState>(new URL('./state.avsc', import.meta.url), {
    // Values written by the versions before (the Kubernetes fields, then HTTP/2 sides) still restore.
    history: [
      new URL('./history/state-first.avsc', import.meta.url),
      new URL('./history/state-k8s.avsc', import.meta.url),
    ],
    // And values written as JSON before state.avsc (JSON never begins with the wire format's byte 0).
    legacy: jsonStateCodec<ConnState>(),
  }),
};

/** The key of a connection's entry in the releases before stores (one key space, `c:` + key). */
const LEGACY_PREFIX = 'c:';

/**
 * A changelog record of the releases before stores: `c:<connection key>` → its entry, in the same
 * encodings the connections store reads.
 */
export function legacyAssemblerState(key: string, value: Buffer): LegacyEntry<typeof assemblerStores> {
  if (!key.startsWith(LEGACY_PREFIX))
    throw new Error(`not a connection entry (${LEGACY_PREFIX}<key>): ${key}`);
  return {
    store: 'connections',
    key: key.slice(LEGACY_PREFIX.length),
    value: assemblerStores.connections.codec().decode(value),
  };
}
