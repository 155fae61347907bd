/**
 * The gRPC counterpart of workload.ts, for comparing the span assembler's HTTP/2 path with its
 * HTTP/1.x path: unary calls on long-lived HTTP/2 connections between the same services, both ends
 * captured, as the collector ships them (`protocol: HTTP2`, stream events decoded and redacted on the
 * node: collectors/build/http2-connection.ts).
 *
 * Per call, each end sees what grpc-js writes and reads: the request (HEADERS + DATA with END_STREAM) in
 * one syscall, the response (HEADERS, DATA, trailers with END_STREAM) in one syscall — two raw events per
 * end, like an HTTP/1.x exchange without a split body. Several calls are in flight per connection (stream
 * ids 1, 3, 5...), half carry a traceparent, 3% fail with UNAVAILABLE. Header fields are those grpc-js
 * sends. Deterministic (seeded).
 */
import { seededRandom } from '../../lib/seeded-random.ts';
import type { Http2Event, Http2HeaderField, L7RawEvent } from '../../schemas/types.ts';
import type { Workload } from './workload.ts';
import { hex, SERVICES, type Service, WORKLOAD_T0, WorkloadEnd } from './workload-end.ts';

const MS = 1_000_000n;
const US = 1_000n;

const field = (name: string, value: string): Http2HeaderField => ({ name, value });

function h2(
  kind: Http2Event['kind'],
  sender: 'CLIENT' | 'SERVER',
  streamId: number,
  o: Partial<Http2Event>,
): Http2Event {
  return {
    kind,
    sender,
    streamId,
    offsetNs: 0n,
    endStream: false,
    fields: [],
    unresolved: 0,
    hpackError: null,
    lost: null,
    promisedStreamId: null,
    length: 0,
    grpcMessages: 0,
    grpcMessagesExact: true,
    errorCode: 0n,
    reason: null,
    ...o,
  };
}

/** One end of a gRPC connection: HTTP/2 stream events decoded on the node, one syscall per message. */
class Side extends WorkloadEnd {
  constructor(role: 'CLIENT' | 'SERVER', local: Service, localPort: number, peer: Service, peerPort: number) {
    super(role, local, localPort, peer, peerPort, { tid: local.pid, workloadKind: null });
  }

  event(
    kind: 'OPEN' | 'DATA',
    ts: bigint,
    egress?: boolean,
    byteCount = 0,
    events: Http2Event[] = [],
  ): L7RawEvent {
    if (kind === 'OPEN') return this.open(ts);
    return this.rawEvent({
      kind,
      ts,
      egress,
      syscall: egress ? 'WRITEV' : 'READ',
      byteCount: BigInt(byteCount),
      protocol: 'HTTP2',
      h2: events,
    });
  }
}

/** Unary gRPC calls, `callsPerConnection` per connection, `inFlight` of them overlapping. */
export function grpcWorkload(
  options: { connections?: number; callsPerConnection?: number; inFlight?: number; seed?: number } = {},
): Workload {
  const rand = seededRandom(options.seed ?? 42);
  const connections = options.connections ?? 200;
  const perConnection = options.callsPerConnection ?? 100;
  const inFlight = options.inFlight ?? 4;
  const events: L7RawEvent[] = [];
  for (let c = 0; c < connections; c++) {
    const from = SERVICES[c % SERVICES.length]!;
    const to = SERVICES[(c + 1 + (c % 3)) % SERVICES.length]!;
    const client = new Side('CLIENT', from, 40_000 + c, to, 9090);
    const server = new Side('SERVER', to, 9090, from, 40_000 + c);
    const service = `shop.${to.name}.v1.${to.name[0]!.toUpperCase()}${to.name.slice(1)}`;
    let at = WORKLOAD_T0 + BigInt(Math.floor(rand() * 10_000)) * US;
    events.push(client.event('OPEN', at - 200n * US), server.event('OPEN', at - 150n * US));
    for (let x = 0; x < perConnection; x++) {
      const streamId = 2 * x + 1;
      const method = ['Get', 'List', 'Reserve', 'Update'][x % 4]!;
      const failed = rand() < 0.03;
      const request: Http2HeaderField[] = [
        field(':method', 'POST'),
        field(':scheme', 'http'),
        field(':path', `/${service}/${method}`),
        field(':authority', `${to.name}:9090`),
        field('grpc-accept-encoding', 'identity,deflate,gzip'),
        field('accept-encoding', 'identity'),
        field('grpc-timeout', '29999m'),
        field('content-type', 'application/grpc'),
        field('user-agent', 'grpc-node-js/1.14.3'),
        field('te', 'trailers'),
        field('authorization', '[REDACTED]'),
      ];
      if (rand() < 0.5) request.push(field('traceparent', `00-${hex(rand, 32)}-${hex(rand, 16)}-01`));
      const requestBytes = 30 + Math.floor(rand() * 200);
      const responseBytes = 50 + Math.floor(rand() * 900);
      const requestEvents = [
        h2('HEADERS', 'CLIENT', streamId, { fields: request }),
        h2('DATA', 'CLIENT', streamId, { length: requestBytes, endStream: true, grpcMessages: 1 }),
      ];
      const responseEvents = [
        h2('HEADERS', 'SERVER', streamId, {
          fields: [
            field(':status', '200'),
            field('content-type', 'application/grpc'),
            field('grpc-accept-encoding', 'identity,deflate,gzip'),
          ],
        }),
        h2('DATA', 'SERVER', streamId, { length: failed ? 0 : responseBytes, grpcMessages: failed ? 0 : 1 }),
        h2('HEADERS', 'SERVER', streamId, {
          endStream: true,
          fields: failed
            ? [field('grpc-status', '14'), field('grpc-message', 'upstream%20unavailable')]
            : [field('grpc-status', '0'), field('grpc-message', '')],
        }),
      ];
      const latency = BigInt(300 + Math.floor(rand() * 4_000)) * US;
      const wire = (n: number) => n + 9 * 3 + 120;
      events.push(client.event('DATA', at, true, wire(requestBytes), requestEvents));
      events.push(server.event('DATA', at + 50n * US, false, wire(requestBytes), requestEvents));
      events.push(server.event('DATA', at + latency, true, wire(responseBytes), responseEvents));
      events.push(client.event('DATA', at + latency + 60n * US, false, wire(responseBytes), responseEvents));
      // The next call starts before this one ends when `inFlight` overlap: 50 ms apart per slot.
      at += (50n * MS) / BigInt(inFlight) + BigInt(Math.floor(rand() * 2_000)) * US;
    }
  }
  events.sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0));
  const exchanges = connections * perConnection;
  return { events, exchanges, connections, dataEventsPerExchange: 4 };
}
