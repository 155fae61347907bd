/**
 * The one place that loads the Kafka client: @confluentinc/kafka-javascript, Confluent's binding of
 * librdkafka (the reference C client), through its callback API (`KafkaConsumer`, `Producer`,
 * `AdminClient`). Nothing outside lib/kafka/ imports it; the rest of meshpipe sees lib/kafka.ts.
 *
 * Loaded on first use, so commands that never touch Kafka (help, config, observe) do not load the
 * native library, and a missing or incomplete build is one clear error naming the fix: the binding is
 * compiled by `scripts/setup` (from the bundled librdkafka sources, against Debian's OpenSSL, zlib and
 * zstd) because its prebuilt binaries come from GitHub.
 */
import { createRequire } from 'node:module';
import type * as Rd from '@confluentinc/kafka-javascript';
import { ERRORS, errorMessage, MeshpipeError } from '../errors.ts';

export type {
  Assignment,
  DeliveryReport,
  IAdminClient,
  KafkaConsumer,
  LibrdKafkaError,
  Message,
  MessageHeader,
  Producer,
  TopicPartition,
  TopicPartitionOffset,
} from '@confluentinc/kafka-javascript';

export type Librdkafka = typeof Rd;

/**
 * Compressions every meshpipe client must read (a consumer fails on a record whose codec its
 * librdkafka was built without): the collector writes zstd by default.
 */
const REQUIRED_FEATURES = ['gzip', 'zstd', 'ssl', 'sasl_scram'] as const;

let loaded: Librdkafka | undefined;

export function librdkafka(): Librdkafka {
  if (loaded !== undefined) return loaded;
  let module: Librdkafka;
  try {
    module = createRequire(import.meta.url)('@confluentinc/kafka-javascript') as Librdkafka;
  } catch (err) {
    throw new MeshpipeError(ERRORS.SETUP_KAFKA_CLIENT_MISSING, [errorMessage(err).split('\n')[0]!]);
  }
  const missing = REQUIRED_FEATURES.filter((f) => !module.features.includes(f));
  if (missing.length > 0) {
    throw new MeshpipeError(ERRORS.SETUP_KAFKA_CLIENT_MISSING, [
      `librdkafka ${module.librdkafkaVersion} was built without ${missing.join(', ')}`,
    ]);
  }
  loaded = module;
  return module;
}

/** librdkafka's error codes by name (RD_KAFKA_RESP_ERR_*, as the binding spells them). */
export function errorCodes(): Record<string, number> {
  return librdkafka().CODES.ERRORS as unknown as Record<string, number>;
}
