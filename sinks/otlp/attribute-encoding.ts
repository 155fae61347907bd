/**
 * OpenTelemetry attributes as OTLP `repeated KeyValue` (opentelemetry/proto/common/v1/common.proto):
 *
 *   KeyValue { string key = 1; AnyValue value = 2; }
 *   AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3;
 *              double double_value = 4; ArrayValue array_value = 5; ... bytes bytes_value = 7; } }
 *
 * Numbers follow the OpenTelemetry serializer: an integer is an int_value, anything else a double.
 */
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import { type ProtobufWriter, WIRE } from './protobuf-writer.ts';

function writeAnyValue(w: ProtobufWriter, value: AttributeValue): void {
  if (typeof value === 'string') {
    w.tag(1, WIRE.lengthDelimited);
    w.string(value);
  } else if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63) {
      w.tag(3, WIRE.varint);
      w.varint(value);
    } else {
      w.tag(4, WIRE.fixed64);
      w.double(value);
    }
  } else if (typeof value === 'boolean') {
    w.tag(2, WIRE.varint);
    w.varint(value ? 1 : 0);
  } else if (Array.isArray(value)) {
    w.tag(5, WIRE.lengthDelimited);
    const array = w.begin();
    for (const item of value) {
      w.tag(1, WIRE.lengthDelimited);
      const start = w.begin();
      if (item !== null && item !== undefined) writeAnyValue(w, item);
      w.end(start);
    }
    w.end(array);
  }
}

/**
 * A KeyValue of a short ASCII key and a string or integer value, written in one pass with one-byte
 * lengths: what almost every attribute is. Returns false, having written nothing, when it does not fit
 * (a long or non-ASCII key, a value of 120 bytes or more): the general path then writes it.
 */
function writeShortKeyValue(w: ProtobufWriter, tag: number, key: string, value: string | number): boolean {
  const k = key.length;
  if (k > 100) return false;
  w.ensure(k + 3 * (typeof value === 'string' ? value.length : 0) + 20);
  const buf = w.buf;
  const start = w.pos;
  buf[start] = tag;
  // [start + 1]: KeyValue length, below
  buf[start + 2] = (1 << 3) | WIRE.lengthDelimited;
  buf[start + 3] = k;
  let p = start + 4;
  for (let i = 0; i < k; i++) {
    const c = key.charCodeAt(i);
    if (c > 127) return false;
    buf[p++] = c;
  }
  buf[p] = (2 << 3) | WIRE.lengthDelimited;
  const anyStart = p + 1;
  let anyLength: number;
  if (typeof value === 'string') {
    buf[anyStart + 1] = (1 << 3) | WIRE.lengthDelimited;
    const v = buf.write(value, anyStart + 3, 'utf8');
    if (v > 119 || k + v + 6 > 127) return false;
    buf[anyStart + 2] = v;
    anyLength = v + 2;
  } else {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) return false;
    buf[anyStart + 1] = (3 << 3) | WIRE.varint;
    let q = anyStart + 2;
    let v = value >>> 0;
    while (v > 127) {
      buf[q++] = (v & 127) | 128;
      v >>>= 7;
    }
    buf[q++] = v;
    anyLength = q - anyStart - 1;
  }
  buf[anyStart] = anyLength;
  const kvLength = 2 + k + 2 + anyLength;
  if (kvLength > 127) return false;
  buf[start + 1] = kvLength;
  w.pos = start + 2 + kvLength;
  return true;
}

/** Each attribute as a `KeyValue` in field `field` (1-15) of the message being written. */
export function writeAttributes(w: ProtobufWriter, field: number, attributes: Attributes): void {
  const tag = (field << 3) | WIRE.lengthDelimited;
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined) continue;
    if ((typeof value === 'string' || typeof value === 'number') && writeShortKeyValue(w, tag, key, value))
      continue;
    w.tag(field, WIRE.lengthDelimited);
    const keyValue = w.begin();
    w.tag(1, WIRE.lengthDelimited);
    w.string(key);
    w.tag(2, WIRE.lengthDelimited);
    const anyValue = w.begin();
    writeAnyValue(w, value);
    w.end(anyValue);
    w.end(keyValue);
  }
}
