/**
 * The loader's HTTP/2 records of one pod, reassembled by protocols/http2 (connection decoder and stream
 * pairer) as the agent would: what the real-kernel HTTP/2 tests compare with what the clients saw.
 */
import type { DataRecord, LoaderRecord } from '../../../collectors/capture/loader/record-decoder.ts';
import { Flag } from '../../../collectors/capture/loader/record-layout.ts';
import { Http2ConnectionDecoder } from '../../../protocols/http2/connection-decoder.ts';
import { Http2StreamPairer } from '../../../protocols/http2/stream-pairer.ts';
import type { Http2CapturedEvent, Http2Exchange, Http2StreamEvent } from '../../../protocols/http2/types.ts';

export function toEvent(r: DataRecord): Http2CapturedEvent {
  return {
    direction: r.direction === 'egress' ? 'egress' : 'ingress',
    role: r.role,
    copied: r.captured,
    byteCount: r.byteCount,
    elided: (r.flagBits & Flag.H2_ELIDED) !== 0,
    frameStart: (r.flagBits & Flag.H2_FRAME_START) !== 0,
    truncated: r.flags.truncated || r.flags.readFailed,
  };
}

export interface Reassembled {
  exchanges: Http2Exchange[];
  events: Http2StreamEvent[];
  records: DataRecord[];
}

/** Every connection of one pod to or from `port`, through the connection decoder and the pairer. */
export function reassemble(records: LoaderRecord[], netns: number, port: number): Reassembled {
  const out: Reassembled = { exchanges: [], events: [], records: [] };
  const conns = new Map<number, { decoder: Http2ConnectionDecoder; pairer: Http2StreamPairer }>();
  for (const r of records) {
    if (r.kind !== 'data' && r.kind !== 'close') continue;
    if (r.netnsInode !== netns || (r.localPort !== port && r.peerPort !== port)) continue;
    if ((r.flagBits & Flag.H2) === 0) continue;
    let c = conns.get(r.connId);
    if (c === undefined) {
      c = {
        decoder: new Http2ConnectionDecoder(r.role, { midway: r.flags.preexisting }),
        pairer: new Http2StreamPairer(),
      };
      conns.set(r.connId, c);
    }
    const events =
      r.kind === 'data' ? c.decoder.push(r.timestampNs, toEvent(r)) : c.decoder.close(r.timestampNs);
    if (r.kind === 'data') out.records.push(r);
    for (const e of events) {
      out.events.push(e);
      out.exchanges.push(...c.pairer.push(e));
    }
    if (r.kind === 'close') out.exchanges.push(...c.pairer.close(r.timestampNs));
  }
  return out;
}
