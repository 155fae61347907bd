/**
 * A recorded-shape raw event stream for the span-assembler benchmarks: service-to-service HTTP/1.1 over
 * keep-alive connections, each end captured by its node's collector, as the collector ships it — every
 * syscall's bytes go through the collector's own framer (protocols/http1/framer.ts), which redacts the
 * heads and turns bodies into lengths. Deterministic (a seeded generator), so every run and every
 * scenario of a run sees the same events.
 *
 * Per exchange: the client writes the request, the server reads it, the server writes the response,
 * the client reads it — four DATA events, more when a POST body or a chunked response takes several
 * syscalls. Connections start with OPEN events (connect, accept) and stay open; a tenth of them call
 * a service whose end is not captured (an external API), so only their client side is seen.
 */

import { seededRandom } from '../../lib/seeded-random.ts';
import { Http1Framer } from '../../protocols/http1/framer.ts';
import type { CapturedEvent, Direction } from '../../protocols/http1/types.ts';
import type { L7RawEvent, PayloadSegment } from '../../schemas/types.ts';
import { hex, SERVICES, type Service, WORKLOAD_T0, WorkloadEnd } from './workload-end.ts';

const MS = 1_000_000n;
const US = 1_000n;

export { WORKLOAD_T0 };

export interface WorkloadOptions {
  /** Keep-alive connections (default 200). */
  connections?: number;
  /** Exchanges per connection (default 100). */
  exchangesPerConnection?: number;
  /** Time between two exchanges on one connection (default 50 ms, jittered): 5 s of traffic per connection. */
  gapMs?: number;
  /** All five services on one node (default: three nodes, so calls cross nodes). */
  singleNode?: boolean;
  seed?: number;
}

export interface Workload {
  events: L7RawEvent[];
  exchanges: number;
  connections: number;
  /** DATA events per exchange, on average. */
  dataEventsPerExchange: number;
}

const EXTERNAL: Service = { name: 'api.example.com', node: 'outside', pid: 1, address: '203.0.113.7' };

const latin1 = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

/** One end of an HTTP/1.x connection: its bytes go through the collector's own framer. */
class Side extends WorkloadEnd {
  readonly framer = new Http1Framer();

  constructor(role: 'CLIENT' | 'SERVER', local: Service, localPort: number, peer: Service, peerPort: number) {
    super(role, local, localPort, peer, peerPort, {
      tid: local.pid + 1 + (localPort % 8),
      workloadKind: 'Deployment',
    });
  }

  event(kind: 'OPEN' | 'DATA', ts: bigint, dir?: Direction, wire?: string): L7RawEvent {
    if (kind === 'OPEN') return this.open(ts);
    if (dir === undefined || wire === undefined) throw new Error('a DATA event needs a direction and bytes');
    const buf = latin1(wire);
    // The kernel copies a buffer that starts a message (up to its cap); body buffers travel as counts.
    const startsMessage = /^(GET|POST|PUT|DELETE) |^HTTP\/1\.1 /.test(wire);
    const copied = startsMessage ? buf.slice(0, Math.min(buf.length, 1024)) : new Uint8Array(0);
    const captured: CapturedEvent = {
      direction: dir,
      role: this.role === 'CLIENT' ? 'client' : 'server',
      copied,
      byteCount: buf.length,
      chunkTerminator: !startsMessage && wire.endsWith('\r\n0\r\n\r\n'),
    };
    const segments: PayloadSegment[] = this.framer.push(captured).map((s) => ({
      kind: s.kind === 'head' ? 'HEAD' : s.kind === 'body' ? 'BODY' : 'UNKNOWN',
      length: BigInt(s.length),
      data: s.data === null ? null : Buffer.from(s.data),
      endsMessage: s.endsMessage,
    }));
    const ingress = dir === 'ingress';
    return this.rawEvent({
      kind,
      ts,
      egress: !ingress,
      syscall: ingress ? 'READ' : 'WRITE',
      byteCount: BigInt(buf.length),
      protocol: 'HTTP1',
      segments,
    });
  }
}

/** The events of a keep-alive workload, in time order (as one raw partition would hold them, interleaved). */
export function keepAliveWorkload(options: WorkloadOptions = {}): Workload {
  const rand = seededRandom(options.seed ?? 42);
  const connections = options.connections ?? 200;
  const perConnection = options.exchangesPerConnection ?? 100;
  const gapNs = BigInt(options.gapMs ?? 50) * MS;
  const services = options.singleNode === true ? SERVICES.map((s) => ({ ...s, node: 'node-a' })) : SERVICES;
  const events: L7RawEvent[] = [];
  let dataEvents = 0;
  for (let c = 0; c < connections; c++) {
    const from = services[c % services.length]!;
    const external = c % 10 === 9;
    const to = external ? EXTERNAL : services[(c + 1 + (c % 3)) % services.length]!;
    const clientPort = 40_000 + c;
    const serverPort = external ? 443 : 8080;
    const client = new Side('CLIENT', from, clientPort, to, serverPort);
    const server = external ? null : new Side('SERVER', to, serverPort, from, clientPort);
    let at = WORKLOAD_T0 + BigInt(Math.floor(rand() * 10_000)) * US;
    events.push(client.event('OPEN', at - 200n * US));
    if (server !== null) events.push(server.event('OPEN', at - 150n * US));
    for (let x = 0; x < perConnection; x++) {
      const id = Math.floor(rand() * 100_000);
      const post = rand() < 0.3;
      const traced = rand() < 0.5;
      const status = rand() < 0.03 ? 503 : post ? 201 : 200;
      const chunked = !post && rand() < 0.1;
      const path = post ? `/api/${to.name}` : `/api/${to.name}/${id}?fields=summary&page=${x % 5}`;
      const body = post ? `{"item":${id},"qty":${1 + (id % 4)},"note":"${'x'.repeat(40 + (id % 200))}"}` : '';
      const head =
        `${post ? 'POST' : 'GET'} ${path} HTTP/1.1\r\nHost: ${to.name}:${serverPort}\r\n` +
        `User-Agent: ${from.name}/2.4.1 okhttp/4.12\r\nAccept: application/json\r\n` +
        (traced ? `traceparent: 00-${hex(rand, 32)}-${hex(rand, 16)}-01\r\n` : '') +
        (post ? `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n` : '') +
        `Authorization: Bearer ${hex(rand, 40)}\r\n\r\n`;
      const answer =
        status === 503 ? '{"error":"unavailable"}' : `{"id":${id},"data":"${'y'.repeat(100 + (id % 900))}"}`;
      const responseHead = (extra: string) =>
        `HTTP/1.1 ${status} ${status === 503 ? 'Service Unavailable' : status === 201 ? 'Created' : 'OK'}\r\n` +
        `Content-Type: application/json\r\nDate: Tue, 01 Dec 2026 10:00:00 GMT\r\nServer: ${to.name}\r\n${extra}\r\n`;
      // The request: head and body in one write, or (large POSTs) in two.
      const requestWrites = post && body.length > 150 ? [head, body] : [head + body];
      const responseWrites = chunked
        ? [
            responseHead('Transfer-Encoding: chunked\r\n'),
            `${answer.length.toString(16)}\r\n${answer}\r\n`,
            '0\r\n\r\n',
          ]
        : [responseHead(`Content-Length: ${answer.length}\r\n`) + answer];
      const latency = BigInt(300 + Math.floor(rand() * 4_000)) * US;
      requestWrites.forEach((w, i) => {
        const t = at + BigInt(i) * 20n * US;
        events.push(client.event('DATA', t, 'egress', w));
        if (server !== null) events.push(server.event('DATA', t + 50n * US, 'ingress', w));
        dataEvents += server === null ? 1 : 2;
      });
      responseWrites.forEach((w, i) => {
        const t = at + latency + BigInt(i) * 30n * US;
        if (server !== null) events.push(server.event('DATA', t, 'egress', w));
        events.push(client.event('DATA', t + 60n * US, 'ingress', w));
        dataEvents += server === null ? 1 : 2;
      });
      at += gapNs + BigInt(Math.floor(rand() * 2_000)) * US;
    }
  }
  events.sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0));
  const exchanges = connections * perConnection;
  return { events, exchanges, connections, dataEventsPerExchange: dataEvents / exchanges };
}

/**
 * The events as collectors ship them: each node's collector sends what it captured every linger
 * (`windowMs`), so a partition receives, per window, one batch of each node's events, in capture order
 * within it. Returns the groups in that order, each with the index of its first event in `events`.
 */
export function collectorBatches(
  events: readonly L7RawEvent[],
  windowMs = 20,
): Array<{ first: number; events: L7RawEvent[] }> {
  const windowNs = BigInt(windowMs) * MS;
  const out: Array<{ first: number; events: L7RawEvent[] }> = [];
  let i = 0;
  while (i < events.length) {
    const window = events[i]!.timeUnixNano / windowNs;
    const byNode = new Map<string, { first: number; events: L7RawEvent[] }>();
    for (; i < events.length && events[i]!.timeUnixNano / windowNs === window; i++) {
      const ev = events[i]!;
      let group = byNode.get(ev.node);
      if (group === undefined) {
        group = { first: i, events: [] };
        byNode.set(ev.node, group);
      }
      group.events.push(ev);
    }
    out.push(...byNode.values());
  }
  return out;
}
