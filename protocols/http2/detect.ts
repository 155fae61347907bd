/**
 * HTTP/2 detection: is this the start of an HTTP/2 connection, or a run of HTTP/2 frames?
 *
 * The same rules the kernel applies (bpf/lib/h2.h) to decide that a connection carries HTTP/2 and
 * where frames begin; user space accepts what the kernel copies, and uses the frame-chain rule to
 * find its footing again when it lost it without the kernel's help.
 * - A connection seen from its start: the client preface "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113
 *   §3.4), written by the client first thing; or the server's preface, a SETTINGS frame, which a
 *   server may write before it has read the client's (and a client may read before it writes).
 * - A connection already open when the capture started: a buffer whose frame headers chain exactly
 *   to its end, each plausible for its type (§6: which frames have a stream id, fixed lengths, the
 *   flags each type defines). Random bytes pass this with negligible probability.
 */

// PROTOCOL-REGISTRY: the HTTP/2 start rules. The in-kernel detector (bpf/lib/h2.h,
// mp_h2_connection_start and mp_h2_frame_plausible) applies the same; keep them in sync.

/** The client connection preface (RFC 9113 §3.4). */
export const CLIENT_PREFACE = new Uint8Array([
  0x50, 0x52, 0x49, 0x20, 0x2a, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x32, 0x2e, 0x30, 0x0d, 0x0a, 0x0d, 0x0a,
  0x53, 0x4d, 0x0d, 0x0a, 0x0d, 0x0a,
]);

/** Bytes of the preface the kernel compares ("PRI * HT"): one 8-byte word. */
export const PREFACE_DETECT_BYTES = 8;

/** The 9-byte frame header (RFC 9113 §4.1). */
export const FRAME_HEADER_BYTES = 9;

/** Frame types of RFC 9113 §6. */
export const FRAME_TYPE = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Flags of RFC 9113 §6 (the same bit means different things for different types). */
export const FRAME_FLAG = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** Flags each type defines; others are legal but unused (§4.1), and never set by real peers. */
const DEFINED_FLAGS: readonly number[] = [
  0x09, // DATA: END_STREAM, PADDED
  0x2d, // HEADERS: END_STREAM, END_HEADERS, PADDED, PRIORITY
  0x00, // PRIORITY
  0x00, // RST_STREAM
  0x01, // SETTINGS: ACK
  0x0c, // PUSH_PROMISE: END_HEADERS, PADDED
  0x01, // PING: ACK
  0x00, // GOAWAY
  0x00, // WINDOW_UPDATE
  0x04, // CONTINUATION: END_HEADERS
];

/** SETTINGS frames this long at most are plausible (a dozen settings; real peers send up to 6). */
const MAX_PLAUSIBLE_SETTINGS = 6 * 16;

export type ConnectionStart = 'client-preface' | 'server-settings' | 'none' | 'needs-more';

/**
 * The first bytes a connection carried in one direction: the client preface, a SETTINGS frame
 * header (the server's preface), neither, or too few bytes to tell.
 */
export function detectConnectionStart(buf: Uint8Array, at = 0, end: number = buf.length): ConnectionStart {
  const n = end - at;
  let preface = true;
  for (let i = 0; i < Math.min(n, PREFACE_DETECT_BYTES); i++) {
    if (buf[at + i] !== CLIENT_PREFACE[i]) {
      preface = false;
      break;
    }
  }
  if (preface) return n >= PREFACE_DETECT_BYTES ? 'client-preface' : 'needs-more';
  if (n < FRAME_HEADER_BYTES) return 'needs-more';
  return isSettingsPreface(buf, at) ? 'server-settings' : 'none';
}

/** A SETTINGS frame (not an ACK) on stream 0 with a whole number of plausible settings. */
function isSettingsPreface(buf: Uint8Array, at: number): boolean {
  const length = (buf[at]! << 16) | (buf[at + 1]! << 8) | buf[at + 2]!;
  return (
    buf[at + 3] === FRAME_TYPE.SETTINGS &&
    buf[at + 4] === 0 &&
    streamId(buf, at) === 0 &&
    length % 6 === 0 &&
    length <= MAX_PLAUSIBLE_SETTINGS
  );
}

function streamId(buf: Uint8Array, at: number): number {
  return ((buf[at + 5]! & 0x7f) << 24) | (buf[at + 6]! << 16) | (buf[at + 7]! << 8) | buf[at + 8]!;
}

/**
 * Is the 9-byte header at `buf[at]` a plausible frame header? A known type, only the flags it
 * defines, the reserved bit clear, a stream id where the type needs one and none where it must not
 * have one, and the fixed lengths of §6.3, §6.4, §6.5, §6.7, §6.8, §6.9.
 */
export function isPlausibleFrameHeader(buf: Uint8Array, at: number): boolean {
  const type = buf[at + 3]!;
  if (type > FRAME_TYPE.CONTINUATION) return false;
  const flags = buf[at + 4]!;
  if ((flags & ~DEFINED_FLAGS[type]!) !== 0) return false;
  if ((buf[at + 5]! & 0x80) !== 0) return false;
  const length = (buf[at]! << 16) | (buf[at + 1]! << 8) | buf[at + 2]!;
  const stream = streamId(buf, at);
  switch (type) {
    case FRAME_TYPE.SETTINGS:
      return stream === 0 && length % 6 === 0 && ((flags & FRAME_FLAG.ACK) === 0 || length === 0);
    case FRAME_TYPE.PING:
      return stream === 0 && length === 8;
    case FRAME_TYPE.GOAWAY:
      return stream === 0 && length >= 8;
    case FRAME_TYPE.WINDOW_UPDATE:
      return length === 4;
    case FRAME_TYPE.PRIORITY:
      return stream !== 0 && length === 5;
    case FRAME_TYPE.RST_STREAM:
      return stream !== 0 && length === 4;
    default:
      // DATA, HEADERS, PUSH_PROMISE, CONTINUATION belong to a stream.
      return stream !== 0;
  }
}

/** Frames the chain rule walks at most; the kernel's bound is the same. */
export const MAX_CHAIN_FRAMES = 64;

/**
 * Do plausible frame headers chain from `buf[at]` exactly to `end`? The rule for finding frames in
 * a connection that was open before the capture (or after losing them): one buffer, whole frames.
 */
export function frameChainEnds(buf: Uint8Array, at = 0, end: number = buf.length): boolean {
  let pos = at;
  for (let i = 0; i < MAX_CHAIN_FRAMES; i++) {
    if (pos === end) return i > 0;
    if (end - pos < FRAME_HEADER_BYTES || !isPlausibleFrameHeader(buf, pos)) return false;
    pos += FRAME_HEADER_BYTES + ((buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!);
    if (pos > end) return false;
  }
  return pos === end;
}
