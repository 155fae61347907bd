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

/** Each attribute as a `KeyValue` in field `field` of the message being written. */
export function writeAttributes(w: ProtobufWriter, field: number, attributes: Attributes): void {
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined) continue;
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
