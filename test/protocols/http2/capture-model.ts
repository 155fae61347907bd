/**
 * A model of what the kernel hands user space for one direction of an HTTP/2 connection
 * (bpf/lib/h2.h), byte by byte so that it is obviously right: a buffer of at most `cap` bytes is
 * copied whole; a larger one is walked frame by frame and copied without the DATA payload bytes past
 * each frame's first `dataPrefixBytes`, in records of at most `recordMax` copied bytes. The tests
 * check the frame reader against it; test/bpf/h2-capture.test.ts checks the kernel against real
 * traffic.
 */
import type { Http2CapturedEvent } from '../../../protocols/http2/types.ts';
import { PREFACE } from './fixtures.ts';

export interface ModelOptions {
  cap?: number;
  dataPrefixBytes?: number;
  recordMax?: number;
}

/** Splits `wire` into buffers of the given sizes (the last one takes the rest) and returns the events the kernel would emit. */
export function captureDirection(
  wire: Uint8Array,
  sizes: readonly number[],
  options: ModelOptions = {},
): Http2CapturedEvent[] {
  const cap = options.cap ?? 4096;
  const prefix = options.dataPrefixBytes ?? 5;
  const recordMax = options.recordMax ?? 8192;
  // Classify every wire byte once: is it copied in elided records, and does a frame start there?
  const keep = new Uint8Array(wire.length);
  const starts = new Uint8Array(wire.length + 1);
  let pos = 0;
  if (wire.length >= PREFACE.length && PREFACE.every((b, i) => wire[i] === b)) {
    keep.fill(1, 0, PREFACE.length);
    pos = PREFACE.length;
  }
  while (pos + 9 <= wire.length) {
    starts[pos] = 1;
    const length = (wire[pos]! << 16) | (wire[pos + 1]! << 8) | wire[pos + 2]!;
    const type = wire[pos + 3]!;
    keep.fill(1, pos, pos + 9);
    const payloadEnd = Math.min(wire.length, pos + 9 + length);
    keep.fill(1, pos + 9, type === 0 ? Math.min(payloadEnd, pos + 9 + prefix) : payloadEnd);
    pos += 9 + length;
  }
  starts[0] = 1;
  if (pos <= wire.length) starts[pos] = 1;

  const events: Http2CapturedEvent[] = [];
  let at = 0;
  for (let n = 0; at < wire.length; n++) {
    const end = Math.min(wire.length, at + Math.max(1, sizes[n] ?? wire.length - at));
    if (end - at <= cap) {
      events.push(event(wire.slice(at, end), end - at, false, starts[at] === 1));
    } else {
      let recordStart = at;
      let copied: number[] = [];
      for (let i = at; i < end; i++) {
        if (keep[i] === 1) {
          if (copied.length === recordMax) {
            events.push(event(Uint8Array.from(copied), i - recordStart, true, starts[recordStart] === 1));
            recordStart = i;
            copied = [];
          }
          copied.push(wire[i]!);
        }
      }
      events.push(event(Uint8Array.from(copied), end - recordStart, true, starts[recordStart] === 1));
    }
    at = end;
  }
  return events;
}

function event(
  copied: Uint8Array,
  byteCount: number,
  elided: boolean,
  frameStart: boolean,
): Http2CapturedEvent {
  return { direction: 'egress', role: 'client', copied, byteCount, elided, frameStart, truncated: false };
}
