/**
 * Kafka clients for meshpipe components: one place that turns the configuration into a kafkajs client,
 * routes kafkajs logs into pino, and creates/verifies the topic contract (schemas/topics.ts).
 */
import { promisify } from 'node:util';
import { zstdCompress, zstdDecompress } from 'node:zlib';
import kafkajs, {
  type Admin,
  CompressionTypes,
  type ITopicConfig,
  Kafka,
  type KafkaConfig,
  logLevel,
  Partitioners,
  type SASLOptions,
} from 'kafkajs';
import { TOPICS, type TopicDefinition, topicName } from '../schemas/topics.ts';
import type { MeshpipeConfig } from './config/meshpipe-config.ts';
import { ERRORS, errorMessage, MeshpipeError } from './errors.ts';
import { type KafkaTlsOptions, kafkaTlsOptions } from './kafka-tls.ts';
import type { Logger } from './logger.ts';

// Every consumer created through this module reads committed records only, for real: kafkajs's own
// filter lets records of some aborted transactions through (lib/kafka-read-committed.ts).
import './kafka-read-committed.ts';

// zstd for every meshpipe client, from Node's own zlib (kafkajs ships gzip only): the collector's
// batches compress about as well as with gzip at a fraction of its CPU (docs/benchmarks.md), and every
// consumer of a topic must be able to read what any producer wrote.
const compress = promisify(zstdCompress);
const decompress = promisify(zstdDecompress);
// (CompressionCodecs is not among the names Node detects in kafkajs's CommonJS exports.)
kafkajs.CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  compress: (encoder: { buffer: Buffer }) => compress(encoder.buffer),
  decompress: (buffer: Buffer) => decompress(buffer),
});

// kafkajs prints a notice about its partitioner change on every producer; we choose explicitly below.
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

// kafkajs's request queue arms a timer with a negative delay when nothing is pending
// (requestQueue.scheduleCheckPendingRequests); Node 24 warns about every one. Node clamps the delay to
// 1 ms, which is what kafkajs meant, so the warning is noise: filter exactly that warning, nothing else.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const name = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
  if (name === 'TimeoutNegativeWarning') return;
  (emitWarning as (w: string | Error, ...r: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  /** TLS (lib/kafka-tls.ts); absent: plaintext. */
  tls?: KafkaTlsOptions;
  sasl?: SASLOptions;
  logger: Logger;
  /** Connection timeout per attempt, ms. */
  connectionTimeout?: number;
  /** How long to keep retrying a failing request, in retries. */
  retries?: number;
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
  [logLevel.NOTHING]: 'debug',
};

/**
 * Answers kafkajs logs at ERROR although it retries them, and that resolve by themselves in normal
 * operation: a group or transaction coordinator still loading after a new group or producer appears,
 * leadership moving, a concurrent transaction marker still being written. If the retries run out, the
 * caller gets the error and reports it; the per-attempt line is only noise at error level.
 */
const TRANSIENT =
  /coordinator is (loading|not available)|not the (correct )?coordinator|no leader for this topic-partition|not the leader|concurrent operation on the same transaction|CONCURRENT_TRANSACTIONS|COORDINATOR_LOAD_IN_PROGRESS|rebalance in progress|The group is rebalancing/i;

export function kafkaOptionsFrom(
  config: MeshpipeConfig,
  logger: Logger,
  brokers?: string[],
): KafkaClientOptions {
  const k = config.kafka;
  const tls = kafkaTlsOptions(k);
  const options: KafkaClientOptions = {
    brokers: brokers ?? k.brokers,
    clientId: k.clientId,
    ...(tls === undefined ? {} : { tls }),
    logger,
  };
  if (k.saslMechanism !== 'none') {
    options.sasl = {
      mechanism: k.saslMechanism,
      username: k.saslUsername,
      password: k.saslPassword,
    } as SASLOptions;
  }
  return options;
}

export function createKafka(options: KafkaClientOptions): Kafka {
  const log = options.logger.child({ lib: 'kafkajs' });
  const config: KafkaConfig = {
    clientId: options.clientId,
    brokers: options.brokers,
    ssl: options.tls ?? false,
    connectionTimeout: options.connectionTimeout ?? 3000,
    requestTimeout: 30000,
    retry: { retries: options.retries ?? 8, initialRetryTime: 200, maxRetryTime: 5000 },
    // kafkajs is chatty at INFO (every group join); keep those at debug unless asked.
    logLevel: logLevel.INFO,
    logCreator:
      () =>
      ({ level, log: entry }) => {
        const { message, ...rest } = entry;
        let pinoLevel = LEVELS[level] ?? 'info';
        if (pinoLevel === 'info') pinoLevel = 'debug';
        else if (pinoLevel === 'error' && TRANSIENT.test(`${message} ${String(rest.error ?? '')}`))
          pinoLevel = 'debug';
        log[pinoLevel](rest, message);
      },
  };
  if (options.sasl !== undefined) config.sasl = options.sasl;
  return new Kafka(config);
}

/**
 * The partitioner every meshpipe producer uses: Java-compatible murmur2 over the key, so a key lands on
 * the same partition whichever client (kafkajs, Java, librdkafka with murmur2) produced it.
 */
export const partitioner = Partitioners.DefaultPartitioner;

export interface TopicStatus {
  name: string;
  definition: TopicDefinition;
  state: 'created' | 'ok' | 'mismatch';
  partitions: number;
  problems: string[];
}

export function allTopicDefinitions(extra: readonly TopicDefinition[] = []): TopicDefinition[] {
  return [...Object.values(TOPICS), ...extra];
}

export function partitionsFor(definition: TopicDefinition, config: MeshpipeConfig): number {
  return config.kafka.partitions[definition.suffix] ?? definition.partitions;
}

/**
 * Creates missing topics and verifies existing ones against their definitions (partition count at least
 * the definition's, cleanup policy and retention equal). `fix` raises partition counts that are short.
 */
export async function ensureTopics(
  admin: Admin,
  definitions: readonly TopicDefinition[],
  options: { prefix: string; replicationFactor: number; partitions?: Record<string, number>; fix?: boolean },
): Promise<TopicStatus[]> {
  const wanted = definitions.map((definition) => ({
    definition,
    name: topicName(definition, options.prefix),
    partitions: options.partitions?.[definition.suffix] ?? definition.partitions,
  }));
  const existing = new Set(await admin.listTopics());
  const missing = wanted.filter((w) => !existing.has(w.name));
  if (missing.length > 0) {
    const topics: ITopicConfig[] = missing.map((w) => ({
      topic: w.name,
      numPartitions: w.partitions,
      replicationFactor: options.replicationFactor,
      configEntries: [
        { name: 'cleanup.policy', value: w.definition.cleanupPolicy },
        { name: 'retention.ms', value: String(w.definition.retentionMs) },
      ],
    }));
    try {
      await admin.createTopics({ topics, waitForLeaders: true });
    } catch (err) {
      // Another instance may have created some of them meanwhile, or (a busy broker) the metadata
      // kafkajs polls for leaders does not show a new topic yet, which it does not retry: verification
      // below decides.
      if (!/already exists|does not host this topic-partition/i.test(errorMessage(err))) throw err;
    }
  }

  const names = wanted.map((w) => w.name);
  const metadata = await onceVisible(() => admin.fetchTopicMetadata({ topics: names }));
  // Asked of any broker: on a cluster of several, one that has not yet learned of a topic just created.
  const configs = await onceVisible(() =>
    admin.describeConfigs({
      includeSynonyms: false,
      resources: names.map((name) => ({
        type: 2 /* TOPIC */,
        name,
        configNames: ['cleanup.policy', 'retention.ms'],
      })),
    }),
  );

  const statuses: TopicStatus[] = [];
  for (const w of wanted) {
    const meta = metadata.topics.find((t) => t.name === w.name);
    const partitions = meta?.partitions.length ?? 0;
    const problems: string[] = [];
    if (partitions < w.partitions) {
      if (options.fix === true && partitions > 0) {
        await admin.createPartitions({ topicPartitions: [{ topic: w.name, count: w.partitions }] });
      } else {
        problems.push(`has ${partitions} partitions, the definition asks for ${w.partitions}`);
      }
    }
    const entries = configs.resources.find((r) => r.resourceName === w.name)?.configEntries ?? [];
    const policy = entries.find((e) => e.configName === 'cleanup.policy')?.configValue;
    if (policy !== undefined && policy !== w.definition.cleanupPolicy) {
      problems.push(`cleanup.policy is ${policy}, the definition asks for ${w.definition.cleanupPolicy}`);
    }
    statuses.push({
      name: w.name,
      definition: w.definition,
      state: problems.length > 0 ? 'mismatch' : missing.includes(w) ? 'created' : 'ok',
      partitions: Math.max(partitions, options.fix === true ? w.partitions : partitions),
      problems,
    });
  }
  return statuses;
}

/** A request about topics, retried (bounded) until topics just created are visible to the broker asked. */
async function onceVisible<T>(request: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (err) {
      if (attempt >= 20 || !/does not host this topic-partition/i.test(errorMessage(err))) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** Connects an admin client or throws KAFKA_UNREACHABLE with the brokers in the message. */
export async function connectAdmin(kafka: Kafka, brokers: readonly string[]): Promise<Admin> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.describeCluster();
  } catch (err) {
    await admin.disconnect().catch(() => {});
    throw new MeshpipeError(ERRORS.KAFKA_UNREACHABLE, [brokers.join(','), errorMessage(err)], { cause: err });
  }
  return admin;
}
