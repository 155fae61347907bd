/**
 * Runs one capture side's HTTP/2 stream pairing (protocols/http2 `Http2StreamPairer`) from the side's
 * partition state, as side-reader.ts does for HTTP/1.x. The collector already decoded and redacted the
 * header blocks (HPACK needs the whole connection in order, which only the node sees), so what arrives
 * here are stream events (`L7RawEvent.h2`): this side pairs them by stream id and turns each exchange
 * into a span (http2-span-builder.ts).
 *
 * What HTTP/2 changes for linking the two ends of a connection: both ends number its streams alike
 * (RFC 9113 §5.1.1), so a SERVER span without a traceparent claims the CLIENT request of the same stream
 * id at the other end — exactly that one, whatever order concurrent streams end in — where HTTP/1.x
 * relies on requests being answered in order. A client request's span id is its traceparent's parent-id
 * (W3C Trace Context), else a hash of the connection, the side and the stream id, which both ends can
 * compute as soon as the request is seen.
 *
 * The pairer works on the side's state object in place (`adoptPairer`): the span assembler's partition
 * state is live, so there is nothing to copy per event.
 */
import {
  fieldValue,
  HTTP2_PROTOCOL,
  type Http2Exchange,
  type Http2Field,
  type Http2Sender,
  type Http2StreamEvent,
} from '../../protocols/http2/index.ts';
import type { Http2Event, Span, SpanKind } from '../../schemas/types.ts';
import type { RouteTemplater } from '../shared/route-template.ts';
import { deterministicSpanId } from '../shared/span-ids.ts';
import { parseTraceparent } from '../shared/trace-context.ts';
import { buildHttp2Span } from './http2-span-builder.ts';
import type { SideOp } from './side-reader.ts';
import type { Dir, HeldSpan, SideState } from './state.ts';

/** The stream events of one raw event of an HTTP/2 connection. */
export interface H2EventsOp {
  op: 'h2';
  /** The raw event's time; each stream event adds its `offsetNs`. */
  ts: bigint;
  dir: Dir;
  tid: number;
  events: readonly Http2Event[];
}

/** More streams open on the side than it may hold: the `count` oldest end now, as timeouts. */
export interface H2OverflowOp {
  op: 'h2-overflow';
  count: number;
}

/** A request a side sent or received, when its header block was seen. */
export interface H2Request {
  streamId: number;
  method: string;
  path: string;
  startNs: bigint;
  traceparent: string | null;
}

export interface H2Run {
  exchanges: Http2Exchange[];
  /** Requests whose header block the run saw, in order. */
  requests: H2Request[];
  /** Header blocks whose sender could not be told; events of streams that had ended; gaps. */
  unattributed: number;
  late: number;
  gaps: number;
}

/**
 * The header fields a span is made of (http2-span-builder.ts, h2HeldSpan): an open stream keeps only
 * these in the side's state. A gRPC client can have hundreds of streams open on one connection, and
 * the fields nothing reads (te, grpc-accept-encoding, custom metadata...) would make most of it.
 */
const SPAN_FIELDS: ReadonlySet<string> = new Set([
  ':method',
  ':path',
  ':authority',
  ':status',
  'content-type',
  'user-agent',
  'traceparent',
  'tracestate',
  'grpc-status',
  'grpc-message',
]);

function spanFields(fields: readonly Http2Field[]): readonly Http2Field[] {
  let keep = 0;
  for (const f of fields) if (f.name !== null && SPAN_FIELDS.has(f.name)) keep++;
  if (keep === fields.length) return fields;
  const out: Http2Field[] = [];
  for (const f of fields) if (f.name !== null && SPAN_FIELDS.has(f.name)) out.push(f);
  return out;
}

const SENDERS: Record<Http2Event['sender'], Http2Sender> = {
  CLIENT: 'client',
  SERVER: 'server',
  UNKNOWN: 'unknown',
};

/** Whether the side has an HTTP/2 stream open (timeouts have work to do). */
export function h2HasOpen(side: SideState): boolean {
  return side.h2 != null && side.h2.streams.length > 0;
}

/** The sender of an event: as the collector said, else from the side's role and the direction. */
function senderOf(side: SideState, dir: Dir, e: Http2Event): Http2Sender {
  const said = SENDERS[e.sender];
  if (said !== 'unknown' || side.role === 'UNKNOWN') return said;
  // The client writes requests: egress on a CLIENT side, ingress on a SERVER side.
  return (dir === 'egress') === (side.role === 'CLIENT') ? 'client' : 'server';
}

/** A role the collector could not say, from who sent a direction's events (or their pseudo-headers). */
function inferRole(side: SideState, dir: Dir, sender: Http2Sender, fields: readonly Http2Field[]): void {
  let s = sender;
  if (s === 'unknown') {
    for (const f of fields) {
      if (f.name === ':method') s = 'client';
      else if (f.name === ':status') s = 'server';
    }
  }
  if (s === 'unknown') return;
  side.role = (dir === 'egress') === (s === 'client') ? 'CLIENT' : 'SERVER';
  side.roleInferred = true;
}

function toStreamEvent(e: Http2Event, ts: bigint, dir: Dir, sender: Http2Sender): Http2StreamEvent {
  const tsNs = e.offsetNs === 0n ? ts : ts + e.offsetNs;
  switch (e.kind) {
    case 'HEADERS':
      return {
        kind: 'headers',
        tsNs,
        direction: dir,
        sender,
        streamId: e.streamId,
        endStream: e.endStream,
        fields: spanFields(e.fields),
        unresolved: e.unresolved,
        hpackError: e.hpackError as never,
        lost: e.lost as never,
        redactions: 0,
        ...(e.promisedStreamId === null ? {} : { promisedStreamId: e.promisedStreamId }),
      };
    case 'DATA':
      return {
        kind: 'data',
        tsNs,
        direction: dir,
        sender,
        streamId: e.streamId,
        length: e.length,
        endStream: e.endStream,
        grpcMessages: e.grpcMessages,
        grpcMessagesExact: e.grpcMessagesExact,
      };
    case 'RST_STREAM':
      return {
        kind: 'rst-stream',
        tsNs,
        direction: dir,
        sender,
        streamId: e.streamId,
        errorCode: Number(e.errorCode),
      };
    case 'GOAWAY':
      return {
        kind: 'goaway',
        tsNs,
        direction: dir,
        sender,
        lastStreamId: e.streamId,
        errorCode: Number(e.errorCode),
      };
    default:
      return { kind: 'gap', tsNs, direction: dir, sender, reason: (e.reason ?? 'truncated') as never };
  }
}

/** Applies `ops` to the side's HTTP/2 pairer (HTTP/1.x `data` ops are not its); updates the side. */
export function runH2Side(side: SideState, ops: ReadonlyArray<H2EventsOp | H2OverflowOp | SideOp>): H2Run {
  const run: H2Run = { exchanges: [], requests: [], unattributed: 0, late: 0, gaps: 0 };
  let state = side.h2;
  if (state == null) {
    if (!ops.some((o) => o.op === 'h2')) return run;
    state = { streams: [], ended: [] };
    side.h2 = state;
  }
  const pairer = HTTP2_PROTOCOL.adoptPairer(state);
  const out = run.exchanges;
  for (const op of ops) {
    switch (op.op) {
      case 'h2':
        for (const e of op.events) {
          let sender = senderOf(side, op.dir, e);
          if (side.role === 'UNKNOWN' && e.kind !== 'GAP') {
            inferRole(side, op.dir, sender, e.fields);
            sender = senderOf(side, op.dir, e);
          }
          const ev = toStreamEvent(e, op.ts, op.dir, sender);
          if (ev.kind === 'gap') run.gaps++;
          else if (ev.kind === 'headers' && sender === 'client' && e.promisedStreamId === null) {
            const method = fieldValue(e.fields, ':method');
            if (method !== null) {
              run.requests.push({
                streamId: e.streamId,
                method,
                path: fieldValue(e.fields, ':path') ?? '',
                startNs: ev.tsNs,
                traceparent: fieldValue(e.fields, 'traceparent'),
              });
            }
          }
          for (const x of pairer.push(ev, op.tid)) out.push(x);
        }
        break;
      case 'expire':
        for (const x of pairer.expire(op.now, op.timeout)) out.push(x);
        break;
      case 'h2-overflow':
        for (const x of pairer.expireOldest(op.count)) out.push(x);
        break;
      case 'close':
        for (const x of pairer.close(op.at)) out.push(x);
        break;
      default:
        break;
    }
  }
  pairer.toState();
  run.unattributed = pairer.counters.unattributed;
  run.late = pairer.counters.late;
  return run;
}

/** The span id of the request on `streamId`: its traceparent's parent-id on the CLIENT side, else a hash. */
export function h2RequestSpanId(
  key: string,
  side: SideState,
  kind: SpanKind,
  streamId: number,
  traceparent: string | null,
): string {
  if (kind === 'CLIENT') {
    const tp = parseTraceparent(traceparent);
    if (tp !== null) return tp.parentId;
  }
  return deterministicSpanId([key, side.id, side.epochNs, kind, 'h2', streamId]);
}

/** The span kind of the side's exchanges (its role is known by the time one ends: see inferRole). */
export function h2SpanKind(side: SideState): SpanKind {
  return side.role === 'CLIENT' ? 'CLIENT' : 'SERVER';
}

/**
 * The span of one exchange, with its linking prepared as for HTTP/1.x (assembler.ts applyTraceContext):
 * a traceparent makes a SERVER span its child and names a CLIENT span; without one, a SERVER span waits
 * to claim the CLIENT request of its stream at the other end of the connection.
 */
export function h2HeldSpan(
  key: string,
  side: SideState,
  x: Http2Exchange,
  templater: RouteTemplater,
  nowMs: number,
): HeldSpan {
  const kind = h2SpanKind(side);
  const headers = x.request?.headers ?? null;
  const traceparent = fieldValue(headers, 'traceparent');
  const spanId =
    x.request === null
      ? deterministicSpanId([key, side.id, side.epochNs, kind, 'h2-orphan', x.streamId])
      : h2RequestSpanId(key, side, kind, x.streamId, traceparent);
  const span: Span = buildHttp2Span(x, side, { spanId, kind, tid: x.tag ?? 0 }, key, templater);
  const h: HeldSpan = {
    span,
    sideId: side.id,
    needsParent: false,
    request: null,
    claimed: false,
    parentNode: null,
    // The causality hints count HTTP/1.x exchanges only: none for HTTP/2 calls.
    causalCandidates: null,
    heldAtMs: nowMs,
  };
  if (x.request === null) return h;
  const tp = parseTraceparent(traceparent);
  if (tp !== null) {
    span.traceId = tp.traceId;
    span.traceState = fieldValue(headers, 'tracestate');
    if (kind === 'SERVER') {
      span.parentSpanId = tp.parentId;
      span.link = { method: 'TRACEPARENT', confidence: 1 };
    }
  } else if (kind === 'SERVER') {
    h.needsParent = true;
  }
  if (kind === 'SERVER') {
    h.request = {
      method: x.method ?? '',
      path: x.path ?? '',
      startNs: x.request.startNs,
      streamId: x.streamId,
    };
  }
  return h;
}
