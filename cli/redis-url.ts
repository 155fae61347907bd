/**
 * Which Redis the alert commands and sinks that `need` Redis use: `redis.url` (MESHPIPE_REDIS_URL),
 * else the local stack's if it runs (these commands never need Kafka for that).
 */
import type { MeshpipeConfig } from '../lib/config/meshpipe-config.ts';
import { ERRORS, MeshpipeError } from '../lib/errors.ts';
import { stackStatus } from './stack/stack.ts';

export async function redisUrlOf(config: MeshpipeConfig): Promise<string> {
  if (config.redis.url !== '') return config.redis.url;
  const local = await stackStatus();
  const url = local.redis.running ? `redis://127.0.0.1:${local.redis.port}` : '';
  if (url === '') {
    throw new MeshpipeError(ERRORS.ALERTS_REDIS_UNAVAILABLE, [
      '(none)',
      'redis.url is not set and the local Redis is not running',
    ]);
  }
  return url;
}
