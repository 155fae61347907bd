/**
 * The local stack: a single-node KRaft Kafka and a Redis, shared by `meshpipe up`, the tests and the
 * benchmarks, and on request a Schema Registry (Apicurio, for `kafka.schemaRegistry` and the tests of
 * it). A stack that is already up is reused; `stop` stops what the state file records.
 *
 * The state file (.local/stack/state.json) records pids and ports. Starting is serialised by a lock file
 * so that two commands (or two test files) starting at once end up sharing one stack.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  canConnect,
  isOurProcess,
  readStackStateFile,
  type StackService,
} from '../../lib/local-stack-state.ts';
import type { Logger } from '../../lib/logger.ts';
import { STACK_DIR, STACK_STATE_FILE } from '../../lib/paths.ts';
import { isKafkaAlive, type KafkaBrokerState, startKafka, stopKafka } from './kafka-broker.ts';
import { isRedisAlive, type RedisState, startRedis, stopRedis } from './redis-server.ts';
import {
  isSchemaRegistryAlive,
  type SchemaRegistryState,
  schemaRegistryAnswers,
  schemaRegistryUrl,
  startSchemaRegistry,
  stopSchemaRegistry,
} from './schema-registry.ts';

export type { StackService };

export interface StackState {
  kafka?: KafkaBrokerState;
  redis?: RedisState;
  schemaRegistry?: SchemaRegistryState;
}

export interface StackEndpoints {
  kafkaBrokers: string[];
  redisUrl: string;
  /** The Confluent-compatible API of the local Schema Registry, '' when it does not run. */
  schemaRegistryUrl: string;
}

export interface EnsureStackOptions {
  logger: Logger;
  kafka?: boolean;
  redis?: boolean;
  preferredKafkaPort?: number;
  preferredRedisPort?: number;
  kafkaHeapMb?: number;
  /** Also start the Schema Registry (default: no). */
  schemaRegistry?: boolean;
  preferredSchemaRegistryPort?: number;
  progress?: (text: string) => void;
}

export interface EnsureStackResult {
  endpoints: StackEndpoints;
  /** Services this call started (the caller may stop them when done). */
  started: StackService[];
  reused: StackService[];
}

/** The state file with what this stack records of each service (read by lib/local-stack-state.ts). */
export function readStackState(): StackState {
  return readStackStateFile() as StackState;
}

function writeStackState(state: StackState): void {
  mkdirSync(STACK_DIR, { recursive: true });
  writeFileSync(STACK_STATE_FILE, `${JSON.stringify(state, null, 2)}\n`);
}

export function endpointsOf(state: StackState): StackEndpoints {
  return {
    kafkaBrokers: state.kafka === undefined ? [] : [`127.0.0.1:${state.kafka.port}`],
    redisUrl: state.redis === undefined ? '' : `redis://127.0.0.1:${state.redis.port}`,
    schemaRegistryUrl: state.schemaRegistry === undefined ? '' : schemaRegistryUrl(state.schemaRegistry),
  };
}

const LOCK_FILE = `${STACK_DIR}/.lock`;

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(STACK_DIR, { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      closeSync(openSync(LOCK_FILE, 'wx'));
      writeFileSync(LOCK_FILE, String(process.pid));
      break;
    } catch {
      let holder = 0;
      try {
        holder = Number(readFileSync(LOCK_FILE, 'utf8'));
      } catch {
        continue;
      }
      // A lock left behind by a process that died is stale.
      if (holder > 0 && !isOurProcess(holder, '')) {
        rmSync(LOCK_FILE, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`the local stack is locked by pid ${holder} (${LOCK_FILE})`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK_FILE, { force: true });
  }
}

/** Starts whatever of Kafka and Redis is not already running; reuses what is. */
export function ensureStack(options: EnsureStackOptions): Promise<EnsureStackResult> {
  return withLock(async () => {
    const state = readStackState();
    const started: EnsureStackResult['started'] = [];
    const reused: EnsureStackResult['reused'] = [];

    if (options.kafka !== false) {
      if (isKafkaAlive(state.kafka) && (await canConnect(state.kafka!.port))) {
        reused.push('kafka');
      } else {
        options.progress?.('starting Kafka');
        state.kafka = await startKafka({
          preferredPort: options.preferredKafkaPort ?? 9092,
          heapMb: options.kafkaHeapMb ?? 768,
          logger: options.logger,
          ...(options.progress === undefined ? {} : { progress: options.progress }),
        });
        writeStackState(state);
        started.push('kafka');
        options.logger.info(
          { port: state.kafka.port, kafkaPid: state.kafka.pid, version: state.kafka.version },
          'kafka started',
        );
      }
    }
    if (options.redis !== false) {
      if (isRedisAlive(state.redis) && (await canConnect(state.redis!.port))) {
        reused.push('redis');
      } else {
        options.progress?.('starting Redis');
        state.redis = await startRedis({
          preferredPort: options.preferredRedisPort ?? 6379,
          logger: options.logger,
        });
        writeStackState(state);
        started.push('redis');
        options.logger.info({ port: state.redis.port, redisPid: state.redis.pid }, 'redis started');
      }
    }
    if (options.schemaRegistry === true) {
      if (
        isSchemaRegistryAlive(state.schemaRegistry) &&
        (await schemaRegistryAnswers(state.schemaRegistry!.port))
      ) {
        reused.push('schemaRegistry');
      } else {
        options.progress?.('starting the Schema Registry');
        state.schemaRegistry = await startSchemaRegistry({
          preferredPort: options.preferredSchemaRegistryPort ?? 8081,
          logger: options.logger,
          ...(options.progress === undefined ? {} : { progress: options.progress }),
        });
        writeStackState(state);
        started.push('schemaRegistry');
        options.logger.info(
          { url: schemaRegistryUrl(state.schemaRegistry), pid: state.schemaRegistry.pid },
          'schema registry started',
        );
      }
    }
    return { endpoints: endpointsOf(state), started, reused };
  });
}

/** Stops the named services (default: all) if this stack runs them. Returns what was stopped. */
export function stopStack(options: { only?: StackService[] } = {}): Promise<StackService[]> {
  return withLock(async () => {
    const state = readStackState();
    const which = options.only ?? ['kafka', 'redis', 'schemaRegistry'];
    const stopped: StackService[] = [];
    if (which.includes('schemaRegistry') && state.schemaRegistry !== undefined) {
      if (isSchemaRegistryAlive(state.schemaRegistry)) {
        await stopSchemaRegistry(state.schemaRegistry);
        stopped.push('schemaRegistry');
      }
      delete state.schemaRegistry;
    }
    if (which.includes('redis') && state.redis !== undefined) {
      if (isRedisAlive(state.redis)) {
        await stopRedis(state.redis);
        stopped.push('redis');
      }
      delete state.redis;
    }
    if (which.includes('kafka') && state.kafka !== undefined) {
      if (isKafkaAlive(state.kafka)) {
        await stopKafka(state.kafka);
        stopped.push('kafka');
      }
      delete state.kafka;
    }
    writeStackState(state);
    return stopped;
  });
}

/**
 * The last resort of a command that is exiting without having stopped what it started (a second
 * Ctrl-C, an uncaught error): SIGTERM, synchronously, to the named services. Each shuts down cleanly by
 * itself (Kafka's controlled shutdown, Redis' save) after this process is gone.
 */
export function signalStackNow(only: ReadonlyArray<StackService>): void {
  const state = readStackState();
  const targets = [
    only.includes('kafka') && isKafkaAlive(state.kafka) ? state.kafka!.pid : undefined,
    only.includes('redis') && isRedisAlive(state.redis) ? state.redis!.pid : undefined,
    only.includes('schemaRegistry') && isSchemaRegistryAlive(state.schemaRegistry)
      ? state.schemaRegistry!.pid
      : undefined,
  ];
  for (const pid of targets) {
    if (pid === undefined) continue;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

export interface StackStatus {
  kafka: { running: boolean; port?: number; pid?: number; version?: string; logFile?: string };
  redis: { running: boolean; port?: number; pid?: number; logFile?: string };
  schemaRegistry: {
    running: boolean;
    url?: string;
    port?: number;
    pid?: number;
    version?: string;
    logFile?: string;
  };
}

export async function stackStatus(): Promise<StackStatus> {
  const state = readStackState();
  const kafkaUp = isKafkaAlive(state.kafka) && (await canConnect(state.kafka!.port));
  const redisUp = isRedisAlive(state.redis) && (await canConnect(state.redis!.port));
  const registryUp =
    isSchemaRegistryAlive(state.schemaRegistry) && (await schemaRegistryAnswers(state.schemaRegistry!.port));
  return {
    kafka: kafkaUp ? { running: true, ...state.kafka! } : { running: false },
    redis: redisUp ? { running: true, ...state.redis! } : { running: false },
    schemaRegistry: registryUp
      ? { running: true, url: schemaRegistryUrl(state.schemaRegistry!), ...state.schemaRegistry! }
      : { running: false },
  };
}
