/**
 * Named wire-byte fixtures for the HTTP/2 tests: RFC 7541 Appendix C header blocks, and helpers that
 * build HTTP/2 frames (RFC 9113 §4.1) from parts, so a test reads as the frames it sends.
 */

export function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function ascii(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, 'latin1'));
}

// --- RFC 7541 Appendix C ------------------------------------------------------------------------

/** C.2.1: literal with indexing, new name. */
export const C2_1 = '400a637573746f6d2d6b65790d637573746f6d2d686561646572';
/** C.2.2: literal without indexing, indexed name. */
export const C2_2 = '040c2f73616d706c652f70617468';
/** C.2.3: literal never indexed, new name. */
export const C2_3 = '100870617373776f726406736563726574';
/** C.2.4: indexed field. */
export const C2_4 = '82';

/** C.3: three requests on one connection, no Huffman. */
export const C3 = [
  '828684410f7777772e6578616d706c652e636f6d',
  '828684be58086e6f2d6361636865',
  '828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565',
] as const;
/** C.4: the same requests with Huffman. */
export const C4 = [
  '828684418cf1e3c2e5f23a6ba0ab90f4ff',
  '828684be5886a8eb10649cbf',
  '828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf',
] as const;
/** C.5: three responses, table size 256, no Huffman (eviction happens). */
export const C5 = [
  '4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d',
  '4803333037c1c0bf',
  '88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31',
] as const;
/** C.6: the same responses with Huffman. */
export const C6 = [
  '488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3',
  '4883640effc1c0bf',
  '88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007',
] as const;

export const C3_HEADERS: ReadonlyArray<ReadonlyArray<readonly [string, string]>> = [
  [
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', '/'],
    [':authority', 'www.example.com'],
  ],
  [
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', '/'],
    [':authority', 'www.example.com'],
    ['cache-control', 'no-cache'],
  ],
  [
    [':method', 'GET'],
    [':scheme', 'https'],
    [':path', '/index.html'],
    [':authority', 'www.example.com'],
    ['custom-key', 'custom-value'],
  ],
];
/** Table sizes (§4.1) after each block of C.3 / C.4. */
export const C3_TABLE_SIZES = [57, 110, 164] as const;

export const C5_HEADERS: ReadonlyArray<ReadonlyArray<readonly [string, string]>> = [
  [
    [':status', '302'],
    ['cache-control', 'private'],
    ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
    ['location', 'https://www.example.com'],
  ],
  [
    [':status', '307'],
    ['cache-control', 'private'],
    ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
    ['location', 'https://www.example.com'],
  ],
  [
    [':status', '200'],
    ['cache-control', 'private'],
    ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
    ['location', 'https://www.example.com'],
    ['content-encoding', 'gzip'],
    ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
  ],
];
/** Table sizes and lengths after each block of C.5 / C.6 (table size 256). */
export const C5_TABLE_SIZES = [222, 222, 215] as const;
export const C5_TABLE_LENGTHS = [4, 4, 3] as const;

// --- HTTP/2 frames (RFC 9113) ---------------------------------------------------------------------

export const PREFACE = ascii('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export const TYPE = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;

export const FLAG = { END_STREAM: 1, ACK: 1, END_HEADERS: 4, PADDED: 8, PRIORITY: 0x20 } as const;

/** One frame: 9-byte header (length, type, flags, stream id) and its payload. */
export function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array = new Uint8Array(0),
) {
  const out = new Uint8Array(9 + payload.length);
  out[0] = (payload.length >>> 16) & 0xff;
  out[1] = (payload.length >>> 8) & 0xff;
  out[2] = payload.length & 0xff;
  out[3] = type;
  out[4] = flags;
  new DataView(out.buffer).setUint32(5, streamId & 0x7fffffff);
  out.set(payload, 9);
  return out;
}

export function u32(...values: number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    view.setUint32(4 * i, v >>> 0);
  });
  return out;
}

export function settings(pairs: ReadonlyArray<readonly [number, number]> = [], ack = false): Uint8Array {
  const payload = new Uint8Array(6 * pairs.length);
  const view = new DataView(payload.buffer);
  pairs.forEach(([id, value], i) => {
    view.setUint16(6 * i, id);
    view.setUint32(6 * i + 2, value);
  });
  return frame(TYPE.SETTINGS, ack ? FLAG.ACK : 0, 0, payload);
}

/** A gRPC length-prefixed message (PROTOCOL-HTTP2.md): flag byte, 4-byte length, the message. */
export function grpcMessage(body: Uint8Array, compressed = false): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = compressed ? 1 : 0;
  new DataView(out.buffer).setUint32(1, body.length);
  out.set(body, 5);
  return out;
}
