/**
 * Where Kafka and Redis are, without starting anything — the one broker resolver. The configured
 * cluster first (kafka.brokers / --brokers / MESHPIPE_KAFKA_BROKERS, redis.url / MESHPIPE_REDIS_URL),
 * else the local stack's services when they run (lib/local-stack-state.ts). The commands (through
 * cli/endpoints.ts, which may also start the local stack), `meshpipe doctor` and subscribe() ask here.
 */
import type { MeshpipeConfig } from './config/meshpipe-config.ts';
import { ERRORS, MeshpipeError } from './errors.ts';
import { runningLocalPort } from './local-stack-state.ts';
import { IS_CHECKOUT } from './paths.ts';

export interface FoundEndpoints {
  /** Empty when none is configured and the local broker does not run. */
  brokers: string[];
  /** '' when none is configured and the local Redis does not run. */
  redisUrl: string;
  /** True when the brokers are the local stack's. */
  localKafka: boolean;
}

/** What to do when there is no Kafka: a checkout has a local stack to start, the npm package has not. */
export const NO_BROKERS_FIX = IS_CHECKOUT
  ? 'run `meshpipe up` or `meshpipe stack start`, or set MESHPIPE_KAFKA_BROKERS (or --brokers) to your cluster'
  : 'set MESHPIPE_KAFKA_BROKERS (or --brokers) to your cluster';

/** `brokers` overrides the configured ones (an option of the caller's, e.g. subscribe's). */
export async function findEndpoints(
  config: MeshpipeConfig,
  brokers: readonly string[] = config.kafka.brokers,
): Promise<FoundEndpoints> {
  const [kafkaPort, redisPort] = await Promise.all([
    brokers.length > 0 ? undefined : runningLocalPort('kafka'),
    config.redis.url !== '' ? undefined : runningLocalPort('redis'),
  ]);
  return {
    brokers: brokers.length > 0 ? [...brokers] : kafkaPort === undefined ? [] : [`127.0.0.1:${kafkaPort}`],
    redisUrl:
      config.redis.url !== ''
        ? config.redis.url
        : redisPort === undefined
          ? ''
          : `redis://127.0.0.1:${redisPort}`,
    localKafka: brokers.length === 0 && kafkaPort !== undefined,
  };
}

/** The error when a command needs Kafka and findEndpoints found none. */
export function noBrokersError(): MeshpipeError {
  return new MeshpipeError(
    ERRORS.KAFKA_UNREACHABLE,
    ['(none configured)', 'no Kafka is configured and the local broker is not running'],
    { hint: NO_BROKERS_FIX },
  );
}
