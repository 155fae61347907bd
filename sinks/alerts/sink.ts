/**
 * The alerts sink: meshpipe.anomalies.v1 → BullMQ (Redis) → signed webhooks.
 *
 *   anomalies ─► sink host (batch, commit after ack) ─► AlertEnqueuer: one job per receiver and transition
 *                                                         │  job id = <receiver>.<transitionId>
 *                                                         ▼
 *                                     Redis: queue alerts-<receiver> ─► ReceiverDelivery (per receiver):
 *                                     group, sign, POST; retry, 429 pause, rate limit; dead letters
 *
 * The definition is built with its Redis URL (the sink host hands createExporter only the sink's own
 * section; Redis is `redis.url`, shared with the rest of meshpipe).
 */
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { maskUrl } from '../../lib/mask.ts';
import { defineSink } from '../runtime/definition.ts';
import { durabilityOf, producerConnection, ready } from './alert-queues.ts';
import { alertViewOf } from './alert-view.ts';
import { alertsSinkSpec } from './config.ts';
import { AlertDeliveryService } from './delivery.ts';
import { AlertEnqueuer, type AlertTransition } from './enqueue-exporter.ts';
import { resolveReceivers } from './receivers.ts';

export interface AlertsSinkDependencies {
  redisUrl: string;
  /** Where `secretEnv` is looked up (default process.env). */
  env?: Record<string, string | undefined>;
}

export function alertsSink(deps: AlertsSinkDependencies) {
  return defineSink({
    name: 'alerts',
    description:
      'Anomaly transitions to webhooks (generic JSON, Slack, Alertmanager) through BullMQ queues on Redis.',
    input: 'anomalies',
    config: alertsSinkSpec,
    unit: 'transitions',
    prepare: (record): AlertTransition => ({
      alert: alertViewOf(record.value),
      source: { topic: record.topic, partition: record.partition, offset: record.offset },
    }),
    async createExporter({ config, logger }) {
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
    },
  });
}
