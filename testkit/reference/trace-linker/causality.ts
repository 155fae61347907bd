/**
 * Which SERVER span of a process caused one of its CLIENT calls? A process that serves a request and
 * calls another service to do so reads the request (server span start), writes its call (client
 * start), reads the answer (client end), writes its response (server end), all on one node's clock: so
 * the cause contains the call. Among several containing server spans (a process serving requests
 * concurrently) the evidence, strongest first:
 * 1. the same thread: thread-per-request servers make their calls on the thread that read the
 *    request (event-loop servers have one thread for everything, where this tells nothing);
 * 2. connection reuse: a handler making several calls reuses its keep-alive connection;
 * 3. recency: the server span that started last is the one most likely still being worked on.
 * The confidence says how much evidence there was; it drops with every candidate left undecided.
 * Candidates from other processes never reach this function (they are not in the process's buckets).
 */
import type { ServerSummary } from './state.ts';

export interface ClientCall {
  startNs: bigint;
  endNs: bigint;
  tid: number;
  connectionKey: string;
}

export interface CausalChoice {
  spanId: string;
  confidence: number;
  /** How many server spans contained the call. */
  containing: number;
}

/** One containing server span and nothing else to choose from. */
export const CONFIDENCE_SOLE = 0.9;
/** Several contained the call; thread or connection evidence left one. */
export const CONFIDENCE_NARROWED = 0.8;

export function containsCall(s: ServerSummary, c: ClientCall): boolean {
  return s.startNs <= c.startNs && c.endNs <= s.endNs;
}

export function chooseCausalParent(
  call: ClientCall,
  candidates: readonly ServerSummary[],
): CausalChoice | null {
  const containing = candidates.filter((s) => containsCall(s, call));
  if (containing.length === 0) return null;
  let pool = containing;
  if (call.tid !== 0) {
    const sameThread = pool.filter((s) => s.tid === call.tid);
    if (sameThread.length > 0 && sameThread.length < pool.length) pool = sameThread;
  }
  const reused = pool.filter((s) => s.childConns.includes(call.connectionKey));
  if (reused.length > 0 && reused.length < pool.length) pool = reused;
  // Recency, then the tighter span, then the id: a total order, so replays choose alike.
  const best = [...pool].sort((a, b) =>
    a.startNs !== b.startNs
      ? a.startNs > b.startNs
        ? -1
        : 1
      : a.endNs !== b.endNs
        ? a.endNs < b.endNs
          ? -1
          : 1
        : a.spanId < b.spanId
          ? -1
          : 1,
  )[0]!;
  let confidence: number;
  if (containing.length === 1) confidence = CONFIDENCE_SOLE;
  else if (pool.length === 1) confidence = CONFIDENCE_NARROWED;
  else confidence = Math.round((CONFIDENCE_SOLE / pool.length) * 1000) / 1000;
  return { spanId: best.spanId, confidence, containing: containing.length };
}
