/**
 * How many causes a call of a process can have, known on the node the moment the call ends — so the
 * trace linker can decide a CLIENT span's parent as soon as those causes have arrived, instead of
 * waiting `causalityWaitMs` for every call (docs/tracing.md, "Latency").
 *
 * The linker's rule (PROCESS_CAUSALITY) takes as candidates the SERVER spans of the same process that
 * contain the call: a request read before the call was written, its response written after the call's
 * response was read. The collector sees every syscall of the node in one ordered stream, so it knows,
 * for each process, which server exchanges are open at any moment: the candidates of a call are exactly
 * the server exchanges open when the call started that are still open when it ends. Their number is
 * the hint; the spans themselves arrive later (a server span ends after the calls it made), and once
 * the linker holds that many containing spans the set is complete and its choice is the one it would
 * have made after any wait.
 *
 * A hint is only given when it can be trusted: not after a loss on the process (events may be missing),
 * not for a process with server traffic the HTTP/1 framer does not follow (HTTP/2, tunnels), not when
 * a response ended that was never seen to start (a connection older than the capture). The linker
 * then falls back to its timer. Memory is bounded by the open exchanges of live processes.
 */

/** Open exchanges of one connection, oldest first (pipelined requests are answered in order). */
interface ConnExchanges {
  readonly role: 'client' | 'server';
  /** Server: ids of open exchanges. Client: per open call, the server exchanges open at its start. */
  readonly open: Array<number | CallSnapshot>;
}

interface CallSnapshot {
  /** Server exchanges of the process open when the call started. */
  readonly serving: readonly number[];
  /** The process's loss epoch then: a loss since means the count may be wrong. */
  readonly epoch: number;
}

interface ProcessExchanges {
  /** Server exchanges open now, by id. */
  readonly serving: Set<number>;
  readonly conns: Map<number, ConnExchanges>;
  /** Increases at every event that makes the counts unreliable (loss, an unseen start). */
  epoch: number;
  /** Server traffic the tracker cannot follow: no hint for this process while true. */
  untracked: boolean;
}

/** Calls waiting for a response per connection at most (deeper pipelines give no hint). */
const MAX_OPEN_CALLS = 64;
/** Server exchanges in a snapshot at most (a busier process gives no hint). */
const MAX_SNAPSHOT = 256;

export class CausalityHints {
  readonly #processes = new Map<number, ProcessExchanges>();
  #nextId = 1;

  #process(tgid: number): ProcessExchanges {
    let p = this.#processes.get(tgid);
    if (p === undefined) {
      p = { serving: new Set(), conns: new Map(), epoch: 0, untracked: false };
      this.#processes.set(tgid, p);
    }
    return p;
  }

  #conn(p: ProcessExchanges, connId: number, role: 'client' | 'server'): ConnExchanges {
    let c = p.conns.get(connId);
    if (c === undefined || c.role !== role) {
      if (c !== undefined) this.#drop(p, c);
      c = { role, open: [] };
      p.conns.set(connId, c);
    }
    return c;
  }

  #drop(p: ProcessExchanges, c: ConnExchanges): void {
    if (c.role === 'server') for (const id of c.open) p.serving.delete(id as number);
  }

  /** Requests read on a server connection: exchanges open from now. */
  serverRequests(tgid: number, connId: number, n: number): void {
    if (n <= 0) return;
    const p = this.#process(tgid);
    const c = this.#conn(p, connId, 'server');
    for (let i = 0; i < n; i++) {
      const id = this.#nextId++;
      c.open.push(id);
      p.serving.add(id);
    }
  }

  /** Final responses written on a server connection: the oldest open exchanges end. */
  serverResponsesEnded(tgid: number, connId: number, n: number): void {
    if (n <= 0) return;
    const p = this.#process(tgid);
    const c = this.#conn(p, connId, 'server');
    for (let i = 0; i < n; i++) {
      const id = c.open.shift();
      if (id === undefined) {
        // A response whose request was never seen: the capture began mid-exchange somewhere.
        p.epoch++;
        return;
      }
      p.serving.delete(id as number);
    }
  }

  /** Requests written on a client connection: calls that start now. */
  clientRequests(tgid: number, connId: number, n: number): void {
    if (n <= 0) return;
    const p = this.#process(tgid);
    const c = this.#conn(p, connId, 'client');
    for (let i = 0; i < n; i++) {
      if (c.open.length >= MAX_OPEN_CALLS || p.serving.size > MAX_SNAPSHOT) {
        c.open.push({ serving: [], epoch: -1 });
        continue;
      }
      c.open.push({ serving: [...p.serving], epoch: p.epoch });
    }
  }

  /**
   * Final responses read on a client connection: the oldest calls end. Returns, per call ended, the
   * number of server exchanges open both when it started and now (its possible causes), or null where
   * that number cannot be trusted.
   */
  clientResponsesEnded(tgid: number, connId: number, n: number): Array<number | null> {
    if (n <= 0) return [];
    const p = this.#process(tgid);
    const c = this.#conn(p, connId, 'client');
    const out: Array<number | null> = [];
    for (let i = 0; i < n; i++) {
      const call = c.open.shift() as CallSnapshot | undefined;
      if (call === undefined || call.epoch !== p.epoch || p.untracked) {
        out.push(null);
        continue;
      }
      let causes = 0;
      for (const id of call.serving) if (p.serving.has(id)) causes++;
      out.push(causes);
    }
    return out;
  }

  /** Events may be missing on this process from here: counts taken before are unreliable. */
  lost(tgid: number): void {
    const p = this.#processes.get(tgid);
    if (p !== undefined) p.epoch++;
  }

  /** The process serves traffic the framer does not follow (another protocol): no hints for it. */
  untracked(tgid: number): void {
    this.#process(tgid).untracked = true;
  }

  /** The connection is gone (closed, evicted): its open exchanges end without a response. */
  closed(tgid: number, connId: number): void {
    const p = this.#processes.get(tgid);
    const c = p?.conns.get(connId);
    if (p === undefined || c === undefined) return;
    this.#drop(p, c);
    p.conns.delete(connId);
    // An exchange ended by a close is still a possible cause of calls open across it, but the linker
    // sees its (incomplete) span end at the close: counting it out keeps the two views the same.
    if (p.conns.size === 0) this.#processes.delete(tgid);
  }

  /** Processes tracked now (for tests and metrics). */
  get processes(): number {
    return this.#processes.size;
  }
}
