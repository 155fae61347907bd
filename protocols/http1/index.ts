/**
 * protocols/http1 — HTTP/1.x for meshpipe: detection, head parsing, redaction, framing (collector),
 * message reading and request/response pairing (span assembler). Pure TypeScript, no I/O. The model
 * and the rules are in README.md beside this file.
 *
 *   collector:       CapturedEvent ──► Http1Framer ──► Segment[] (heads redacted, bodies as lengths)
 *   span assembler:  Segment[] ──► Http1MessageReader (per direction) ──► Http1Message
 *                    Http1Message ──► Http1ExchangePairer (per connection) ──► Http1Exchange
 *
 * Adding a protocol: every place it must touch carries the marker comment PROTOCOL-REGISTRY followed
 * by a colon, so `grep -rn "PROTOCOL-REGISTRY[:]" bpf protocols collectors processors schemas` lists
 * them (the bracket keeps this paragraph out of the list). For HTTP/1.x they are:
 *   1. the in-kernel message-start rule (bpf/lib/http.h), mirrored in user space by detect.ts;
 *   2. the `L7Protocol` enum of schemas/l7-raw-event.avsc, and the `PayloadSegment` record that
 *      types.ts's `Segment` mirrors;
 *   3. the protocol descriptor below, which the collector (framer per connection) and the span
 *      assembler (readers and pairer per connection) look protocols up in;
 *   4. the counters each stage exports as metrics (framer.ts, message-reader.ts, exchange-pairer.ts);
 *   5. a folder like this one: detect, parse, redact, frame, read, pair, each with fixture tests.
 */

import { Http1ExchangePairer, type Http1PairerState } from './exchange-pairer.ts';
import { type FramerOptions, Http1Framer } from './framer.ts';
import { Http1MessageReader, type Http1ReaderState } from './message-reader.ts';

export {
  type BodyFraming,
  isInterimStatus,
  requestBodyFraming,
  responseBodyFraming,
  startsTunnel,
} from './body-framing.ts';
export { MAX_CHUNK_LINE_BYTES, MAX_CHUNK_SIZE_DIGITS } from './chunked-body.ts';
export {
  CHUNK_TERMINATOR,
  detectMessageStart,
  endsWithChunkTerminator,
  findMessageStartAtLine,
  HTTP1_METHODS,
  type Http1Method,
  MESSAGE_START,
  type MessageStart,
  messageStartKind,
  REQUEST_DETECT_MAX_BYTES,
  RESPONSE_DETECT_BYTES,
  RESPONSE_PREFIX,
} from './detect.ts';
export {
  Http1ExchangePairer,
  type Http1MessageState,
  type Http1PairerCounters,
  type Http1PairerState,
  messageFromState,
  messageToState,
  newPairerCounters,
} from './exchange-pairer.ts';
export {
  type FramerCloseResult,
  type FramerOptions,
  Http1Framer,
  type Http1FramerCounters,
  MAX_BUFFERED_HEAD_BYTES,
  MAX_PENDING_REQUESTS,
  newFramerCounters,
} from './framer.ts';
export {
  Http1MessageReader,
  type Http1OpenMessageState,
  type Http1ReaderCounters,
  type Http1ReaderState,
  newReaderCounters,
} from './message-reader.ts';
export {
  findHeadEnd,
  HEAD_INVALID_REASON,
  type HeadInvalidReason,
  type HeadParseResult,
  headerValue,
  latin1,
  MAX_CONTENT_LENGTH_DIGITS,
  MAX_HEAD_BYTES,
  MAX_HEADER_COUNT,
  MAX_LEADING_EMPTY_LINES,
  MAX_LINE_BYTES,
  type ParseHeadOptions,
  parseHead,
} from './parse-head.ts';
export {
  compileRedactionPolicy,
  DEFAULT_REDACTION_POLICY,
  DEFAULT_SENSITIVE_HEADERS,
  DEFAULT_SENSITIVE_QUERY_PARAMS,
  isSensitiveHeaderName,
  isUrlHeaderName,
  REDACTION_MARKER,
  type RedactionConfig,
  type RedactionPolicy,
  type RedactionResult,
  redactHead,
  redactTarget,
} from './redact.ts';
export type {
  CapturedEvent,
  Direction,
  ExchangeIncompleteReason,
  Http1Exchange,
  Http1Message,
  MessageIncompleteReason,
  MessageKind,
  ParsedHead,
  Role,
  Segment,
  SegmentKind,
} from './types.ts';

// PROTOCOL-REGISTRY: the descriptor the collector and the span assembler look protocols up by. A new
// protocol exports one of the same shape from its folder's index.ts.
export const HTTP1_PROTOCOL = {
  /** Folder name and metric label. */
  name: 'http1',
  /** Symbol of the `L7Protocol` enum in schemas/l7-raw-event.avsc. */
  schemaSymbol: 'HTTP1',
  /** Collector: one framer per connection. */
  createFramer: (options?: FramerOptions): Http1Framer => new Http1Framer(options),
  /** Span assembler: one reader per connection and direction. */
  createMessageReader: (): Http1MessageReader => new Http1MessageReader(),
  /** Span assembler: one pairer per connection (and capture side). */
  createPairer: (): Http1ExchangePairer => new Http1ExchangePairer(),
  /** Span assembler: a reader or pairer going on from its plain-data state (kept in partition state). */
  restoreMessageReader: (state: Http1ReaderState): Http1MessageReader => Http1MessageReader.fromState(state),
  restorePairer: (state: Http1PairerState): Http1ExchangePairer => Http1ExchangePairer.fromState(state),
} as const;
