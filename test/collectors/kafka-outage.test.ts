/**
 * Kafka goes away while traffic is captured, then comes back. On a broker of its own (a separate local
 * stack in a temp directory: the shared broker other tests use is never touched). The collector must
 * keep running, bound its memory (a small buffer here, so the outage overflows it), count every event
 * it could not deliver, recover by itself, and account exactly:
 *
 *     captured = produced + dropped{agent, kafka}
 *
 * with every produced event in the topic and the sequence numbers missing from the topic exactly the
 * ones dropped after numbering (failed produce requests, shutdown). Needs root.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { choosePort } from '../../cli/stack/ports.ts';
import { droppedTotal } from '../../collectors/capture-counters.ts';
import type { Collector } from '../../collectors/collector.ts';
import { createKafka, type KafkaAdmin, type KafkaClient } from '../../lib/kafka.ts';
import { allTopicDefinitions, ensureTopics } from '../../schemas/cluster-topics.ts';
import { TOPICS, topicName } from '../../schemas/topics.ts';
import { testLogger } from '../../testkit/kafka.ts';
import { createPodPair, type PodPair, requireRoot, runClient, stopProcess } from '../bpf/helpers/pods.ts';
import { runCli } from '../helpers/cli.ts';
import { waitFor } from '../helpers/wait.ts';
import {
  collectorConfig,
  RawTopicReader,
  startCollector,
  startHttpServer,
  testPort,
} from './helpers/harness.ts';

requireRoot();

const PORT = testPort();
const PREFIX = 'outage';
const BUFFER_EVENTS = 300;

describe('collector: Kafka stopped during capture (a dedicated broker)', () => {
  let dir: string;
  let env: Record<string, string>;
  let brokers: string[];
  let kafka: KafkaClient;
  let admin: KafkaAdmin | undefined;
  let pods: PodPair;
  let server: ChildProcess | undefined;
  let collector: Collector | undefined;

  const stack = async (action: 'start' | 'stop') => {
    const args =
      action === 'start' ? ['stack', 'start', '--no-redis', '--json'] : ['stack', 'stop', '--json'];
    const r = await runCli(args, { env, timeoutMs: 180_000 });
    assert.equal(r.code, 0, `stack ${action}: ${r.stderr}`);
    return JSON.parse(r.stdout) as { endpoints?: { kafkaBrokers: string[] } };
  };
  /** `n` keep-alive requests: 4 DATA events each (both ends), plus OPEN/CLOSE. */
  const traffic = (n: number) =>
    runClient<{ localPorts: number[] }>(pods.a, 'keepalive', pods.b.addr, PORT, n);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshpipe-outage-'));
    const config = join(dir, 'meshpipe.json');
    writeFileSync(
      config,
      JSON.stringify({ stack: { kafkaPort: await choosePort(29_092), kafkaHeapMb: 384 } }),
    );
    env = {
      MESHPIPE_STACK_DIR: join(dir, 'stack'),
      MESHPIPE_CONFIG: config,
      MESHPIPE_KAFKA_BROKERS: '',
      MESHPIPE_REDIS_URL: '',
    };
    brokers = (await stack('start')).endpoints!.kafkaBrokers;
    kafka = createKafka({ brokers, clientId: 'test-outage', logger: testLogger });
    admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, allTopicDefinitions(), { prefix: PREFIX, replicationFactor: -1 });
    await admin.disconnect();
    admin = undefined;

    pods = createPodPair('outage');
    server = await startHttpServer(pods.b, [`0.0.0.0:${PORT}`]);
    collector = (
      await startCollector(
        collectorConfig({
          brokers,
          prefix: PREFIX,
          collector: {
            ports: [PORT],
            buffer: { maxEvents: BUFFER_EVENTS },
            producer: { retries: 2, lingerMs: 20 },
            metricsIntervalMs: 60_000,
          },
        }),
      )
    ).collector;
  });

  after(async () => {
    await collector?.stop(2000);
    await admin?.disconnect().catch(() => {});
    await stopProcess(server);
    pods?.remove();
    await runCli(['stack', 'stop'], { env, timeoutMs: 60_000 }).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps capturing through the outage, drops within its bounds, recovers, and accounts exactly', async () => {
    const c = collector!;
    const settled = (what: string, timeoutMs = 60_000) =>
      waitFor(
        what,
        () => {
          const t = c.totals();
          return t.buffered === 0 && t.captured > 0 && t.captured === t.produced + t.dropped && t;
        },
        { timeoutMs, intervalMs: 100 },
      );

    await traffic(20);
    const before = await settled('the first requests produced');
    assert.equal(before.dropped, 0);

    await stack('stop');
    // Far more events than the buffer holds: the outage must overflow it.
    await traffic(200);
    await waitFor(
      'events refused by the full buffer',
      () => (c.counters.dropped.get('agent/buffer_full') ?? 0) > 0,
      {
        timeoutMs: 30_000,
      },
    );
    assert.ok(c.writer.size <= BUFFER_EVENTS, 'the buffer stays within its bound');
    const outage = await waitFor('the status to show the outage', () => c.status.state !== 'ok' && c.status, {
      timeoutMs: 30_000,
    });
    assert.equal(outage.state, 'degraded');
    assert.match(outage.summary, /dropped/);

    await stack('start');
    // Back once events are produced again (the producer reconnects with backoff, the broker loads).
    await waitFor(
      'events produced again after the restart',
      async () => {
        await traffic(1);
        await sleep(500);
        return c.counters.produced > before.produced;
      },
      { timeoutMs: 120_000, intervalMs: 0 },
    );
    const [afterPort] = (await traffic(20)).localPorts;
    const final = await settled('the requests after the outage produced');
    assert.ok(final.produced > before.produced);

    await c.stop();
    const t = c.totals();
    const agentKafkaDrops = droppedTotal(c.counters, ['agent', 'kafka']);
    assert.equal(
      t.captured,
      t.produced + agentKafkaDrops,
      JSON.stringify({ t, dropped: [...c.counters.dropped] }),
    );
    assert.ok((c.counters.dropped.get('agent/buffer_full') ?? 0) > 0);
    const exposition = await c.metrics.exposition();
    assert.match(exposition, /meshpipe_collector_dropped_total\{stage="agent",reason="buffer_full"\} [1-9]/);

    // The topic holds exactly what was produced; the missing sequence numbers are the events dropped
    // after numbering (failed requests, shutdown) — a full buffer refuses before numbering.
    const reader = await RawTopicReader.start(kafka, topicName(TOPICS.raw, PREFIX));
    try {
      await reader.waitFor(
        'every produced event in the topic',
        (r) => r.records.length >= t.produced,
        60_000,
      );
      assert.equal(reader.records.length, t.produced);
      const seqs = new Set(reader.records.map((r) => r.event.seq));
      assert.equal(seqs.size, t.produced, 'no duplicates');
      const numbered =
        t.produced + droppedTotal(c.counters, ['kafka']) + (c.counters.dropped.get('agent/shutdown') ?? 0);
      let max = 0n;
      for (const r of reader.records) if (r.event.seq > max) max = r.event.seq;
      assert.ok(max < BigInt(numbered), `highest sequence number ${max} of ${numbered} numbered events`);
      // The requests made after Kafka came back are there, both ends, all 20.
      const recovered = reader.records.filter(
        (r) => r.event.connection.localPort === afterPort || r.event.connection.peerPort === afterPort,
      );
      const answers = recovered.filter(
        (r) => r.event.direction === 'INGRESS' && r.event.connection.role === 'CLIENT',
      );
      assert.equal(answers.length, 20);
    } finally {
      await reader.stop();
    }
  });
});
