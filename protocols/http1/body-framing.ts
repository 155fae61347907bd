/**
 * How long is the body of a message? RFC 9112 §6.3 ("Message Body Length") as a pure function of the
 * parsed head and, for a response, the method of the request it answers. Shared by the collector's
 * framer (to find message boundaries) and the span assembler (to know which bodies end at close).
 */

import type { ParsedHead } from './types.ts';

export type BodyFraming =
  /** No body: the message ends with its head. */
  | { readonly kind: 'none' }
  /** Exactly `length` bytes follow the head (Content-Length, RFC 9110 §8.6). */
  | { readonly kind: 'length'; readonly length: number }
  /** Chunked transfer coding (RFC 9112 §7.1): ends with the last chunk and trailer section. */
  | { readonly kind: 'chunked' }
  /** A response body delimited by the connection closing (RFC 9112 §6.3 item 8). */
  | { readonly kind: 'close' }
  /** No body, and the connection stops carrying HTTP/1.x after this message (101, CONNECT 2xx). */
  | { readonly kind: 'tunnel' }
  /** The framing cannot be determined: the message stream is unrecoverable (RFC 9112 §6.3 item 4). */
  | { readonly kind: 'invalid' };

const NONE: BodyFraming = Object.freeze({ kind: 'none' });
const CHUNKED: BodyFraming = Object.freeze({ kind: 'chunked' });
const CLOSE: BodyFraming = Object.freeze({ kind: 'close' });
const TUNNEL: BodyFraming = Object.freeze({ kind: 'tunnel' });
const INVALID: BodyFraming = Object.freeze({ kind: 'invalid' });

/** 1xx other than 101: informational, followed by the final response to the same request (RFC 9110 §15.2). */
export function isInterimStatus(status: number): boolean {
  return status >= 100 && status < 200 && status !== 101;
}

/**
 * After this response the connection is no longer HTTP/1.x: 101 Switching Protocols (RFC 9110 §15.2.2)
 * or a 2xx answer to CONNECT (RFC 9110 §9.3.6).
 */
export function startsTunnel(status: number, requestMethod: string | null): boolean {
  return status === 101 || (requestMethod === 'CONNECT' && status >= 200 && status < 300);
}

/** Body framing of a request (RFC 9112 §6.3 items 3, 4, 5, 6). */
export function requestBodyFraming(head: ParsedHead): BodyFraming {
  if (head.transferEncoding !== null) {
    // Item 3: Transfer-Encoding overrides Content-Length. Item 4: in a request, a final coding other
    // than chunked leaves the length undeterminable; the server answers 400 and closes.
    return head.chunked ? CHUNKED : INVALID;
  }
  if (head.contentLength !== null)
    return head.contentLength === 0 ? NONE : { kind: 'length', length: head.contentLength };
  // Item 6: neither field, so no body.
  return NONE;
}

/**
 * Body framing of a response (RFC 9112 §6.3 items 1, 2, 3, 5, 7, 8).
 * @param requestMethod the method of the request it answers; `null` when unknown (the request was not
 *   seen), in which case the response is framed as if answering GET: its own fields decide.
 */
export function responseBodyFraming(head: ParsedHead, requestMethod: string | null): BodyFraming {
  const status = head.statusCode ?? 0;
  // Item 2: a 2xx to CONNECT switches to a tunnel; 101 does too (RFC 9110 §15.2.2).
  if (startsTunnel(status, requestMethod)) return TUNNEL;
  // Item 1: responses to HEAD, and 1xx, 204, 304 responses end with their head whatever fields they carry.
  if (requestMethod === 'HEAD' || (status >= 100 && status < 200) || status === 204 || status === 304)
    return NONE;
  if (head.transferEncoding !== null) {
    // Item 3: chunked last means chunked; any other final coding is delimited by close.
    return head.chunked ? CHUNKED : CLOSE;
  }
  if (head.contentLength !== null)
    return head.contentLength === 0 ? NONE : { kind: 'length', length: head.contentLength };
  // Item 8: no length at all; the body runs until the server closes.
  return CLOSE;
}
