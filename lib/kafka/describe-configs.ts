/**
 * DescribeConfigs for topics: the one Kafka request meshpipe needs that the client binding does not
 * offer (librdkafka has rd_kafka_DescribeConfigs; @confluentinc/kafka-javascript 1.10 exposes neither
 * it nor AlterConfigs). The processor host must know each written topic's `max.message.bytes` to
 * refuse a record no broker would take when it is made (processors/runtime/message-size.ts), and
 * `meshpipe topics` verifies `cleanup.policy`: nothing else tells a client a topic's configuration.
 * So it is sent over a connection of our own (broker-connection.ts), DescribeConfigs v1 (Kafka 1.1
 * to 4.x), to whichever bootstrap broker answers: any broker describes topics.
 */

import { Reader, Writer, withBroker } from './broker-connection.ts';
import type { KafkaConnection } from './connection.ts';

const API_DESCRIBE_CONFIGS = 32;
const RESOURCE_TOPIC = 2;

function describeRequest(topics: readonly string[], names: readonly string[]): Buffer {
  const w = new Writer().int32(topics.length);
  for (const topic of topics) {
    w.int8(RESOURCE_TOPIC).string(topic).int32(names.length);
    for (const name of names) w.string(name);
  }
  return w.int8(0 /* include_synonyms */).build();
}

function parseDescribe(body: Buffer): Map<string, Map<string, string>> {
  const r = new Reader(body);
  r.int32(); // throttle_time_ms
  const out = new Map<string, Map<string, string>>();
  r.array(() => {
    const errorCode = r.int16();
    r.nullableString(); // error_message
    r.int8(); // resource_type
    const name = r.string();
    const entries = new Map<string, string>();
    r.array(() => {
      const key = r.string();
      const value = r.nullableString();
      r.int8(); // read_only
      r.int8(); // config_source
      r.int8(); // is_sensitive
      r.array(() => [r.string(), r.nullableString(), r.int8()]); // synonyms
      if (value !== null) entries.set(key, value);
    });
    if (errorCode === 0) out.set(name, entries);
  });
  return out;
}

/**
 * The values of `names` for each of `topics`, as the brokers' configuration resolves them (the topic's
 * own or the broker default). A topic the broker refuses to describe (missing, not authorized) is
 * absent from the result. Throws when no broker answers.
 */
export async function describeTopicConfigs(
  client: KafkaConnection,
  topics: readonly string[],
  names: readonly string[],
): Promise<Map<string, Map<string, string>>> {
  const unique = [...new Set(topics)];
  if (unique.length === 0) return new Map();
  return withBroker(client, 'DescribeConfigs', async (connection) =>
    parseDescribe(await connection.request(API_DESCRIBE_CONFIGS, 1, describeRequest(unique, names))),
  );
}
