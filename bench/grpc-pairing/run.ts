/**
 * Are 100% of the unary calls of a known gRPC workload at 2K calls/s captured and paired (issue 13)?
 * Root: network namespaces, the eBPF loader, a Kafka.
 *
 *   sudo node bench/grpc-pairing/run.ts [--rate 2000] [--seconds 20] [--quick]
 *
 * A grpc-js client in one network namespace calls a grpc-js server in another at a fixed rate (open
 * loop, load.ts) on one HTTP/2 connection; the real collector (`meshpipe collect`) captures both ends
 * and produces to Kafka; the real span-assembler (`meshpipe process span-assembler`) pairs them. Its
 * output (the linking topic) is counted against the client's own count of the calls it made: a CLIENT
 * span and a SERVER span per call, and every SERVER span the child of the CLIENT span of its stream
 * (TCP_CONNECTION). Drops anywhere (kernel, loader, collector, Kafka) are read from the collector's
 * metrics. The machine is shared: the achieved rate is reported beside the target.
 * Results: bench/results/grpc-pairing.json.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { choosePort } from '../../cli/stack/ports.ts';
import { createKafka, type GroupConsumer } from '../../lib/kafka.ts';
import { createLogger } from '../../lib/logger.ts';
import { allTopicDefinitions, ensureTopics } from '../../schemas/cluster-topics.ts';
import { codecFor } from '../../schemas/codec.ts';
import { topicCodec } from '../../schemas/topic-codec.ts';
import { TOPICS, topicName } from '../../schemas/topics.ts';
import type { Span, TraceLinkingEvent } from '../../schemas/types.ts';
import { CLI, createPods, startCollectorProcess, sumOf } from '../collector/harness.ts';
import { benchBrokers, benchTopics, machineFacts } from '../environment.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '20' },
    quick: { type: 'boolean', default: false },
  },
});
const rate = Number(values.rate);
const seconds = values.quick ? 5 : Number(values.seconds);
const PORT = 50051;
const FIXTURE = fileURLToPath(new URL('../../testkit/grpc-service.ts', import.meta.url));
const LOAD = fileURLToPath(new URL('./load.ts', import.meta.url));
const RESULTS = fileURLToPath(new URL('../results/grpc-pairing.json', import.meta.url));
const logger = createLogger({ component: 'bench/grpc-pairing', level: 'warn' });

async function startReady(args: string[], env: Record<string, string>, ready: (out: string) => boolean) {
  const child: ChildProcess = spawn(args[0]!, args.slice(1), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} not ready: ${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out = (out + d.toString()).slice(-8000);
      if (ready(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${out}`)));
  });
  return child;
}

const brokers = await benchBrokers(logger);
const prefix = `bench-grpc-${randomBytes(3).toString('hex')}`;
const topics = await benchTopics(brokers, prefix, 'bench-grpc-pairing', logger);
await ensureTopics(topics.admin, allTopicDefinitions(), { prefix, replicationFactor: -1 });
const env = {
  MESHPIPE_KAFKA_BROKERS: brokers.join(','),
  MESHPIPE_TOPIC_PREFIX: prefix,
  MESHPIPE_LOG_LEVEL: 'warn',
};
const pods = createPods();
const children: ChildProcess[] = [];
const kafka = createKafka({ brokers, clientId: 'bench-grpc-pairing', logger });
const spans: Span[] = [];
let consumer: GroupConsumer | undefined;

try {
  children.push(
    await startReady(
      ['ip', 'netns', 'exec', pods.server, process.execPath, FIXTURE, 'server', `0.0.0.0:${PORT}`],
      {},
      (o) => o.includes('ready\n'),
    ),
  );
  const collector = await startCollectorProcess({
    env: { ...env, MESHPIPE_COLLECTOR_PORTS: String(PORT) },
    metricsPort: await choosePort(39_700),
  });
  const assemblerPort = await choosePort(39_800);
  const assembler = spawn(
    process.execPath,
    [CLI, 'process', 'span-assembler', '--metrics-port', String(assemblerPort)],
    { env: { ...process.env, ...env }, stdio: 'ignore' },
  );
  children.push(assembler);
  // `meshpipe process` prints no ready line: wait for its /healthz.
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${assemblerPort}/healthz`)).status === 200) break;
    } catch {
      // not up yet
    }
    if (i > 600 || assembler.exitCode !== null)
      throw new Error('span-assembler did not become healthy within 60 s');
    await sleep(100);
  }

  const linking = topicCodec<TraceLinkingEvent>(TOPICS.linking);
  const spanCodec = codecFor<Span>('span');
  consumer = kafka.consumer({
    groupId: `${prefix}-reader`,
    topics: [topicName(TOPICS.linking, prefix)],
    fromBeginning: true,
    maxWaitMs: 200,
    eachBatch: async ({ records }) => {
      for (const message of records)
        for (const ev of linking.decodeRecord(message.value!)) {
          if (ev.kind === 'SPAN' && ev.span !== null) spans.push(spanCodec.decode(ev.span));
        }
    },
  });
  await consumer.connect();

  const before = await collector.metrics();
  const { stdout } = await promisify(execFile)(
    'ip',
    [
      'netns',
      'exec',
      pods.client,
      process.execPath,
      LOAD,
      `${pods.serverAddress}:${PORT}`,
      String(rate),
      String(seconds),
    ],
    { timeout: (seconds + 120) * 1000 },
  );
  const load = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    calls: number;
    ok: number;
    seconds: number;
    callsPerSecond: number;
  };
  // Until the span counts stop moving (bounded): the collector's loss gate, Kafka, the assembler's waits.
  let last = -1;
  for (let i = 0; i < 120 && spans.length !== last; i++) {
    last = spans.length;
    await sleep(2_000);
  }
  const after = await collector.metrics();
  const delta = (name: string) => sumOf(after, name) - sumOf(before, name);
  const mine = spans.filter((s) => s.rpc?.method === 'Reserve' && s.connectionKey.includes(`:${PORT}`));
  const clients = mine.filter((s) => s.kind === 'CLIENT');
  const servers = mine.filter((s) => s.kind === 'SERVER');
  const clientIds = new Set(clients.map((s) => s.spanId));
  const paired = servers.filter(
    (s) => s.link.method === 'TCP_CONNECTION' && clientIds.has(s.parentSpanId ?? ''),
  );
  const complete = mine.filter((s) => !s.incomplete && s.status === 'UNSET').length;
  const result = {
    question: 'are 100% of the unary calls of a known gRPC workload at 2K calls/s captured and paired?',
    machine: machineFacts(),
    method: [
      `grpc-js unary calls (inventory.v1.Inventory/Reserve) at ${rate}/s for ${seconds} s, open loop, one HTTP/2 connection, between two network namespaces`,
      'meshpipe collect (child process) → Kafka → meshpipe process span-assembler (child process); its linking-topic output counted against the client',
      'a shared, noisy machine: the achieved rate is the client’s',
    ],
    load,
    spans: {
      client: clients.length,
      server: servers.length,
      pairedByStream: paired.length,
      completeAndOk: complete,
    },
    collector: {
      kernelRecords: delta('meshpipe_collector_kernel_records_total'),
      produced: delta('meshpipe_collector_events_produced_total'),
      dropped: delta('meshpipe_collector_dropped_total'),
      droppedByReason: Object.fromEntries(
        [...after]
          .filter(([series]) => series.startsWith('meshpipe_collector_dropped_total{'))
          .map(([series, v]) => [
            series.slice('meshpipe_collector_dropped_total'.length),
            v - (before.get(series) ?? 0),
          ])
          .filter(([, v]) => (v as number) > 0),
      ),
      h2: Object.fromEntries(
        [...after]
          .filter(
            ([series]) =>
              series.startsWith('meshpipe_collector_protocol_events_total{') && series.includes('http2'),
          )
          .map(([series, v]) => [
            /counter="([^"]+)"/.exec(series)?.[1] ?? series,
            v - (before.get(series) ?? 0),
          ]),
      ),
    },
    verdict: {
      everyCallHasClientSpan: clients.length === load.calls,
      everyCallHasServerSpan: servers.length === load.calls,
      everyServerSpanPaired: paired.length === load.calls,
    },
  };
  console.log(JSON.stringify(result, null, 2));
  writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
  await collector.stop();
} finally {
  await consumer?.disconnect().catch(() => {});
  for (const c of children) c.kill('SIGTERM');
  pods.remove();
  await topics.drop();
}
