/**
 * The alerts sink end to end: a real Kafka, the sink host, BullMQ on a real Redis, and a real HTTP
 * receiver. Exactly once at the receiver through an outage and through Kafka redelivery, signed requests
 * that verify (and tampered or replayed ones that do not), bursts grouped into one request, the
 * per-receiver rate limit, 429 Retry-After, and 4xx as permanent failures that become dead letters.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { verifyWebhookSignature } from '../../../sdk/verify-webhook.ts';
import type { RunningSink } from '../../../sinks/runtime/host.ts';
import { type TestKafka, testKafka, testRedisUrl } from '../../../testkit/kafka.ts';
import { waitFor } from '../../helpers/wait.ts';
import {
  anomaly,
  dropPrefix,
  produceAnomalies,
  queueCounts,
  SECRET,
  sinkConfig,
  startAlertsSink,
  uniquePrefix,
} from './helpers.ts';
import { WebhookReceiver } from './webhook-receiver.ts';

describe('alerts sink delivery', { timeout: 120_000 }, () => {
  let k: TestKafka;
  let redisUrl: string;
  let prefix: string;
  let receiver: WebhookReceiver;
  const sinks: RunningSink[] = [];

  beforeEach(async () => {
    k = await testKafka('alerts-delivery');
    await k.createTopics();
    redisUrl = await testRedisUrl();
    prefix = uniquePrefix('delivery');
    receiver = new WebhookReceiver();
    await receiver.up();
  });
  afterEach(async () => {
    await Promise.allSettled(sinks.splice(0).map((s) => s.stop()));
    await receiver.down();
    await dropPrefix(redisUrl, prefix);
    await k.cleanup();
  });

  it('receiver down, then up: every transition arrives exactly once, also when Kafka redelivers', async () => {
    await receiver.down();
    const config = sinkConfig([{ name: 'ops', url: receiver.url }], { queuePrefix: prefix });
    sinks.push(await startAlertsSink(k, redisUrl, config));
    const transitions = Array.from({ length: 6 }, () => anomaly());
    // Each record twice: what Kafka does after a crash between enqueueing and committing.
    await produceAnomalies(k, [...transitions, ...transitions]);
    await waitFor('six retrying jobs, none delivered', async () => {
      const c = await queueCounts(redisUrl, prefix, 'ops');
      return c.delayed! + c.waiting! + c.active! === 6 && c.completed === 0;
    });
    assert.equal(receiver.requests.length, 0);

    await receiver.up();
    await waitFor('every transition delivered', () => receiver.deliveriesByKey().size === 6);
    // A second consumer group reads the whole topic again: a redelivery of every record.
    sinks.push(await startAlertsSink(k, redisUrl, config, `${k.prefix}-replay`));
    await waitFor(
      'the replay consumed the topic',
      async () => (await queueCounts(redisUrl, prefix, 'ops')).completed === 6,
    );
    await new Promise((r) => setTimeout(r, 1_000));

    const counts = receiver.deliveriesByKey();
    assert.deepEqual(
      [...counts.values()],
      [1, 1, 1, 1, 1, 1],
      'one delivery per idempotency key, through the outage and the redelivery',
    );
    assert.deepEqual(
      [...counts.keys()].sort(),
      transitions.map((t) => `ops.${t.transitionId}`).sort(),
      'the key is <receiver>.<transitionId>',
    );
    for (const request of receiver.accepted()) {
      const body = JSON.parse(request.body) as {
        alerts: Array<{ idempotencyKey: string }>;
        requestKey: string;
      };
      assert.equal(request.headers['idempotency-key'], body.requestKey);
      if (body.alerts.length === 1) assert.equal(body.requestKey, body.alerts[0]!.idempotencyKey);
    }
  });

  it('signs every request: the real request verifies, a tampered or replayed one does not', async () => {
    sinks.push(
      await startAlertsSink(
        k,
        redisUrl,
        sinkConfig([{ name: 'signed', url: receiver.url }], { queuePrefix: prefix }),
      ),
    );
    await produceAnomalies(k, [anomaly()]);
    await waitFor('a delivery', () => receiver.accepted().length === 1);
    const [request] = receiver.accepted();
    assert.match(String(request!.headers['x-meshpipe-signature']), /^v1=[0-9a-f]{64}$/);
    assert.match(String(request!.headers['x-meshpipe-timestamp']), /^\d+$/);

    const seen = new Set<string>();
    const verify = (body: string, headers = request!.headers, nowMs?: number) =>
      verifyWebhookSignature({
        body,
        headers,
        secret: SECRET,
        seen,
        ...(nowMs === undefined ? {} : { nowMs }),
      });
    assert.deepEqual(
      { ...verify(request!.body), timestamp: 0, signature: '' },
      { ok: true, timestamp: 0, signature: '' },
    );
    assert.deepEqual(verify(request!.body), { ok: false, reason: 'replayed' }, 'the same request again');
    const tampered = request!.body.replace('"firing"', '"resolved"');
    assert.notEqual(tampered, request!.body);
    assert.deepEqual(verify(tampered), { ok: false, reason: 'signature_mismatch' });
    const later = Number(request!.headers['x-meshpipe-timestamp']) * 1000 + 301_000;
    assert.deepEqual(
      verifyWebhookSignature({
        body: request!.body,
        headers: request!.headers,
        secret: SECRET,
        nowMs: later,
      }),
      { ok: false, reason: 'timestamp_out_of_window' },
      'replayed after the tolerance window',
    );
    assert.deepEqual(
      verifyWebhookSignature({ body: request!.body, headers: request!.headers, secret: 'another-key' }),
      { ok: false, reason: 'signature_mismatch' },
    );
  });

  it('groups a burst into one request and keeps each transition its own key', async () => {
    const config = sinkConfig([{ name: 'grouped', url: receiver.url, groupWindowMs: 1_500 }], {
      queuePrefix: prefix,
    });
    sinks.push(await startAlertsSink(k, redisUrl, config));
    const burst = Array.from({ length: 5 }, () => anomaly());
    await produceAnomalies(k, burst);
    await waitFor('the burst delivered', () => receiver.deliveriesByKey().size === 5);
    assert.equal(receiver.accepted().length, 1, 'one request for the five transitions');
    const body = JSON.parse(receiver.accepted()[0]!.body) as {
      version: string;
      status: string;
      alerts: Array<{
        transitionId: string;
        status: string;
        idempotencyKey: string;
        evidence: { unit: string };
      }>;
      requestKey: string;
    };
    assert.equal(body.version, '1');
    assert.equal(body.status, 'firing');
    assert.deepEqual(
      body.alerts.map((a) => a.transitionId),
      burst.map((a) => a.transitionId),
      'in transition order',
    );
    assert.match(body.requestKey, /^group-[0-9a-f]{32}$/);
    assert.equal(receiver.accepted()[0]!.headers['idempotency-key'], body.requestKey);
  });

  it('remembers the newest transition of at most maxTrackedAnomalies anomalies, none older than keepCompletedMs', async () => {
    const redis = new Redis(redisUrl);
    try {
      // What an earlier version left (an unbounded hash), and a fingerprint past the idempotency window.
      await redis.hset(`${prefix}:alerts:bounded:latest`, 'fp-old-version', '1');
      await redis.zadd(`${prefix}:alerts:bounded:newest`, Date.now() - 8 * 86_400_000, 'fp-expired');
      const config = sinkConfig([{ name: 'bounded', url: receiver.url }], {
        queuePrefix: prefix,
        maxTrackedAnomalies: 10,
      });
      sinks.push(await startAlertsSink(k, redisUrl, config));
      const transitions = Array.from({ length: 15 }, () => anomaly());
      await produceAnomalies(k, transitions);
      await waitFor('every transition delivered', () => receiver.deliveriesByKey().size === 15);
      // Remembered once the deliveries are recorded, just after the receiver answered.
      const newest = transitions.slice(5).map((t) => t.fingerprint);
      await waitFor('the ten newest remembered, in time order', async () => {
        const remembered = await redis.zrange(`${prefix}:alerts:bounded:newest`, 0, -1);
        return remembered.join() === newest.join();
      });
      assert.equal(await redis.exists(`${prefix}:alerts:bounded:latest`), 0, 'the old hash is gone');
    } finally {
      await redis.quit();
    }
  });

  it('holds the per-receiver rate limit', async () => {
    const config = sinkConfig(
      [{ name: 'limited', url: receiver.url, rateLimit: { max: 2, durationMs: 1_000 } }],
      {
        queuePrefix: prefix,
      },
    );
    sinks.push(await startAlertsSink(k, redisUrl, config));
    await produceAnomalies(
      k,
      Array.from({ length: 6 }, () => anomaly()),
    );
    await waitFor('all six delivered', () => receiver.deliveriesByKey().size === 6, { timeoutMs: 60_000 });
    // BullMQ's limiter: at most 2 jobs start per 1 s window, so the six take at least three windows. An
    // upper bound on starts per second is a property of the limiter, not a performance figure.
    const times = receiver.accepted().map((r) => r.atMs);
    for (const t of times) {
      assert.ok(
        times.filter((u) => u >= t && u < t + 1_000).length <= 2,
        `more than 2 requests in 1 s: ${times}`,
      );
    }
  });

  it('honours 429 Retry-After: nothing reaches the receiver before the delay it asked for', async () => {
    receiver.respond = (_r, i) =>
      i === 0 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200 };
    sinks.push(
      await startAlertsSink(
        k,
        redisUrl,
        sinkConfig([{ name: 'throttled', url: receiver.url }], { queuePrefix: prefix }),
      ),
    );
    const [a, b] = [anomaly(), anomaly()];
    await produceAnomalies(k, [a!]);
    await waitFor('the 429', () => receiver.requests.length === 1);
    await produceAnomalies(k, [b!]);
    await waitFor('both delivered', () => receiver.deliveriesByKey().size === 2, { timeoutMs: 30_000 });
    const throttledAt = receiver.requests[0]!.atMs;
    for (const r of receiver.requests.slice(1)) {
      assert.ok(
        r.atMs - throttledAt >= 1_990,
        `a request ${r.atMs - throttledAt} ms after the 429 asked for 2 s`,
      );
    }
    // The retry used an attempt (the attempts bound 429 loops too) and no other backoff.
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue('alerts-throttled', { connection, prefix });
    try {
      const job = await queue.getJob(`throttled.${a!.transitionId}`);
      assert.equal(job?.attemptsMade, 2);
      assert.equal(job?.returnvalue?.status, 200);
    } finally {
      await queue.close();
      await connection.quit();
    }
  });

  it('a 4xx is permanent: no retry, a dead letter with the reason', async () => {
    receiver.respond = () => ({ status: 403 });
    sinks.push(
      await startAlertsSink(
        k,
        redisUrl,
        sinkConfig([{ name: 'strict', url: receiver.url }], { queuePrefix: prefix }),
      ),
    );
    const rejected = anomaly();
    await produceAnomalies(k, [rejected]);
    await waitFor('the job failed', async () => (await queueCounts(redisUrl, prefix, 'strict')).failed === 1);
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(receiver.requests.length, 1, 'tried once');
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const dlq = new Queue('alerts-dead-letters', { connection, prefix });
    try {
      const [letter] = await dlq.getWaiting();
      assert.equal(letter?.id, `strict.${rejected.transitionId}`);
      assert.equal(letter?.data.code, 'MESHPIPE_ERR_ALERTS_RECEIVER_REJECTED');
      assert.equal(letter?.data.status, 403);
      assert.match(letter?.data.reason, /HTTP 403/);
    } finally {
      await dlq.close();
      await connection.quit();
    }
  });
});
