/**
 * gRPC over HTTP/2 (the gRPC project's PROTOCOL-HTTP2.md): what a call is named, how it ended, and
 * how many messages went each way.
 * - `:path` is `/package.Service/Method`;
 * - a call's status is `grpc-status` (a decimal code, 0 OK .. 16 UNAUTHENTICATED) with an optional
 *   `grpc-message` (percent-encoded UTF-8), in the trailers, or in the only header block of a
 *   trailers-only response;
 * - messages are length-prefixed: one byte compressed-flag, four bytes big-endian length, the
 *   message; a message may span DATA frames and a DATA frame may hold several (senders coalesce).
 * The message counter follows the prefixes through the DATA bytes it is given. Where a prefix falls in
 * bytes the capture did not copy it cannot know where later messages start: from then on the count
 * for that stream and direction is a lower bound, marked inexact. It never guesses.
 */

import { FRAME_FLAG } from './detect.ts';
import type { Http2Field } from './types.ts';

/** gRPC status codes by number (doc/statuscodes.md of the gRPC project). */
export const GRPC_STATUS_NAMES: readonly string[] = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

/** `UNAVAILABLE` for 14; the number itself for a code outside the table. */
export function grpcStatusName(code: number): string {
  return GRPC_STATUS_NAMES[code] ?? String(code);
}

/**
 * Codes that make a SERVER span an error (OpenTelemetry RPC conventions, gRPC: the server failed, as
 * opposed to the caller asking for something it cannot have); a CLIENT span errs on any code but OK.
 */
export const GRPC_SERVER_ERROR_CODES: ReadonlySet<number> = new Set([2, 4, 12, 13, 14, 15]);

/** `application/grpc`, `application/grpc+proto`, `application/grpc+json`, ... */
export function isGrpcContentType(value: string | null | undefined): boolean {
  return value !== null && value !== undefined && /^application\/grpc(?:[+;]|$)/i.test(value);
}

/** Service (`package.Service`) and method of a gRPC `:path`, or null when it is not of that form. */
export function parseGrpcPath(path: string | null): { service: string; method: string } | null {
  if (path === null || path.charCodeAt(0) !== 0x2f) return null;
  const slash = path.indexOf('/', 1);
  if (slash <= 1 || slash === path.length - 1 || path.indexOf('/', slash + 1) !== -1) return null;
  return { service: path.slice(1, slash), method: path.slice(slash + 1) };
}

/** `grpc-status` as a number, or null when absent or not a decimal code. */
export function grpcStatus(fields: readonly Http2Field[] | null): number | null {
  const v = fieldValue(fields, 'grpc-status');
  return v !== null && /^\d{1,3}$/.test(v) ? Number(v) : null;
}

/** `grpc-message`, percent-decoded (invalid escapes are kept as they are). */
export function grpcMessage(fields: readonly Http2Field[] | null): string | null {
  const v = fieldValue(fields, 'grpc-message');
  if (v === null) return null;
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

export function fieldValue(fields: readonly Http2Field[] | null, name: string): string | null {
  if (fields === null) return null;
  for (const f of fields) if (f.name === name) return f.value;
  return null;
}

/** Counts gRPC messages in the DATA frames of one stream and direction. State is four numbers. */
export class GrpcMessageCounter {
  /** Bytes of the current message still to come. */
  #need = 0;
  /** Prefix bytes of the next message seen so far (0..4), and the length they spell. */
  #prefixHave = 0;
  #length = 0;
  #exact = true;
  messages = 0;

  get exact(): boolean {
    return this.#exact;
  }

  /** One DATA frame: its payload length, flags and the copied pieces. Returns messages started in it. */
  frame(length: number, flags: number, pieces: ReadonlyArray<{ offset: number; bytes: Uint8Array }>): number {
    if (!this.#exact) return 0;
    let o = 0;
    let end = length;
    let piece = 0;
    const byteAt = (offset: number): number => {
      while (piece < pieces.length && pieces[piece]!.offset + pieces[piece]!.bytes.length <= offset) piece++;
      const p = pieces[piece];
      return p !== undefined && p.offset <= offset ? p.bytes[offset - p.offset]! : -1;
    };
    if (flags & FRAME_FLAG.PADDED) {
      const pad = byteAt(0);
      if (pad < 0) return this.#blind();
      o = 1;
      end = length - pad;
    }
    let started = 0;
    while (o < end) {
      if (this.#need > 0) {
        const skip = Math.min(this.#need, end - o);
        this.#need -= skip;
        o += skip;
        continue;
      }
      const b = byteAt(o);
      if (b < 0) return started + this.#blind();
      if (this.#prefixHave === 0) {
        started++;
        this.messages++;
        this.#length = 0;
      } else {
        this.#length = this.#length * 256 + b;
      }
      this.#prefixHave++;
      o++;
      if (this.#prefixHave === 5) {
        this.#need = this.#length;
        this.#prefixHave = 0;
      }
    }
    return started;
  }

  #blind(): number {
    this.#exact = false;
    return 0;
  }
}
