/**
 * Named wire-byte fixtures for the HTTP/1.x tests. Strings are Latin-1: one character, one byte, so
 * binary fixtures can be written with \x escapes.
 */

/** Latin-1 encode: one byte per character. */
export function bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** Latin-1 decode. */
export function text(b: Uint8Array | null): string {
  if (b === null) return '';
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return s;
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

// --- requests -------------------------------------------------------------------------------------

export const SIMPLE_GET =
  'GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n';

export const GET_WITH_QUERY = 'GET /search?q=mesh&page=2 HTTP/1.1\r\nHost: example.com\r\n\r\n';

export const GET_A = 'GET /a HTTP/1.1\r\nHost: svc\r\n\r\n';
export const GET_B = 'GET /b HTTP/1.1\r\nHost: svc\r\n\r\n';
export const GET_C = 'GET /c HTTP/1.1\r\nHost: svc\r\n\r\n';

export const HEAD_REQUEST = 'HEAD /big.iso HTTP/1.1\r\nHost: files\r\n\r\n';

export const POST_JSON_HEAD =
  'POST /api/orders HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n';
export const POST_JSON_BODY = '{"item":"book","qty":12345}';
export const POST_JSON = POST_JSON_HEAD + POST_JSON_BODY;

export const POST_EXPECT_CONTINUE_HEAD =
  'POST /upload HTTP/1.1\r\nHost: files\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n';
export const UPLOAD_BODY_10 = '0123456789';

export const UPGRADE_WEBSOCKET =
  'GET /chat HTTP/1.1\r\nHost: chat\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

export const CONNECT_REQUEST = 'CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n';

export const CHUNKED_POST_HEAD =
  'POST /stream HTTP/1.1\r\nHost: ingest\r\nTransfer-Encoding: chunked\r\n\r\n';

export const HTTP10_GET = 'GET / HTTP/1.0\r\n\r\n';

/** Request carrying secrets in every default place; the secret material is made of `~` and `^` only. */
export const SECRET = '~^~^~^~^';
export const REQUEST_WITH_SECRETS =
  `GET /api/orders?page=2&access_token=${SECRET}&sort=asc HTTP/1.1\r\n` +
  'Host: shop\r\n' +
  `Authorization: Bearer ${SECRET}\r\n` +
  `Cookie: session=${SECRET}\r\n` +
  'Accept: application/json\r\n\r\n';

// --- responses ------------------------------------------------------------------------------------

export const RESPONSE_200_HELLO =
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!';
export const RESPONSE_200_EMPTY = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
export const RESPONSE_200_A = 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na';
export const RESPONSE_200_B = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nbb';
export const RESPONSE_200_C = 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nccc';

/** The answer to HEAD_REQUEST: a Content-Length, but no body (RFC 9110 §9.3.2). */
export const RESPONSE_HEAD_1234 = 'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n';

export const RESPONSE_204 = 'HTTP/1.1 204 No Content\r\nDate: Tue, 25 Nov 2025 10:00:00 GMT\r\n\r\n';
export const RESPONSE_304 = 'HTTP/1.1 304 Not Modified\r\nETag: "abc"\r\nContent-Length: 500\r\n\r\n';
export const RESPONSE_100_CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
export const RESPONSE_201_CREATED = 'HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n';
export const RESPONSE_101_WEBSOCKET =
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n';
export const RESPONSE_CONNECT_200 = 'HTTP/1.1 200 Connection Established\r\n\r\n';
export const RESPONSE_407 = 'HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n';

export const CHUNKED_RESPONSE_HEAD = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
export const CHUNKED_BODY = '5\r\nhello\r\n6;lang=en\r\n world\r\n0\r\n\r\n';
export const CHUNKED_BODY_WITH_TRAILERS = '5\r\nhello\r\n0\r\nServer-Timing: db;dur=53\r\n\r\n';
export const CHUNKED_RESPONSE = CHUNKED_RESPONSE_HEAD + CHUNKED_BODY;

/** HTTP/1.0 response without a length: the body ends when the server closes (RFC 9112 §6.3 item 8). */
export const CLOSE_DELIMITED_RESPONSE_HEAD = 'HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n';
export const CLOSE_DELIMITED_BODY = '<html><body>bye</body></html>';

/** A response whose head is larger than the kernel's copy cap would allow. */
export function largeHeaderResponse(valueBytes: number): string {
  return `HTTP/1.1 200 OK\r\nX-Big: ${'v'.repeat(valueBytes)}\r\nContent-Length: 0\r\n\r\n`;
}

// --- not HTTP -------------------------------------------------------------------------------------

/** A TLS ClientHello record start: what a tunnel or a TLS socket carries. */
export const TLS_CLIENT_HELLO = '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' + '\x5a'.repeat(32);
/** A WebSocket text frame ("hello", unmasked). */
export const WEBSOCKET_FRAME = '\x81\x05hello';
/** A Redis inline command: not HTTP. */
export const REDIS_PING = '*1\r\n$4\r\nPING\r\n';
