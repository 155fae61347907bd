/**
 * The collector's side of one HTTP/2 connection (h2c, gRPC): the kernel's records of both directions
 * in, the `h2` stream events of raw events out (schemas/l7-raw-event.avsc, `Http2Event`).
 *
 *   DATA record (MP_F_H2; layout by MP_F_H2_ELIDED / MP_F_H2_FRAME_START) ─► Http2ConnectionDecoder
 *     (frame readers, HPACK per direction, redaction, gRPC message counts) ─► Http2Event[]
 *
 * HPACK decoding and redaction happen here because this is the only place that sees every header block
 * of a connection in order (the table is stateful), and because nothing unredacted may leave the node:
 * raw header blocks and DATA payloads are never shipped, only decoded, redacted fields and lengths.
 * What cannot be decoded is said, never guessed (protocols/http2/README.md): unresolved fields, lost
 * blocks and gaps travel with the events and are counted here.
 */
import {
  type ConnectionDecoderOptions,
  Http2ConnectionDecoder,
  type Http2StreamEvent,
} from '../../protocols/http2/index.ts';
import type { Http2Event, Http2EventSender, Http2HeaderField } from '../../schemas/types.ts';
import type { DataRecord, RoleName } from '../capture/loader/record-decoder.ts';
import { Flag } from '../capture/loader/record-layout.ts';

/** What the collector configures for every HTTP/2 connection (one object, shared). */
export type Http2ConnectionOptions = Omit<ConnectionDecoderOptions, 'midway'>;

const SENDERS: Record<string, Http2EventSender> = {
  client: 'CLIENT',
  server: 'SERVER',
  unknown: 'UNKNOWN',
};
const NO_FIELDS: Http2HeaderField[] = [];

/** Whether a DATA record belongs to a connection the kernel recognised as HTTP/2. */
export function isHttp2Record(r: DataRecord): boolean {
  return (r.flagBits & Flag.H2) !== 0;
}

export class Http2Connection {
  readonly decoder: Http2ConnectionDecoder;
  /** Values replaced by the redaction marker so far. */
  redactions = 0;
  /** DATA records that completed no stream event (control frames, frames continued later): not shipped. */
  quietRecords = 0;

  /** `midway`: the connection was open before the capture, or was HTTP/1.x to us until now. */
  constructor(role: RoleName, midway: boolean, options: Http2ConnectionOptions) {
    this.decoder = new Http2ConnectionDecoder(role, { ...options, midway });
  }

  /** The traced process's end, as the senders of its two directions tell (`unknown` until then). */
  get role(): RoleName {
    const sender = this.decoder.senderOf('egress');
    return sender === 'unknown' ? 'unknown' : sender;
  }

  /** One DATA record; returns its stream events (empty when it completed none) and their redactions. */
  data(r: DataRecord, afterLoss: boolean): { events: Http2Event[]; redactions: number } {
    const f = r.flags;
    const out = this.decoder.push(r.timestampNs, {
      direction: r.direction === 'ingress' ? 'ingress' : 'egress',
      role: r.role,
      copied: r.captured,
      byteCount: r.byteCount,
      elided: (r.flagBits & Flag.H2_ELIDED) !== 0,
      frameStart: (r.flagBits & Flag.H2_FRAME_START) !== 0,
      truncated: f.truncated || f.readFailed,
      afterLoss,
    });
    return this.#convert(out, r.timestampNs);
  }

  /** The connection closed: frames it cut short become GAP events. */
  close(timestampNs: bigint): Http2Event[] {
    return this.#convert(this.decoder.close(timestampNs), timestampNs).events;
  }

  #convert(events: Http2StreamEvent[], baseNs: bigint): { events: Http2Event[]; redactions: number } {
    if (events.length === 0) return { events: [], redactions: 0 };
    const out: Http2Event[] = new Array(events.length);
    let redactions = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const ev: Http2Event = {
        kind: 'GAP',
        sender: SENDERS[e.sender]!,
        streamId: 0,
        offsetNs: e.tsNs === baseNs ? 0n : e.tsNs - baseNs,
        endStream: false,
        fields: NO_FIELDS,
        unresolved: 0,
        hpackError: null,
        lost: null,
        promisedStreamId: null,
        length: 0,
        grpcMessages: 0,
        grpcMessagesExact: false,
        errorCode: 0n,
        reason: null,
      };
      switch (e.kind) {
        case 'headers':
          ev.kind = 'HEADERS';
          ev.streamId = e.streamId;
          ev.endStream = e.endStream;
          // Same shape, already redacted; shipped as they are (read-only from here on).
          ev.fields = e.fields as Http2HeaderField[];
          ev.unresolved = e.unresolved;
          ev.hpackError = e.hpackError;
          ev.lost = e.lost;
          ev.promisedStreamId = e.promisedStreamId ?? null;
          redactions += e.redactions;
          break;
        case 'data':
          ev.kind = 'DATA';
          ev.streamId = e.streamId;
          ev.endStream = e.endStream;
          ev.length = e.length;
          ev.grpcMessages = e.grpcMessages;
          ev.grpcMessagesExact = e.grpcMessagesExact;
          break;
        case 'rst-stream':
          ev.kind = 'RST_STREAM';
          ev.streamId = e.streamId;
          ev.errorCode = BigInt(e.errorCode);
          break;
        case 'goaway':
          ev.kind = 'GOAWAY';
          ev.streamId = e.lastStreamId;
          ev.errorCode = BigInt(e.errorCode);
          break;
        default:
          ev.reason = e.reason;
      }
      out[i] = ev;
    }
    this.redactions += redactions;
    return { events: out, redactions };
  }
}

// PROTOCOL-REGISTRY: the HTTP/2 counters the collector exports (meshpipe_collector_protocol_events_total,
// protocol="http2"): the frame readers' and HPACK decoders' of both directions, flattened.
export type Http2CollectorCounters = Record<string, number>;

function add(into: Http2CollectorCounters, key: string, n: number): void {
  if (n !== 0) into[key] = (into[key] ?? 0) + n;
}

/** Adds one connection's counters into `into` (keys `frames`, `gaps.<reason>`, `hpackErrors.<error>`...). */
export function addHttp2Counters(into: Http2CollectorCounters, conn: Http2Connection): void {
  for (const d of ['egress', 'ingress'] as const) {
    const { reader, hpack } = conn.decoder.side(d);
    const r = reader.counters;
    add(into, 'frames', r.frames);
    for (const [type, n] of Object.entries(r.framesByType)) add(into, `frames.${type}`, n ?? 0);
    for (const [reason, n] of Object.entries(r.gaps)) add(into, `gaps.${reason}`, n ?? 0);
    add(into, 'lostBytes', r.lostBytes);
    add(into, 'resyncs', r.resyncs);
    add(into, 'oversizeFrames', r.oversizeFrames);
    add(into, 'badPrefaces', r.badPrefaces);
    const h = hpack.counters;
    add(into, 'headerBlocks', h.blocks);
    add(into, 'unresolvedBlocks', h.unresolvedBlocks);
    add(into, 'unresolvedReferences', h.unresolvedReferences);
    for (const [error, n] of Object.entries(h.errors)) add(into, `hpackErrors.${error}`, n ?? 0);
  }
  add(into, 'redactions', conn.redactions);
  add(into, 'quietRecords', conn.quietRecords);
}
