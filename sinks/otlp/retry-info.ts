/**
 * The delay an OTLP/gRPC receiver asks for when it throttles: OTLP says a server under load answers
 * UNAVAILABLE or RESOURCE_EXHAUSTED with a `google.rpc.RetryInfo` in the status details, and the client
 * SHOULD wait `retry_delay` before retrying
 * (https://opentelemetry.io/docs/specs/otlp/#otlpgrpc-throttling).
 *
 * The details travel in the `grpc-status-details-bin` trailer as a serialized `google.rpc.Status`:
 *
 *   Status    { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
 *   Any       { string type_url = 1; bytes value = 2; }
 *   RetryInfo { google.protobuf.Duration retry_delay = 1; }
 *   Duration  { int64 seconds = 1; int32 nanos = 2; }
 *
 * Three tiny messages do not justify a protobuf runtime and .proto files in production code, so this
 * is a minimal reader: varints and length-delimited fields, everything else skipped.
 */

export const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';

interface Field {
  number: number;
  /** Varint value (wire type 0) or bytes (wire type 2); other wire types are skipped. */
  varint?: bigint;
  bytes?: Uint8Array;
}

function* fields(buf: Uint8Array): Generator<Field> {
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (pos >= buf.length) throw new RangeError('truncated varint');
      const b = buf[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new RangeError('varint too long');
  };
  while (pos < buf.length) {
    const tag = Number(varint());
    const number = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) yield { number, varint: varint() };
    else if (wire === 2) {
      const length = Number(varint());
      if (pos + length > buf.length) throw new RangeError('truncated field');
      yield { number, bytes: buf.subarray(pos, pos + length) };
      pos += length;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new RangeError(`unsupported wire type ${wire}`);
  }
}

function durationMs(bytes: Uint8Array): number {
  let seconds = 0n;
  let nanos = 0n;
  for (const f of fields(bytes)) {
    if (f.number === 1 && f.varint !== undefined) seconds = BigInt.asIntN(64, f.varint);
    if (f.number === 2 && f.varint !== undefined) nanos = BigInt.asIntN(32, f.varint);
  }
  return Number(seconds) * 1000 + Math.ceil(Number(nanos) / 1e6);
}

/** The RetryInfo delay in ms from a serialized google.rpc.Status, or undefined when there is none. */
export function retryDelayFromStatusDetails(details: Uint8Array): number | undefined {
  try {
    for (const detail of fields(details)) {
      if (detail.number !== 3 || detail.bytes === undefined) continue;
      let typeUrl = '';
      let value: Uint8Array | undefined;
      for (const f of fields(detail.bytes)) {
        if (f.number === 1 && f.bytes !== undefined) typeUrl = Buffer.from(f.bytes).toString('utf8');
        if (f.number === 2 && f.bytes !== undefined) value = f.bytes;
      }
      if (typeUrl !== RETRY_INFO_TYPE || value === undefined) continue;
      for (const f of fields(value)) {
        if (f.number === 1 && f.bytes !== undefined) return Math.max(0, durationMs(f.bytes));
      }
    }
  } catch {
    // Malformed details are the receiver's problem; fall back to our own backoff.
  }
  return undefined;
}
