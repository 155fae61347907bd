/**
 * The loader dies (SIGKILL: no STATS, no goodbye); the collector notices, counts it, starts a new one
 * after its backoff, and capture goes on. Needs root.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Collector } from '../../../collectors/collector.ts';
import { type TestKafka, testKafka } from '../../../testkit/kafka.ts';
import { createPodPair, type PodPair, podExec, requireRoot, stopProcess } from '../../bpf/helpers/pods.ts';
import { waitFor } from '../../helpers/wait.ts';
import {
  collectorConfig,
  RawTopicReader,
  sideOf,
  startCollector,
  startHttpServer,
  testPort,
} from '../helpers/harness.ts';

requireRoot();

const PORT = testPort();

describe('collector: the loader dies', () => {
  let pods: PodPair;
  let k: TestKafka;
  let server: ChildProcess | undefined;
  let collector: Collector | undefined;
  let reader: RawTopicReader | undefined;

  before(async () => {
    pods = createPodPair('restart');
    k = await testKafka('loader-restart');
    await k.createTopics();
    server = await startHttpServer(pods.b, [`0.0.0.0:${PORT}`]);
    collector = (
      await startCollector(
        collectorConfig({ brokers: k.brokers, prefix: k.prefix, collector: { ports: [PORT] } }),
      )
    ).collector;
    reader = await RawTopicReader.start(k.kafka, k.topic('raw'));
  });

  after(async () => {
    await collector?.stop();
    await reader?.stop();
    await stopProcess(server);
    await k?.cleanup();
    pods?.remove();
  });

  const curlPort = async () =>
    Number(
      await podExec(pods.a, 'curl', [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{local_port}',
        `http://${pods.b.addr}:${PORT}/hello`,
      ]),
    );

  it('restarts it with backoff, counts the restart, and keeps capturing', async () => {
    const c = collector!;
    const first = c.loaderPid!;
    assert.ok(first > 0);
    process.kill(first, 'SIGKILL');
    const second = await waitFor(
      'a new loader',
      () => (c.loaderPid !== undefined && c.loaderPid !== first ? c.loaderPid : false),
      {
        timeoutMs: 20_000,
      },
    );
    assert.notEqual(second, first);
    assert.equal(c.counters.loaderRestarts, 1);
    assert.match(await c.metrics.exposition(), /^meshpipe_collector_loader_restarts_total 1$/m);

    const port = await curlPort();
    const events = await reader!.waitFor('the request after the restart', (rs) => {
      const side = sideOf(rs.events(), pods.b, port);
      return side.some((e) => e.kind === 'CLOSE') && side;
    });
    assert.deepEqual(
      events.map((e) => e.kind),
      ['OPEN', 'DATA', 'DATA', 'CLOSE'],
    );
    // Connection ids of the new loader run cannot collide with the first run's.
    assert.ok(events[0]!.connection.id >= 1n << 44n, `id ${events[0]!.connection.id}`);
  });
});
