/**
 * What the alert-sink tests share: anomaly records, producing them, the sink on a test's Kafka with
 * delivery settings short enough for a test (the logic is the same at the defaults), a unique BullMQ
 * prefix per test on the shared Redis, and a private redis-server for the tests that restart Redis.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { codecFor } from '../../../schemas/codec.ts';
import type { Anomaly } from '../../../schemas/types.ts';
import { type AlertsSinkConfig, alertsSinkSpec } from '../../../sinks/alerts/config.ts';
import { alertsSink } from '../../../sinks/alerts/sink.ts';
import { type RunningSink, startSink } from '../../../sinks/runtime/host.ts';
import { type TestKafka, testLogger } from '../../../testkit/kafka.ts';
import { waitFor } from '../../helpers/wait.ts';

export const SECRET = 'test-signing-key-3f9a';
const NS = 1_000_000n;

let sequence = 0;

/** An anomaly transition; each call a new fingerprint unless one is given. */
export function anomaly(overrides: Partial<Anomaly> & { atMs?: number } = {}): Anomaly {
  sequence++;
  const atMs = overrides.atMs ?? 1_800_000_000_000 + sequence * 1000;
  const status = overrides.status ?? 'FIRING';
  const fingerprint = overrides.fingerprint ?? `fp${String(sequence).padStart(14, '0')}`;
  const { atMs: _, ...rest } = overrides;
  return {
    fingerprint,
    transitionId: `${fingerprint}-${status === 'FIRING' ? 'firing' : 'resolved'}-${atMs}`,
    status,
    type: 'LATENCY_P99',
    severity: 'WARNING',
    service: 'inventory',
    route: '/inventory/:sku',
    method: 'GET',
    summary: `p99 latency of GET /inventory/:sku on inventory is 512 ms (baseline 4 ms) #${sequence}`,
    description: 'p99 latency was 512 ms over the 60 s window, above the threshold 29 ms.',
    evidence: {
      observed: 0.512,
      baseline: 0.004,
      threshold: 0.029,
      unit: 's',
      windowStartUnixNano: BigInt(atMs - 60_000) * NS,
      windowEndUnixNano: BigInt(atMs) * NS,
      exampleTraceIds: ['4bf92f3577b34da6a3ce929d0e0e4736'],
    },
    startsAtUnixNano: BigInt(atMs) * NS,
    endsAtUnixNano: status === 'RESOLVED' ? BigInt(atMs) * NS : null,
    labels: { window: '60s' },
    ...rest,
  };
}

const anomalyCodec = codecFor<Anomaly>('anomaly');

export async function produceAnomalies(k: TestKafka, anomalies: readonly Anomaly[]): Promise<void> {
  const producer = k.kafka.producer();
  await producer.connect();
  try {
    await producer.send({
      topic: k.topic('anomalies'),
      messages: anomalies.map((a) => ({ key: a.fingerprint, value: anomalyCodec.encode(a) })),
    });
  } finally {
    await producer.disconnect();
  }
}

/** A unique BullMQ key prefix: tests on the shared Redis never see each other's queues. */
export function uniquePrefix(name: string): string {
  return `t-${name}-${randomBytes(3).toString('hex')}`;
}

/** `sinks.alerts` for a test: quick batching, fetching and retries; receivers as given. */
export function sinkConfig(
  receivers: Array<Record<string, unknown>>,
  extra: Record<string, unknown> = {},
): AlertsSinkConfig {
  return alertsSinkSpec.parseWithEnv(
    {
      receivers: receivers.map((r) => ({ secret: SECRET, groupWindowMs: 0, timeoutMs: 2_000, ...r })),
      initialBackoffMs: 200,
      maxBackoffMs: 1_000,
      lingerMs: 50,
      runtime: { maxWaitMs: 100, metricsIntervalMs: 1_000 },
      ...extra,
    },
    'sinks.alerts',
    {},
  );
}

export async function startAlertsSink(
  k: TestKafka,
  redisUrl: string,
  config: AlertsSinkConfig,
  groupId?: string,
): Promise<RunningSink> {
  const sink = await startSink(alertsSink({ redisUrl }), config, {
    kafka: k.kafka,
    topicPrefix: k.prefix,
    logger: testLogger,
    onStatus: () => {},
    ...(groupId === undefined ? {} : { groupId }),
  });
  await sink.ready;
  return sink;
}

/** BullMQ job counts of a receiver's queue. */
export async function queueCounts(
  redisUrl: string,
  prefix: string,
  receiver: string,
): Promise<Record<string, number>> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(`alerts-${receiver}`, { connection, prefix });
  try {
    return await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
  } finally {
    await queue.close();
    await connection.quit();
  }
}

/** Removes every key of a test's prefix from the shared Redis. */
export async function dropPrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A redis-server of the test's own, for killing and restarting: append-only with every write fsynced,
 * so what a client saw acknowledged survives even SIGKILL.
 */
export class PrivateRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'meshpipe-redis-'));
  port = 0;
  #child: ChildProcess | undefined;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: 'ignore' },
    );
    this.#child = child;
    await waitFor(
      `redis-server on ${this.port}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
        const probe = new Redis(this.port, '127.0.0.1', {
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        });
        probe.on('error', () => {}); // refused while it starts: the connect() rejection says so
        try {
          await probe.connect();
          return (await probe.ping()) === 'PONG';
        } catch {
          return false;
        } finally {
          probe.disconnect();
        }
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  }

  /** SIGKILL: no shutdown save, no goodbye — only what is on disk survives. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
