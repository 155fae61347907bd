/**
 * The alerts sink: meshpipe.anomalies.v1 → BullMQ (Redis) → signed webhooks.
 *
 *   anomalies ─► sink host (batch, commit after ack) ─► AlertEnqueuer: one job per receiver and transition
 *                                                         │  job id = <receiver>.<transitionId>
 *                                                         ▼
 *                                     Redis: queue alerts-<receiver> ─► ReceiverDelivery (per receiver):
 *                                     group, sign, POST; retry, 429 pause, rate limit; dead letters
 *
 * Redis is `redis.url`, shared with the rest of meshpipe: the definition `needs: ['redis']`, and the
 * command that runs the sink resolves it (the local stack's Redis when unset) into `ctx.redisUrl`.
 */
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { maskUrl } from '../../lib/mask.ts';
import { defineSink, type SinkContext } from '../runtime/definition.ts';
import { durabilityOf, producerConnection, ready } from './alert-queues.ts';
import { alertViewOf } from './alert-view.ts';
import { type AlertsSinkConfig, alertsSinkSpec } from './config.ts';
import { AlertDeliveryService } from './delivery.ts';
import { AlertEnqueuer, type AlertTransition } from './enqueue-exporter.ts';
import { resolveReceivers } from './receivers.ts';

export interface AlertsSinkDependencies {
  redisUrl: string;
  /** Where `secretEnv` is looked up (default process.env). */
  env?: Record<string, string | undefined>;
}

export const alertsSinkDefinition = defineSink({
  name: 'alerts',
  description:
    'Anomaly transitions to webhooks (generic JSON, Slack, Alertmanager) through BullMQ queues on Redis.',
  input: 'anomalies',
  config: alertsSinkSpec,
  unit: 'transitions',
  help: "Enqueues one BullMQ job per receiver and transition (job id <receiver>.<transitionId>: a transition Kafka delivers twice is enqueued once); the Kafka offsets are committed only once the jobs are in Redis (redis.url, else the local stack's). Delivery workers in the same process sign every request, group bursts, retry with backoff and jitter, honour 429 Retry-After, respect each receiver's rate limit and dead-letter what cannot be delivered. docs/alerts.md.",
  examples: [
    'meshpipe sink alerts',
    'MESHPIPE_ALERTS_OPS_SECRET=... meshpipe sink alerts --listen 0.0.0.0:9468 --json',
  ],
  needs: ['redis'],
  // Alert delivery, when there is somewhere to deliver to. The detector's anomalies are on the topic
  // (`meshpipe tail meshpipe.anomalies.v1`) either way.
  runInUp: (config) => config.receivers.length > 0,
  prepare: (record): AlertTransition => ({
    alert: alertViewOf(record.value),
    source: { topic: record.topic, partition: record.partition, offset: record.offset },
  }),
  createExporter: (ctx) => createEnqueuer(ctx, { redisUrl: ctx.redisUrl ?? '' }),
});

/** The alerts sink with its Redis given here (tests; `env` is where `secretEnv` is looked up). */
export function alertsSink(deps: AlertsSinkDependencies): typeof alertsSinkDefinition {
  return { ...alertsSinkDefinition, createExporter: (ctx) => createEnqueuer(ctx, deps) };
}

async function createEnqueuer(
  { config, logger }: SinkContext<AlertsSinkConfig>,
  deps: AlertsSinkDependencies,
): Promise<AlertEnqueuer> {
  if (config.receivers.length === 0) throw new MeshpipeError(ERRORS.ALERTS_NO_RECEIVERS);
  const receivers = resolveReceivers(config, deps.env);
  if (deps.redisUrl === '') {
    throw new MeshpipeError(ERRORS.ALERTS_REDIS_UNAVAILABLE, ['(none)', 'no Redis is configured']);
  }
  const producer = producerConnection(deps.redisUrl, logger);
  let delivery: AlertDeliveryService | undefined;
  const closeAll = async () => {
    await delivery?.stop();
    await producer.quit().catch(() => producer.disconnect());
  };
  try {
    await ready(producer, deps.redisUrl);
    const durability = await durabilityOf(producer);
    const log = durability.appendonly === 'yes' ? logger.info.bind(logger) : logger.warn.bind(logger);
    log({ redis: maskUrl(deps.redisUrl), ...durability }, `alert queues: ${durability.note}`);
    if (config.deliver) {
      delivery = await AlertDeliveryService.start({
        redisUrl: deps.redisUrl,
        receivers,
        settings: config,
        logger,
      });
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  logger.info(
    { receivers: receivers.map((r) => `${r.name} (${r.type})`), deliver: config.deliver },
    'alerts sink ready',
  );
  return new AlertEnqueuer({ receivers, connection: producer, config, logger, onShutdown: closeAll });
}

export default alertsSinkDefinition;
