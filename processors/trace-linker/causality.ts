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

// The pools the evidence narrows the candidates to: all of them, those on the call's thread, and those
// that reused the call's connection among either.
const ALL = 0;
const THREAD = 1;
const REUSED = 2;
const THREAD_REUSED = 3;

/**
 * The choice made as the containing server spans are found, one at a time, without collecting them: a
 * CLIENT span of a busy process has many candidates, and this runs once per CLIENT span. It keeps, per
 * pool, how many candidates it holds and the best of them (recency, then the tighter span, then the
 * id: a total order, so replays choose alike). Reusable: `reset` starts a new call.
 *
 * Times are numbers: offsets (ns) from any origin common to the call's candidates, exact below 2^53.
 */
export class CausalChooser<R> {
  #tid = 0;
  #connectionKey = '';
  readonly #count = [0, 0, 0, 0];
  readonly #start = [0, 0, 0, 0];
  readonly #end = [0, 0, 0, 0];
  readonly #spanId = ['', '', '', ''];
  readonly #ref: Array<R | undefined> = [undefined, undefined, undefined, undefined];
  readonly #index = [0, 0, 0, 0];

  reset(tid: number, connectionKey: string): void {
    this.#tid = tid;
    this.#connectionKey = connectionKey;
    this.#count.fill(0);
    this.#ref.fill(undefined);
  }

  /** How many containing server spans were added. */
  get containing(): number {
    return this.#count[ALL]!;
  }

  /** A server span that contains the call; `ref` and `index` (where it is) come back with the choice. */
  add(
    startNs: number,
    endNs: number,
    spanId: string,
    tid: number,
    childConns: readonly string[],
    ref: R,
    index: number,
  ): void {
    const sameThread = this.#tid !== 0 && tid === this.#tid;
    const reused = childConns.includes(this.#connectionKey);
    this.#offer(ALL, startNs, endNs, spanId, ref, index);
    if (sameThread) this.#offer(THREAD, startNs, endNs, spanId, ref, index);
    if (reused) this.#offer(REUSED, startNs, endNs, spanId, ref, index);
    if (sameThread && reused) this.#offer(THREAD_REUSED, startNs, endNs, spanId, ref, index);
  }

  #offer(pool: number, startNs: number, endNs: number, spanId: string, ref: R, index: number): void {
    const n = this.#count[pool]!;
    this.#count[pool] = n + 1;
    if (n > 0) {
      const start = this.#start[pool]!;
      const end = this.#end[pool]!;
      const better =
        startNs !== start ? startNs > start : endNs !== end ? endNs < end : spanId < this.#spanId[pool]!;
      if (!better) return;
    }
    this.#start[pool] = startNs;
    this.#end[pool] = endNs;
    this.#spanId[pool] = spanId;
    this.#ref[pool] = ref;
    this.#index[pool] = index;
  }

  /** The cause and the confidence in it, or null when no server span contained the call. */
  choice(): (CausalChoice & { ref: R; index: number }) | null {
    const containing = this.#count[ALL]!;
    if (containing === 0) return null;
    let pool = ALL;
    let reused = REUSED;
    const thread = this.#count[THREAD]!;
    if (thread > 0 && thread < containing) {
      pool = THREAD;
      reused = THREAD_REUSED;
    }
    const r = this.#count[reused]!;
    if (r > 0 && r < this.#count[pool]!) pool = reused;
    const size = this.#count[pool]!;
    let confidence: number;
    if (containing === 1) confidence = CONFIDENCE_SOLE;
    else if (size === 1) confidence = CONFIDENCE_NARROWED;
    else confidence = Math.round((CONFIDENCE_SOLE / size) * 1000) / 1000;
    return {
      spanId: this.#spanId[pool]!,
      confidence,
      containing,
      ref: this.#ref[pool] as R,
      index: this.#index[pool]!,
    };
  }
}

export function chooseCausalParent(
  call: ClientCall,
  candidates: readonly ServerSummary[],
): CausalChoice | null {
  const chooser = new CausalChooser<null>();
  chooser.reset(call.tid, call.connectionKey);
  for (let i = 0; i < candidates.length; i++) {
    const s = candidates[i]!;
    if (!containsCall(s, call)) continue;
    chooser.add(
      Number(s.startNs - call.startNs),
      Number(s.endNs - call.startNs),
      s.spanId,
      s.tid,
      s.childConns,
      null,
      i,
    );
  }
  const choice = chooser.choice();
  return choice === null
    ? null
    : { spanId: choice.spanId, confidence: choice.confidence, containing: choice.containing };
}
