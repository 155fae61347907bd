"""A Kafka consumer no one here wrote: Confluent's Python client (confluent-kafka, librdkafka) with its
AvroDeserializer and SchemaRegistryClient, the way a Kafka user reads Avro topics. It reads `count`
records of a topic from the beginning (read_committed) and prints one JSON line per record:

  {"partition", "offset", "schemaId", "value", "body", "reencoded"}

`value` is what AvroDeserializer returned (the writer's schema fetched from the registry by the id in
the record; longs as decimal strings, bytes as base64), `body` the record's Avro bytes after the 5-byte
header, and `reencoded` the value written again with the same writer schema by fastavro, both in hex:
equal when nothing was lost in decoding.

Usage: python confluent_avro_consumer.py <brokers> <registry url> <topic> <count> [timeout s]
"""

import base64
import io
import json
import sys
import time
import uuid

import fastavro
from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def jsonable(value):
    if isinstance(value, bool) or value is None or isinstance(value, (float, str)):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


def main():
    brokers, registry_url, topic, count = sys.argv[1:5]
    timeout_s = float(sys.argv[5]) if len(sys.argv) > 5 else 60.0
    registry = SchemaRegistryClient({"url": registry_url})
    deserializer = AvroDeserializer(registry)
    consumer = Consumer(
        {
            "bootstrap.servers": brokers,
            "group.id": f"confluent-python-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([topic])
    writers = {}
    seen = 0
    deadline = time.monotonic() + timeout_s
    try:
        while seen < int(count) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                raise RuntimeError(message.error())
            raw = message.value()
            value = deserializer(raw, SerializationContext(topic, MessageField.VALUE))
            schema_id = int.from_bytes(raw[1:5], "big")
            if schema_id not in writers:
                writers[schema_id] = fastavro.parse_schema(
                    json.loads(registry.get_schema(schema_id).schema_str)
                )
            out = io.BytesIO()
            fastavro.schemaless_writer(out, writers[schema_id], value)
            print(
                json.dumps(
                    {
                        "partition": message.partition(),
                        "offset": message.offset(),
                        "schemaId": schema_id,
                        "value": jsonable(value),
                        "body": raw[5:].hex(),
                        "reencoded": out.getvalue().hex(),
                    }
                ),
                flush=True,
            )
            seen += 1
    finally:
        consumer.close()
    if seen < int(count):
        sys.exit(f"read {seen} of {count} records of {topic} within {timeout_s} s")


if __name__ == "__main__":
    main()
