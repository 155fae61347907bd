/**
 * protocols/http2 — HTTP/2 and gRPC for meshpipe: detection, frame reading, HPACK, redaction, gRPC
 * message counting (collector), and stream pairing (span assembler). Pure TypeScript, no I/O. The
 * model and the rules are in README.md beside this file.
 *
 *   collector:       Http2CapturedEvent ──► Http2ConnectionDecoder (per connection: frame readers,
 *                    HPACK decoders, redaction, gRPC counters) ──► Http2StreamEvent[]
 *   span assembler:  Http2StreamEvent ──► Http2StreamPairer (per connection) ──► Http2Exchange
 *
 * The places a protocol touches carry the marker comment PROTOCOL-REGISTRY followed by a colon (see
 * protocols/http1/index.ts). For HTTP/2 they are: the start rules (detect.ts, bpf/lib/h2.h), the
 * stream events the collector emits (types.ts), the descriptor below, and the counters of the frame
 * reader and the pairer.
 */

import { type ConnectionDecoderOptions, Http2ConnectionDecoder } from './connection-decoder.ts';
import { type Http2PairerState, Http2StreamPairer } from './stream-pairer.ts';
import type { Role } from './types.ts';

export {
  type ConnectionDecoderOptions,
  Http2ConnectionDecoder,
  MAX_COUNTED_STREAMS,
  MAX_HEADER_BLOCK_BYTES,
} from './connection-decoder.ts';
export {
  CLIENT_PREFACE,
  type ConnectionStart,
  detectConnectionStart,
  FRAME_FLAG,
  FRAME_HEADER_BYTES,
  FRAME_TYPE,
  frameChainEnds,
  isPlausibleFrameHeader,
  MAX_CHAIN_FRAMES,
  PREFACE_DETECT_BYTES,
} from './detect.ts';
export { HTTP2_ERROR_NAMES, http2ErrorName } from './error-codes.ts';
export {
  DEFAULT_DATA_PREFIX_BYTES,
  type FrameReaderOptions,
  Http2FrameReader,
  type Http2FrameReaderCounters,
  MAX_BUFFERED_FRAME_BYTES,
  MAX_DATA_BYTES_KEPT,
  newFrameReaderCounters,
} from './frame-reader.ts';
export {
  fieldValue,
  GRPC_SERVER_ERROR_CODES,
  GRPC_STATUS_NAMES,
  GrpcMessageCounter,
  grpcMessage,
  grpcStatus,
  grpcStatusName,
  isGrpcContentType,
  parseGrpcPath,
} from './grpc.ts';
export {
  DEFAULT_HEADER_TABLE_SIZE,
  HpackDecoder,
  type HpackDecoderOptions,
  type HpackDecoderState,
  type HpackError,
  type HpackField,
  type HpackResult,
  MAX_HEADER_TABLE_SIZE,
} from './hpack-decoder.ts';
export { type Http2RedactionOptions, redactFields } from './redact.ts';
export { type Http2PairerCounters, type Http2PairerState, Http2StreamPairer } from './stream-pairer.ts';
export type * from './types.ts';

// PROTOCOL-REGISTRY: the descriptor the collector and the span assembler look protocols up by.
export const HTTP2_PROTOCOL = {
  /** Folder name and metric label. */
  name: 'http2',
  /** Symbol of the `L7Protocol` enum of schemas/l7-raw-event.avsc. */
  schemaSymbol: 'HTTP2',
  /** Collector: one decoder per connection (HPACK and redaction happen on the node). */
  createConnectionDecoder: (role: Role, options?: ConnectionDecoderOptions): Http2ConnectionDecoder =>
    new Http2ConnectionDecoder(role, options),
  /** Span assembler: one pairer per connection (and capture side). */
  createPairer: (): Http2StreamPairer => new Http2StreamPairer(),
  restorePairer: (state: Http2PairerState): Http2StreamPairer => Http2StreamPairer.fromState(state),
  /** Span assembler: a pairer working on its state object in place (live partition state). */
  adoptPairer: (state: Http2PairerState): Http2StreamPairer => Http2StreamPairer.adopt(state),
} as const;
