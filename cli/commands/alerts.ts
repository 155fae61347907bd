/**
 * The alert commands (the alerts sink itself runs as `meshpipe sink alerts`, cli/commands/sink.ts):
 *   meshpipe alerts test <receiver>      a test alert through the receiver's real queue, and its outcome
 *   meshpipe alerts status               queues, recent failures and dead letters, from Redis
 * Redis is `redis.url` (MESHPIPE_REDIS_URL), else the local stack's.
 */
import type { MeshpipeConfig } from '../../lib/config/meshpipe-config.ts';
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { maskUrl } from '../../lib/mask.ts';
import { resolveSinkConfig } from '../../sinks/registry.ts';
import type { CommandDefinition } from '../command.ts';
import { redisUrlOf } from '../redis-url.ts';

/** `sinks.alerts`, validated by the alerts sink's own spec (errors name the key). */
async function alertsSection(config: MeshpipeConfig) {
  const { alertsSinkDefinition } = await import('../../sinks/alerts/sink.ts');
  return resolveSinkConfig(alertsSinkDefinition, config);
}

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
    const alerts = await alertsSection(config);
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
      const report = await alertsStatus(redis, maskUrl(redisUrl), await alertsSection(config), { limit });
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
