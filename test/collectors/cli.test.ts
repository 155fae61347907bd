/**
 * The collector's commands as a user runs them: `meshpipe collect` (raw events to Kafka, /metrics,
 * /healthz, metrics on the metrics topic, a clean stop), `meshpipe observe --json` (the curl you just
 * ran), `meshpipe record` (a file that reads back), and their failures (a bad filter, no permission to
 * load eBPF: the code and the fix). Needs root.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { choosePort } from '../../cli/stack/ports.ts';
import { codecFor } from '../../schemas/codec.ts';
import type { L7RawEvent, MetricSample } from '../../schemas/types.ts';
import { readRecording } from '../../sdk/recording.ts';
import { follow, type TestKafka, testKafka } from '../../testkit/kafka.ts';
import { createPodPair, type PodPair, podExec, requireRoot, stopProcess } from '../bpf/helpers/pods.ts';
import { jsonLines, runCli } from '../helpers/cli.ts';
import { waitFor } from '../helpers/wait.ts';
import { runCliAs, startCli } from './helpers/cli-child.ts';
import { RawTopicReader, startHttpServer, testPort } from './helpers/harness.ts';

requireRoot();

const PORT = testPort();

describe('meshpipe collect, observe, record', () => {
  let pods: PodPair;
  let k: TestKafka;
  let server: ChildProcess | undefined;
  let dir: string;
  let env: Record<string, string>;

  const curl = async (path = '/hello') => {
    const out = await podExec(pods.a, 'curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{local_port}',
      `http://${pods.b.addr}:${PORT}${path}`,
    ]);
    const [status, port] = out.split(' ').map(Number) as [number, number];
    return { status, port };
  };

  before(async () => {
    pods = createPodPair('cli');
    k = await testKafka('collector-cli');
    await k.createTopics();
    server = await startHttpServer(pods.b, [`0.0.0.0:${PORT}`]);
    dir = mkdtempSync(join(tmpdir(), 'meshpipe-collector-cli-'));
    const config = join(dir, 'meshpipe.json');
    writeFileSync(
      config,
      JSON.stringify({ collector: { ports: [PORT], metricsIntervalMs: 500 }, node: { name: 'cli-node' } }),
    );
    // Readable by the unprivileged user of the last test.
    chmodSync(dir, 0o755);
    chmodSync(config, 0o644);
    env = { ...k.env, MESHPIPE_CONFIG: config };
  });

  after(async () => {
    await stopProcess(server);
    await k?.cleanup();
    pods?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('documents every command with --help', async () => {
    for (const name of ['collect', 'observe', 'record']) {
      const r = await runCli([name, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Usage: meshpipe ${name}`));
      assert.match(r.stdout, /--json/);
    }
  });

  it('collect: ships to Kafka, serves /metrics, /healthz and /readyz, publishes its metrics, stops cleanly', async () => {
    const metricsPort = await choosePort(39_470);
    const collect = startCli(['collect', '--json'], {
      ...env,
      MESHPIPE_COLLECTOR_METRICS_PORT: String(metricsPort),
    });
    const reader = await RawTopicReader.start(k.kafka, k.topic('raw'));
    let stopped = false;
    try {
      await collect.ready;
      const { status, port } = await curl();
      assert.equal(status, 200);
      await reader.waitFor('the curl in the raw topic', (r) =>
        r.records.some((x) => x.event.connection.localPort === port && x.event.kind === 'CLOSE'),
      );
      assert.ok(reader.records.every((x) => x.event.node === 'cli-node'));

      const health = await waitFor('/healthz to say ok', async () => {
        const res = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
        const body = (await res.json()) as { state: string };
        return res.status === 200 && body.state === 'ok' && body;
      });
      assert.match((health as unknown as { summary: string }).summary, /ev\/s, 0 dropped/);
      assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status, 200);
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      assert.match(metrics, /^meshpipe_collector_events_captured_total\{kind="DATA"\} [1-9]/m);
      assert.match(metrics, /^meshpipe_collector_events_produced_total [1-9]/m);
      assert.match(metrics, /^meshpipe_collector_buffer_capacity\{unit="events"\} 20000$/m);
      assert.match(metrics, /^process_resident_memory_bytes /m);

      // The same figures on the metrics topic, as the processors publish their pipeline health.
      const codec = codecFor<MetricSample>('metric-sample');
      const samples: MetricSample[] = [];
      const consumer = await follow(k.kafka, {
        groupId: `collector-metrics-${PORT}`,
        topics: [k.topic('metrics')],
        eachMessage: async ({ message }) => void samples.push(codec.decode(message.value!)),
      });
      try {
        const produced = await waitFor('collector samples on the metrics topic', () =>
          samples.find((s) => s.name === 'meshpipe.collector.events.produced' && s.value > 0),
        );
        assert.equal(produced.stream, 'collector/cli-node');
        assert.equal(produced.type, 'COUNTER');
      } finally {
        await consumer.stop();
      }
      assert.equal(await collect.stop(), 0, collect.stderr());
      stopped = true;
    } finally {
      await reader.stop();
      if (!stopped) await collect.stop();
    }
    const last = jsonLines(collect.stdout()).at(-1) as {
      stopped: boolean;
      captured: number;
      produced: number;
      dropped: number;
    };
    assert.equal(last.stopped, true);
    assert.equal(last.captured, last.produced + last.dropped);
    assert.equal(last.dropped, 0);
  });

  it('observe --json shows the curl you just ran, from both ends', async () => {
    const observe = startCli(
      ['observe', '--json', '--filter', `port=${PORT}`, '--filter', 'status=2xx', '--limit', '2'],
      env,
    );
    await observe.ready;
    const { port } = await curl('/hello?page=2');
    await curl('/missing'); // 404: filtered out
    assert.equal(
      await Promise.race([observe.exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000))]),
      0,
    );
    const rows = jsonLines(observe.stdout()) as Array<
      Record<string, unknown> & { local: { port: number }; peer: { port: number; pod: string } }
    >;
    assert.equal(rows.length, 2);
    const client = rows.find((r) => r.side === 'client')!;
    const server = rows.find((r) => r.side === 'server')!;
    for (const row of [client, server]) {
      assert.equal(row.method, 'GET');
      assert.equal(row.path, '/hello');
      assert.equal(row.target, '/hello?page=2');
      assert.equal(row.status, 200);
      assert.equal(row.complete, true);
      assert.ok(typeof row.latencyMs === 'number' && row.latencyMs > 0);
      assert.match(String(row.time), /^\d{4}-\d\d-\d\dT/);
    }
    assert.equal(client.pod, pods.a.ns);
    assert.equal(client.local.port, port);
    assert.equal(client.peer.pod, pods.b.ns);
    assert.equal(server.pod, pods.b.ns);
    assert.equal(server.peer.port, port);
    assert.equal(server.peer.pod, pods.a.ns);
  });

  it('record writes a recording of exactly what would be produced, which reads back', async () => {
    const file = join(dir, 'capture.avro');
    const record = startCli(['record', file, '--duration', '3', '--json'], env);
    await record.ready;
    const { port } = await curl();
    assert.equal(await record.exited, 0, record.stderr());
    const summary = JSON.parse(record.stdout()) as { file: string; events: number; dropped: number };
    assert.equal(summary.file, file);
    const events: L7RawEvent[] = [];
    for await (const e of readRecording(file)) events.push(e);
    assert.equal(events.length, summary.events);
    assert.deepEqual(
      events.map((e) => e.seq),
      events.map((_, i) => BigInt(i)),
    );
    const mine = events.filter((e) => e.connection.localPort === port || e.connection.peerPort === port);
    assert.deepEqual(new Set(mine.map((e) => e.kind)), new Set(['OPEN', 'DATA', 'CLOSE']));
    assert.ok(mine.every((e) => e.node === 'cli-node'));
  });

  it('refuses a filter it does not understand', async () => {
    const r = await runCli(['observe', '--filter', 'colour=red']);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /MESHPIPE_ERR_COLLECTOR_BAD_FILTER/);
    assert.match(r.stderr, /fix: /);
  });

  it('says what to do when eBPF cannot be loaded', async () => {
    // The same command without root: the loader fails on permissions, the CLI names the fix.
    const r = await runCliAs(
      [
        'setpriv',
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        '--inh-caps=-all',
        '--bounding-set=-all',
      ],
      ['collect'],
      { ...env, MESHPIPE_COLLECTOR_METRICS_PORT: '0', MESHPIPE_LOG_LEVEL: 'silent' },
    );
    assert.equal(r.code, 77, r.stderr);
    assert.match(r.stderr, /MESHPIPE_ERR_LOADER_PERMISSION/);
    assert.match(r.stderr, /fix: .*(root|CAP_BPF)/);
  });
});
