/**
 * Redis killed (SIGKILL) and restarted while alerts are queued: nothing is lost. The test runs its own
 * redis-server (append-only, every write fsynced: the durable configuration docs/alerts.md recommends),
 * never the shared one. The receiver is down while Redis dies, so every transition is queued and
 * retrying; more anomalies arrive while Redis is down (they wait in Kafka: the sink cannot enqueue, so it
 * does not commit); once both are back, every transition arrives exactly once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunningSink } from '../../../sinks/runtime/host.ts';
import { type TestKafka, testKafka } from '../../../testkit/kafka.ts';
import { waitFor } from '../../helpers/wait.ts';
import {
  anomaly,
  PrivateRedis,
  produceAnomalies,
  queueCounts,
  sinkConfig,
  startAlertsSink,
} from './helpers.ts';
import { WebhookReceiver } from './webhook-receiver.ts';

describe('Redis restart with alerts queued', { timeout: 180_000 }, () => {
  let k: TestKafka;
  let redis: PrivateRedis;
  let receiver: WebhookReceiver;
  let sink: RunningSink | undefined;

  before(async () => {
    k = await testKafka('alerts-redis-restart');
    await k.createTopics();
    redis = new PrivateRedis();
    await redis.start();
    receiver = new WebhookReceiver();
    await receiver.up();
    await receiver.down(); // the port is known and refuses connections
  });
  after(async () => {
    await sink?.stop();
    await receiver?.down();
    await redis?.stop();
    await k?.cleanup();
  });

  it('keeps every queued transition and delivers each once afterwards', async () => {
    const config = sinkConfig([{ name: 'ops', url: receiver.url }], {
      queuePrefix: 'restart',
      initialBackoffMs: 500,
      maxBackoffMs: 2_000,
      attempts: 100,
    });
    sink = await startAlertsSink(k, redis.url, config);
    const transitions = Array.from({ length: 8 }, () => anomaly());
    await produceAnomalies(k, transitions);
    await waitFor('eight queued transitions, retrying against the down receiver', async () => {
      const c = await queueCounts(redis.url, 'restart', 'ops');
      return c.delayed! + c.waiting! + c.active! === 8 && c.completed === 0;
    });
    assert.equal(receiver.requests.length, 0);

    await redis.kill();
    // While Redis is down the worker keeps failing to reach it; give it a moment of that.
    await new Promise((r) => setTimeout(r, 1_500));
    await redis.start();
    const after = await queueCounts(redis.url, 'restart', 'ops');
    assert.equal(
      after.delayed! + after.waiting! + after.active!,
      8,
      `all eight survived the kill: ${JSON.stringify(after)}`,
    );

    await receiver.up();
    await waitFor('every transition delivered', () => receiver.deliveriesByKey().size === 8, {
      timeoutMs: 90_000,
    });
    await new Promise((r) => setTimeout(r, 1_500));
    assert.deepEqual([...receiver.deliveriesByKey().values()], new Array(8).fill(1), 'each exactly once');
    assert.deepEqual(
      [...receiver.deliveriesByKey().keys()].sort(),
      transitions.map((t) => `ops.${t.transitionId}`).sort(),
    );
  });
});
