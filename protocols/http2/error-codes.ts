/**
 * HTTP/2 error codes (RFC 9113 §7), carried by RST_STREAM and GOAWAY: the names a span's `error.type`
 * uses for a reset stream. Codes outside the table are unknown, not errors (§7: "MUST NOT trigger any
 * special behavior"), and are named by their number.
 */
export const HTTP2_ERROR_NAMES: readonly string[] = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];

/** `CANCEL` for 0x8; `0x1f` for a code outside the table. */
export function http2ErrorName(code: number): string {
  return HTTP2_ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}
