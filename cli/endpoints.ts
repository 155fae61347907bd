/**
 * Where Kafka and Redis are, for a command: the configured cluster (kafka.brokers / --brokers /
 * MESHPIPE_KAFKA_BROKERS), else the local stack, started on demand by the commands that may start it.
 * Without starting, this is lib/endpoints.ts, the one resolver.
 */
import type { MeshpipeConfig } from '../lib/config/meshpipe-config.ts';
import { findEndpoints, noBrokersError } from '../lib/endpoints.ts';
import type { Logger } from '../lib/logger.ts';
import type { Progress } from './stack/progress.ts';
import { ensureStack, type StackService } from './stack/stack.ts';

export interface Endpoints {
  brokers: string[];
  redisUrl: string;
  /** True when the brokers are the local stack's. */
  local: boolean;
  /** Services this call started (to stop when the command ends). */
  started: StackService[];
}

export async function resolveEndpoints(
  config: MeshpipeConfig,
  options: { logger: Logger; progress?: Progress; start: boolean; redis?: boolean },
): Promise<Endpoints> {
  const wantRedis = options.redis === true && config.redis.url === '';
  if (config.kafka.brokers.length > 0 && !wantRedis) {
    return { brokers: config.kafka.brokers, redisUrl: config.redis.url, local: false, started: [] };
  }
  const wantKafka = config.kafka.brokers.length === 0;
  if (!options.start) {
    const found = await findEndpoints(config);
    if (found.brokers.length === 0) throw noBrokersError();
    return { brokers: found.brokers, redisUrl: found.redisUrl, local: found.localKafka, started: [] };
  }
  const result = await ensureStack({
    logger: options.logger,
    kafka: wantKafka,
    redis: wantRedis,
    preferredKafkaPort: config.stack.kafkaPort,
    preferredRedisPort: config.stack.redisPort,
    kafkaHeapMb: config.stack.kafkaHeapMb,
    ...(options.progress === undefined ? {} : { progress: (t: string) => options.progress!.update(t) }),
  });
  return {
    brokers: wantKafka ? result.endpoints.kafkaBrokers : config.kafka.brokers,
    redisUrl: wantRedis ? result.endpoints.redisUrl : config.redis.url,
    local: wantKafka,
    started: result.started,
  };
}
