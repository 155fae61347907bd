/**
 * The default state codec: JSON, extended with the types meshpipe records carry and processors keep in
 * state — BigInt (nanosecond timestamps do not fit a double), Buffer / Uint8Array (captured bytes), and
 * Map and Set (indexes kept beside the data). It is readable with any JSON tool, which helps when a
 * changelog topic has to be inspected by hand.
 *
 * Extended values are written as tagged objects, `{"$t":"bigint","v":"1796000000123456789"}`. A plain
 * object that itself has a `$t` key is wrapped as `{"$t":"object","v":{...}}`, so no value can be
 * mistaken for a tag: every value round-trips. Other objects (class instances, Date) are written as
 * JSON.stringify would write them, and `undefined` properties are dropped, as in JSON.
 */
/** How state values become bytes on the changelog topic (this JSON codec, or avro-state-codec.ts). */
export interface StateCodec<S> {
  encode(value: S): Buffer;
  decode(bytes: Buffer): S;
}

const TAG = '$t';

function toJsonValue(value: unknown): unknown {
  if (typeof value === 'bigint') return { [TAG]: 'bigint', v: value.toString() };
  if (value instanceof Uint8Array) {
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return { [TAG]: 'bytes', v: bytes.toString('base64') };
  }
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : toJsonValue(item)));
  if (value instanceof Map)
    return { [TAG]: 'map', v: [...value].map(([k, v]) => [toJsonValue(k), toJsonValue(v)]) };
  if (value instanceof Set) return { [TAG]: 'set', v: [...value].map(toJsonValue) };
  if (value !== null && typeof value === 'object') {
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toJsonValue(v);
    return Object.hasOwn(out, TAG) ? { [TAG]: 'object', v: out } : out;
  }
  return value;
}

function fromJsonValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJsonValue);
  if (value === null || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  switch (record[TAG]) {
    case 'bigint':
      return BigInt(record.v as string);
    case 'bytes':
      return Buffer.from(record.v as string, 'base64');
    case 'map':
      return new Map(
        (record.v as Array<[unknown, unknown]>).map(([k, v]) => [fromJsonValue(k), fromJsonValue(v)]),
      );
    case 'set':
      return new Set((record.v as unknown[]).map(fromJsonValue));
    case 'object':
      return decodeObject(record.v as Record<string, unknown>);
    default:
      return decodeObject(record);
  }
}

function decodeObject(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) out[k] = fromJsonValue(v);
  return out;
}

/** JSON with BigInt, bytes, Map and Set: the codec processors get unless they define their own. */
export function jsonStateCodec<S>(): StateCodec<S> {
  return {
    encode(value) {
      // JSON has no undefined: storing it would read back as a missing key. delete() says that.
      if (value === undefined) throw new TypeError('state value is undefined: use state.delete(key)');
      return Buffer.from(JSON.stringify(toJsonValue(value)), 'utf8');
    },
    decode: (bytes) => fromJsonValue(JSON.parse(bytes.toString('utf8'))) as S,
  };
}
