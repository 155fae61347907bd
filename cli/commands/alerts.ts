/**
 * The alert commands:
 *   meshpipe sink alerts                 the alerts sink on its own: anomalies → queues → webhooks
 *   meshpipe alerts test <receiver>      a test alert through the receiver's real queue, and its outcome
 *   meshpipe alerts status               queues, recent failures and dead letters, from Redis
 * Redis is `redis.url` (MESHPIPE_REDIS_URL), else the local stack's.
 */
import { reportStatus } from '../../lib/component-status.ts';
import { loadConfig } from '../../lib/config/load.ts';
import type { MeshpipeConfig } from '../../lib/config/meshpipe-config.ts';
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { createKafka, kafkaOptionsFrom } from '../../lib/kafka.ts';
import { stackStatus } from '../../lib/local-stack/stack.ts';
import { maskUrl } from '../../lib/mask.ts';
import { type CommandDefinition, configOverrides, KAFKA_OPTIONS } from '../command.ts';
import { resolveEndpoints } from '../endpoints.ts';
import { useSchemaRegistry } from '../schema-registry.ts';

/** redis.url, else the local stack's Redis if it runs (these commands never need Kafka for that). */
async function redisUrlOf(config: MeshpipeConfig): Promise<string> {
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

export const sinkAlerts: CommandDefinition = {
  name: 'sink alerts',
  summary:
    'Deliver anomaly transitions to webhooks (generic JSON, Slack, Alertmanager) through BullMQ on Redis.',
  usage: 'sink alerts [--brokers host:port] [--listen host:port] [--json]',
  description:
    "Consumes meshpipe.anomalies.v1 and enqueues one BullMQ job per receiver and transition (job id <receiver>.<transitionId>: a transition Kafka delivers twice is enqueued once); the Kafka offsets are committed only once the jobs are in Redis. Delivery workers in the same process sign every request, group bursts, retry with backoff and jitter, honour 429 Retry-After, respect each receiver's rate limit and dead-letter what cannot be delivered. Configuration: sinks.alerts (`meshpipe config`); docs/alerts.md.",
  options: {
    ...KAFKA_OPTIONS,
    listen: {
      type: 'string',
      value: '<host:port>',
      doc: 'Serve /metrics, /healthz (liveness) and /readyz (readiness) here (default: sinks.alerts.listen; empty: not served).',
    },
  },
  json: true,
  examples: [
    'meshpipe sink alerts',
    'MESHPIPE_ALERTS_OPS_SECRET=... meshpipe sink alerts --listen 0.0.0.0:9468 --json',
  ],
  async run(ctx) {
    const { config } = loadConfig({
      file: ctx.values.config as string | undefined,
      overrides: {
        ...configOverrides(ctx.values),
        ...(typeof ctx.values.listen === 'string'
          ? { sinks: { alerts: { listen: ctx.values.listen } } }
          : {}),
      },
    });
    const [{ alertsSink }, { startSink }] = await Promise.all([
      import('../../sinks/alerts/sink.ts'),
      import('../../sinks/runtime/host.ts'),
    ]);
    const endpoints = await resolveEndpoints(config, { logger: ctx.logger, start: false });
    const redisUrl = await redisUrlOf(config);
    const kafka = createKafka(kafkaOptionsFrom(config, ctx.logger, endpoints.brokers));
    await useSchemaRegistry(config, ctx.logger);
    const sink = await startSink(alertsSink({ redisUrl }), config.sinks.alerts, {
      kafka,
      brokers: endpoints.brokers,
      topicPrefix: config.kafka.topicPrefix,
      logger: ctx.logger,
      onStatus: (status) => {
        reportStatus(status);
        if (ctx.json)
          ctx.printJson({ time: new Date().toISOString(), sink: 'alerts', ...status }, { line: true });
        else ctx.progress.update(`alerts sink: ${status.state} · ${status.summary}`);
      },
    });
    ctx.signal.addEventListener('abort', () => void sink.stop(), { once: true });
    if (ctx.signal.aborted) void sink.stop();
    try {
      await sink.done;
    } finally {
      ctx.progress.done();
    }
    return 0;
  },
};

export const test: CommandDefinition = {
  name: 'alerts test',
  summary: "Send a test alert through a receiver's real queue and report what happened.",
  usage: 'alerts test <receiver> [--timeout s] [--json]',
  description:
    "Enqueues a test transition (type TEST, marked test: true) on the receiver's BullMQ queue and delivers it with the same worker, signing, payload format, retries and dead-lettering as real alerts, until it is delivered, fails for good, or --timeout passes (then it is taken off the queue). Exit 0 when delivered.",
  options: {
    timeout: { type: 'string', value: '<seconds>', doc: 'How long to wait for the outcome (default 30).' },
  },
  positionals: { min: 1, max: 1, names: ['receiver'] },
  json: true,
  examples: ['meshpipe alerts test ops', 'meshpipe alerts test alertmanager --timeout 60 --json'],
  async run(ctx) {
    const { config } = ctx.config();
    const name = ctx.positionals[0]!;
    const timeoutSeconds = ctx.values.timeout === undefined ? 30 : Number(ctx.values.timeout);
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0 || timeoutSeconds > 3600) {
      throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, [
        '--timeout must be a number of seconds from 1 to 3600',
      ]);
    }
    const alerts = config.sinks.alerts;
    const configured = alerts.receivers.find((r) => r.name === name);
    if (configured === undefined) {
      throw new MeshpipeError(ERRORS.ALERTS_RECEIVER_UNKNOWN, [
        name,
        alerts.receivers.map((r) => r.name).join(', ') || 'none',
      ]);
    }
    const [{ resolveReceiver }, { sendTestAlert }, queues] = await Promise.all([
      import('../../sinks/alerts/receivers.ts'),
      import('../../sinks/alerts/test-alert.ts'),
      import('../../sinks/alerts/alert-queues.ts'),
    ]);
    const receiver = resolveReceiver(configured);
    const redisUrl = await redisUrlOf(config);
    const redis = queues.producerConnection(redisUrl, ctx.logger);
    try {
      await queues.ready(redis, redisUrl);
      ctx.progress.update(`sending a test alert to ${name} (${receiver.type})`);
      const result = await sendTestAlert({
        receiver,
        redis,
        redisUrl,
        config: alerts,
        timeoutMs: timeoutSeconds * 1000,
        logger: ctx.logger,
      });
      ctx.progress.done();
      const failure =
        result.outcome === 'delivered'
          ? undefined
          : result.code === ERRORS.ALERTS_RECEIVER_REJECTED.code
            ? new MeshpipeError(ERRORS.ALERTS_RECEIVER_REJECTED, [name, result.error ?? 'rejected'])
            : new MeshpipeError(ERRORS.ALERTS_TEST_UNDELIVERED, [
                name,
                `${result.outcome === 'pending' ? `still retrying after ${timeoutSeconds} s` : 'failed'} (${result.attempts} attempt(s)): ${result.error}`,
              ]);
      if (ctx.json) {
        // One document either way; the exit code says whether it was delivered.
        ctx.printJson(
          failure === undefined ? result : { ...result, code: failure.code, message: failure.message },
        );
        return failure?.exitCode ?? 0;
      }
      if (failure !== undefined) throw failure;
      ctx.out(
        `delivered to ${name} (${receiver.type}): HTTP ${result.status} after ${result.attempts} attempt(s), ${result.durationMs} ms; job ${result.jobId}`,
      );
      return 0;
    } finally {
      await redis.quit().catch(() => redis.disconnect());
    }
  },
};

export const status: CommandDefinition = {
  name: 'alerts status',
  summary:
    'Alert queues per receiver (waiting, active, delayed, completed, failed), recent failures and dead letters.',
  usage: 'alerts status [--limit n] [--json]',
  description:
    'Read from Redis, so it works whether or not a sink is running. Recent failures are jobs waiting for another attempt (with the last failure) and jobs that failed for good; dead letters are the transitions that will not be delivered, with the error code and reason (docs/errors.md).',
  options: {
    limit: { type: 'string', value: '<n>', doc: 'Failures and dead letters shown per list (default 10).' },
  },
  json: true,
  examples: ['meshpipe alerts status', 'meshpipe alerts status --json | jq .deadLetters'],
  async run(ctx) {
    const { config } = ctx.config();
    const limit = ctx.values.limit === undefined ? 10 : Number(ctx.values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, ['--limit must be an integer from 1 to 1000']);
    }
    const [{ alertsStatus }, queues] = await Promise.all([
      import('../../sinks/alerts/alerts-status.ts'),
      import('../../sinks/alerts/alert-queues.ts'),
    ]);
    const redisUrl = await redisUrlOf(config);
    const redis = queues.producerConnection(redisUrl, ctx.logger);
    try {
      await queues.ready(redis, redisUrl);
      const report = await alertsStatus(redis, maskUrl(redisUrl), config.sinks.alerts, { limit });
      if (ctx.json) {
        ctx.printJson(report);
        return 0;
      }
      ctx.out(`redis ${report.redis.url}: ${report.redis.note}`);
      if (report.receivers.length === 0) ctx.out('no receivers configured (sinks.alerts.receivers)');
      for (const r of report.receivers) {
        const c = r.counts;
        const paused =
          r.rateLimitedForMs > 0
            ? ` · paused ${Math.ceil(r.rateLimitedForMs / 1000)} s (rate limit or 429)`
            : '';
        ctx.out(
          `${r.name} (${r.type}, ${r.url}): waiting ${c.waiting} · active ${c.active} · delayed ${c.delayed} · completed ${c.completed} · failed ${c.failed}${paused}`,
        );
        for (const f of r.recentFailures) {
          ctx.out(
            `  ${f.state === 'retrying' ? 'retrying' : 'failed  '} ${f.at ?? ''} ${f.jobId} (${f.attempts} attempt(s)): ${f.reason}`,
          );
        }
      }
      ctx.out(`dead letters: ${report.deadLetters.total}`);
      for (const d of report.deadLetters.recent) {
        ctx.out(`  ${d.failedAt} ${d.jobId} ${d.code} (${d.attempts} attempt(s)): ${d.reason}`);
        ctx.out(`    ${d.summary}`);
      }
      return 0;
    } finally {
      await redis.quit().catch(() => redis.disconnect());
    }
  },
};
