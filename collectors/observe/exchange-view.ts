/**
 * `meshpipe observe`: raw events (the very ones the collector would ship: redacted, minimised) back to
 * HTTP exchanges, per capture side, with protocols/http1's message readers and exchange pairer — the
 * span assembler's logic, on one node and without Kafka.
 *
 * One row per exchange and side: a request between two pods on this node shows twice, as the client
 * saw it and as the server saw it (like `hubble observe` shows both ends). Latency is from the syscall
 * that carried the request's first bytes to the one that carried the response's last bytes, on that
 * side: the client's includes the network, the server's is its own time.
 */

import type { Http1ExchangePairer } from '../../protocols/http1/exchange-pairer.ts';
import { HTTP1_PROTOCOL } from '../../protocols/http1/index.ts';
import type { Http1MessageReader } from '../../protocols/http1/message-reader.ts';
import type { Http1Exchange, Segment } from '../../protocols/http1/types.ts';
import type { L7RawEvent } from '../../schemas/types.ts';
import { isLoopback } from '../build/connection-key.ts';

export interface ExchangeRow {
  /** Start of the exchange (the request's first bytes; the response's for an orphan response). */
  timeUnixNano: bigint;
  node: string;
  side: 'client' | 'server' | 'unknown';
  pod: string | null;
  service: string;
  namespace: string | null;
  process: { pid: number; comm: string };
  local: { address: string; port: number };
  peer: { address: string; port: number; pod: string | null };
  method: string | null;
  /** Path of the request target (redacted like everything shipped). */
  path: string | null;
  /** The whole request target, query included (redacted). */
  target: string | null;
  status: number | null;
  latencyMs: number | null;
  requestBytes: number | null;
  responseBytes: number | null;
  complete: boolean;
  incompleteReason: string | null;
  connection: string;
}

interface Side {
  readonly egress: Http1MessageReader;
  readonly ingress: Http1MessageReader;
  readonly pairer: Http1ExchangePairer;
  /** The last event of the side: identity and addresses for its rows. */
  last: L7RawEvent;
}

export interface ExchangeViewOptions {
  /** A request with no response for this long is shown as incomplete (`timeout`). Default 30 s. */
  timeoutMs?: number;
  /** Sides tracked at most (the oldest is dropped). Default 65536. */
  maxSides?: number;
}

const MAX_PEER_ADDRESSES = 65_536;

export class ExchangeView {
  readonly #sides = new Map<string, Side>();
  /** Pod of each non-loopback address seen as a local address here: names the peers. */
  readonly #podOfAddress = new Map<string, string>();
  readonly #timeoutNs: bigint;
  readonly #maxSides: number;

  constructor(options: ExchangeViewOptions = {}) {
    this.#timeoutNs = BigInt(options.timeoutMs ?? 30_000) * 1_000_000n;
    this.#maxSides = options.maxSides ?? 65_536;
  }

  /** Consumes one raw event; returns the exchanges it completed. */
  push(ev: L7RawEvent): ExchangeRow[] {
    this.#learnAddress(ev);
    const id = `${ev.process.pid}/${ev.connection.id}`;
    if (ev.kind === 'CONNECT_FAILED' || ev.kind === 'OPEN') return [];
    let side = this.#sides.get(id);
    if (ev.kind === 'CLOSE') {
      if (side === undefined) return [];
      this.#sides.delete(id);
      side.last = ev;
      const at = ev.timeUnixNano;
      const messages = [...side.egress.close(at), ...side.ingress.close(at)].sort((a, b) =>
        a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0,
      );
      const out: Http1Exchange[] = [];
      for (const m of messages) out.push(...side.pairer.push(m));
      out.push(...side.pairer.close(at));
      return out.map((x) => this.#row(side!, x));
    }
    if (side === undefined) {
      if (this.#sides.size >= this.#maxSides) this.#sides.delete(this.#sides.keys().next().value!);
      side = {
        egress: HTTP1_PROTOCOL.createMessageReader(),
        ingress: HTTP1_PROTOCOL.createMessageReader(),
        pairer: HTTP1_PROTOCOL.createPairer(),
        last: ev,
      };
      this.#sides.set(id, side);
    }
    side.last = ev;
    if (ev.direction === 'NONE') return [];
    const reader = ev.direction === 'EGRESS' ? side.egress : side.ingress;
    const exchanges: Http1Exchange[] = [];
    for (const m of reader.push(ev.timeUnixNano, toSegments(ev))) exchanges.push(...side.pairer.push(m));
    return exchanges.map((x) => this.#row(side!, x));
  }

  /** Exchanges that waited past the timeout by `nowNs` (wall clock, Unix ns). */
  expire(nowNs: bigint): ExchangeRow[] {
    const rows: ExchangeRow[] = [];
    for (const side of this.#sides.values()) {
      for (const m of [
        ...side.egress.expire(nowNs, this.#timeoutNs),
        ...side.ingress.expire(nowNs, this.#timeoutNs),
      ])
        for (const x of side.pairer.push(m)) rows.push(this.#row(side, x));
      for (const x of side.pairer.expire(nowNs, this.#timeoutNs)) rows.push(this.#row(side, x));
    }
    return rows;
  }

  #learnAddress(ev: L7RawEvent): void {
    const pod = ev.workload.pod;
    const address = ev.connection.localAddress;
    if (pod === null || isLoopback(address) || this.#podOfAddress.get(address) === pod) return;
    if (this.#podOfAddress.size >= MAX_PEER_ADDRESSES) this.#podOfAddress.clear();
    this.#podOfAddress.set(address, pod);
  }

  #row(side: Side, x: Http1Exchange): ExchangeRow {
    const ev = side.last;
    const c = ev.connection;
    const request = x.request;
    const response = x.response;
    const start = request?.startNs ?? response?.startNs ?? x.startNs;
    const end = response?.endNs ?? null;
    return {
      timeUnixNano: start,
      node: ev.node,
      side: c.role === 'CLIENT' ? 'client' : c.role === 'SERVER' ? 'server' : 'unknown',
      pod: ev.workload.pod,
      service: ev.workload.service,
      namespace: ev.workload.namespace,
      process: { pid: ev.process.pid, comm: ev.process.comm },
      local: { address: c.localAddress, port: c.localPort },
      peer: {
        address: c.peerAddress,
        port: c.peerPort,
        pod: isLoopback(c.peerAddress) ? ev.workload.pod : (this.#podOfAddress.get(c.peerAddress) ?? null),
      },
      method: request?.head.method ?? null,
      path: request?.head.path ?? null,
      target: request?.head.target ?? null,
      status: response?.head.statusCode ?? null,
      latencyMs: request !== undefined && end !== null ? Number(end - start) / 1e6 : null,
      requestBytes: request?.wireBytes ?? null,
      responseBytes: response?.wireBytes ?? null,
      complete: x.complete,
      incompleteReason: x.incompleteReason ?? null,
      connection: c.key,
    };
  }
}

function toSegments(ev: L7RawEvent): Segment[] {
  return ev.segments.map((s) => ({
    kind: s.kind === 'HEAD' ? 'head' : s.kind === 'BODY' ? 'body' : 'unknown',
    length: Number(s.length),
    data: s.data,
    endsMessage: s.endsMessage,
  }));
}
