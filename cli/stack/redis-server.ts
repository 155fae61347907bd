/**
 * A local Redis for the alert queues (BullMQ). Append-only persistence is on, so jobs queued when Redis
 * restarts are still there afterwards.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { canConnect, isOurProcess, SERVICE_MARKERS } from '../../lib/local-stack-state.ts';
import type { Logger } from '../../lib/logger.ts';
import { STACK_DIR } from '../../lib/paths.ts';
import { choosePort } from './ports.ts';
import { run, spawnService, stopProcess } from './processes.ts';

export const REDIS_MARKER = SERVICE_MARKERS.redis;

export interface RedisState {
  pid: number;
  port: number;
  logFile: string;
}

const dir = join(STACK_DIR, 'redis');

export function findRedisServer(): string {
  for (const candidate of ['redis-server', '/usr/bin/redis-server', '/usr/sbin/redis-server']) {
    if (run(candidate, ['--version'], { timeoutMs: 5000 }).ok) return candidate;
  }
  throw new MeshpipeError(ERRORS.SETUP_REDIS_MISSING);
}

export function isRedisAlive(state: RedisState | undefined): boolean {
  return state !== undefined && isOurProcess(state.pid, REDIS_MARKER);
}

export async function startRedis(options: { preferredPort: number; logger: Logger }): Promise<RedisState> {
  const command = findRedisServer();
  mkdirSync(join(dir, 'data'), { recursive: true });
  const port = await choosePort(options.preferredPort);
  const logFile = join(dir, 'redis.log');
  const conf = join(dir, 'redis.conf');
  writeFileSync(
    conf,
    [
      '# Written by meshpipe on every start of the local Redis.',
      `port ${port}`,
      'bind 127.0.0.1 ::1',
      'protected-mode yes',
      `dir ${join(dir, 'data')}`,
      'daemonize no',
      // Durable queues: BullMQ jobs survive a Redis restart.
      'appendonly yes',
      'appendfsync everysec',
      // BullMQ requires that Redis never evicts its keys.
      'maxmemory-policy noeviction',
      'save ""',
      '',
    ].join('\n'),
  );
  const pid = spawnService(command, [conf], logFile, dir);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (!isOurProcess(pid, REDIS_MARKER)) {
      throw new MeshpipeError(ERRORS.STACK_START_FAILED, ['Redis', `redis-server exited; see ${logFile}`]);
    }
    if (await canConnect(port)) return { pid, port, logFile };
    await sleep(100);
  }
  await stopProcess(pid, REDIS_MARKER, 2000);
  throw new MeshpipeError(ERRORS.STACK_START_FAILED, ['Redis', `not listening after 20 s; see ${logFile}`]);
}

export async function stopRedis(state: RedisState): Promise<void> {
  await stopProcess(state.pid, REDIS_MARKER, 10_000);
}
