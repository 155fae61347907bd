/**
 * bench/otlp-sink: what one OTLP sink instance exports per second and spends per span, with spans
 * encoded as OTLP protobuf straight from meshpipe's records (`direct`, the sink as it is) against the
 * OpenTelemetry SDK path it replaced (`sdk`: a ReadableSpan per span, the SDK's serializer), side by
 * side in one run: issue 11's target is ≥50K spans/s per instance to a real receiver.
 *
 * A backlog of spans (traces of three spans across 40 processes, Avro in the Confluent wire format,
 * gzip like the producers) is written to a spans topic once; then each variant, in its own process
 * (bench/otlp-sink/sink-process.ts: the sink host, the maintained gRPC transport, default settings:
 * 512 spans per request, gzip), reads all of it with a fresh consumer group and exports it to a real
 * OTLP/gRPC receiver in another process (bench/pipeline/receiver.ts). Rate = spans at the receiver from
 * the first to the last arrival; CPU = the sink process's user + system time over that window, per span
 * (the receiver's is reported apart). Variants alternate (sdk, direct, sdk, direct...) so a machine
 * that gets busier during the run weighs on both.
 *
 * In-process breakdown of the sink's own work per span (Avro decode excluded, measured first, same
 * spans): SDK ReadableSpan + SDK serializer against span encoder + serializer.
 *
 * Usage: npm run bench:otlp-sink [-- --quick] [-- --rounds N] [-- --profile <dir>]
 *   --profile   V8 CPU profiles of the sink processes into <dir>, and their top functions printed
 * Results: bench/results/otlp-sink.json
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { createKafka } from '../../lib/kafka.ts';
import { createLogger } from '../../lib/logger.ts';
import { ensureTopics } from '../../schemas/cluster-topics.ts';
import { codecFor } from '../../schemas/codec.ts';
import { TOPICS, topicName } from '../../schemas/topics.ts';
import type { Span } from '../../schemas/types.ts';
import { ResourceCache } from '../../sinks/otlp/resources.ts';
import { SpanEncoder } from '../../sinks/otlp/span-encoder.ts';
import { serializeSpans } from '../../sinks/otlp/span-serializer.ts';
import { SdkResourceCache, toReadableSpan } from '../../testkit/readable-span.ts';
import { makeTraces } from '../../testkit/span-traffic.ts';
import { benchBrokers, benchTopics, machineFacts } from '../environment.ts';
import { cpuSecondsOf, type MemoryUsage, memorySampler } from '../overhead/proc-stats.ts';
import { installSignalHandlers, onCleanup } from '../overhead/topology.ts';

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const roundsArg = argv.indexOf('--rounds');
const ROUNDS = roundsArg === -1 ? (QUICK ? 1 : 2) : Number(argv[roundsArg + 1]);
const profileArg = argv.indexOf('--profile');
const PROFILE_DIR = profileArg === -1 ? undefined : argv[profileArg + 1];
const SPANS = QUICK ? 30_000 : 150_000;
const PROCESSES = 40;
const BATCH = 512;
const VARIANTS = ['sdk', 'direct'] as const;
type Variant = (typeof VARIANTS)[number];

const SINK = fileURLToPath(new URL('./sink-process.ts', import.meta.url));
const RECEIVER = fileURLToPath(new URL('../pipeline/receiver.ts', import.meta.url));
const RESULTS = fileURLToPath(new URL('../results/otlp-sink.json', import.meta.url));
const logger = createLogger({ component: 'bench/otlp-sink', level: 'warn' });
const round = (n: number, d = 0) => Math.round(n * 10 ** d) / 10 ** d;
function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Traces of three spans (an edge SERVER span, its CLIENT call, the SERVER span it reached) over 40 processes. */
function workload(): Span[] {
  return makeTraces(Math.ceil(SPANS / 3), 11)
    .slice(0, SPANS)
    .map((s, i) => ({ ...s, local: { ...s.local, pid: 1000 + (Math.floor(i / 3) % PROCESSES) } }));
}

/** CPU µs per span of the sink's own work, in this process: prepare every span, serialize per batch. */
function breakdown(spans: readonly Span[]): Record<Variant, number> {
  const measure = (work: () => void) => {
    work(); // warm-up: JIT and caches
    const before = process.cpuUsage();
    for (let i = 0; i < 3; i++) work();
    const used = process.cpuUsage(before);
    return round((used.user + used.system) / 3 / spans.length, 2);
  };
  const sdk = () => {
    const resources = new SdkResourceCache();
    for (let i = 0; i < spans.length; i += BATCH)
      ProtobufTraceSerializer.serializeRequest(
        spans.slice(i, i + BATCH).map((s) => toReadableSpan(s, resources)),
      );
  };
  const direct = () => {
    const encoder = new SpanEncoder(new ResourceCache());
    for (let i = 0; i < spans.length; i += BATCH)
      serializeSpans(spans.slice(i, i + BATCH).map((s) => encoder.encode(s)));
  };
  return { sdk: measure(sdk), direct: measure(direct) };
}

interface Receiver {
  child: ChildProcess;
  endpoint: string;
  spans(): Promise<number>;
  reset(): void;
}

async function startReceiver(): Promise<Receiver> {
  const child = fork(RECEIVER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  onCleanup(() => child.kill('SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { ready?: number }) =>
      m.ready === undefined ? reject(new Error('receiver')) : resolve(m.ready),
    );
    child.once('exit', (code) => reject(new Error(`receiver exited with ${code}`)));
  });
  return {
    child,
    endpoint: `http://127.0.0.1:${port}`,
    spans: () =>
      new Promise((resolve) => {
        child.once('message', (m: { stats: { spans: number } }) => resolve(m.stats.spans));
        child.send({ cmd: 'stats' });
      }),
    reset: () => child.send({ cmd: 'reset' }),
  };
}

interface RunFigures {
  variant: Variant;
  round: number;
  spans: number;
  seconds: number;
  spansPerSecond: number;
  cpuMicrosPerSpan: number;
  receiverCpuMicrosPerSpan: number;
  peakMemory: MemoryUsage | null;
}

async function runOnce(
  variant: Variant,
  n: number,
  brokers: string[],
  prefix: string,
  receiver: Receiver,
): Promise<RunFigures> {
  receiver.reset();
  const child = fork(
    SINK,
    [variant, brokers.join(','), prefix, receiver.endpoint, `${prefix}-${variant}-${n}`],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      ...(PROFILE_DIR === undefined
        ? {}
        : {
            execArgv: [
              '--cpu-prof',
              `--cpu-prof-dir=${PROFILE_DIR}`,
              `--cpu-prof-name=${variant}-${n}.cpuprofile`,
            ],
          }),
    },
  );
  onCleanup(() => child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`${variant} sink exited with ${code}`)));
  });
  const memory = memorySampler(() => [child.pid!]);
  const pids = [child.pid!];
  const receiverPids = [receiver.child.pid!];
  let last = { at: performance.now(), value: 0, cpu: cpuSecondsOf(pids), rcpu: cpuSecondsOf(receiverPids) };
  let first: typeof last | null = null;
  const deadline = Date.now() + 600_000;
  while (last.value < SPANS) {
    if (Date.now() > deadline) throw new Error(`${variant}: ${last.value} of ${SPANS} spans within 600 s`);
    await sleep(100);
    const value = await receiver.spans();
    if (value === last.value) continue;
    const now = { at: performance.now(), value, cpu: cpuSecondsOf(pids), rcpu: cpuSecondsOf(receiverPids) };
    first ??= last; // the poll before the first arrival
    last = now;
  }
  child.kill('SIGTERM');
  const [code, signal] = await new Promise<[number | null, string | null]>((r) =>
    child.once('exit', (c, sig) => r([c, sig])),
  );
  if (code !== 0) console.error(`${variant} sink exited with ${code ?? signal}`);
  const start = first!;
  const spans = last.value - start.value;
  const seconds = (last.at - start.at) / 1000;
  return {
    variant,
    round: n,
    spans,
    seconds: round(seconds, 2),
    spansPerSecond: round(spans / seconds),
    cpuMicrosPerSpan: round(((last.cpu - start.cpu) * 1e6) / spans, 1),
    receiverCpuMicrosPerSpan: round(((last.rcpu - start.rcpu) * 1e6) / spans, 1),
    peakMemory: memory.stop(),
  };
}

/** The functions with the most self time in a V8 CPU profile of a sink process, as shares of its busy time. */
function printProfile(file: string): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
    samples: number[];
  };
  const nodes = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const self = new Map<string, number>();
  let busy = 0;
  for (const id of profile.samples) {
    const frame = nodes.get(id)!;
    if (frame.functionName === '(idle)') continue;
    busy++;
    const where = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}`;
    self.set(where, (self.get(where) ?? 0) + 1);
  }
  console.log(`\n${file}: top self time, % of busy samples`);
  for (const [where, samples] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 20))
    console.log(`${((100 * samples) / busy).toFixed(1).padStart(5)}%  ${where}`);
}

async function main(): Promise<void> {
  const brokers = await benchBrokers(logger);
  const run = `bench-otlp-${randomBytes(3).toString('hex')}`;
  const { admin, drop } = await benchTopics(brokers, run, 'bench-otlp-sink', logger);
  installSignalHandlers(drop);
  try {
    await ensureTopics(admin, [TOPICS.spans, TOPICS.dlq, TOPICS.metrics], {
      prefix: run,
      replicationFactor: -1,
    });
    const spans = workload();
    const codec = codecFor<Span>('span');
    const messages = spans.map((s) => ({ key: s.traceId, value: codec.encode(s) }));
    const avgRecordBytes = round(messages.reduce((a, m) => a + m.value.length, 0) / messages.length);
    const producer = createKafka({ brokers, clientId: 'bench-otlp-sink', logger }).producer({
      compression: 'gzip',
    });
    await producer.connect();
    for (let i = 0; i < messages.length; i += 2000)
      await producer.send({
        topic: topicName(TOPICS.spans, run),
        messages: messages.slice(i, i + 2000),
      });
    await producer.disconnect();
    console.log(`${SPANS} spans (${avgRecordBytes} bytes each in Avro) in ${topicName(TOPICS.spans, run)}`);

    const inProcess = breakdown(spans.slice(0, Math.min(SPANS, 30_000)));
    console.log(
      `sink's own work per span, in process: sdk ${inProcess.sdk} µs, direct ${inProcess.direct} µs`,
    );

    const receiver = await startReceiver();
    const runs: RunFigures[] = [];
    for (let r = 1; r <= ROUNDS; r++) {
      for (const variant of VARIANTS) {
        const figures = await runOnce(variant, r, brokers, run, receiver);
        runs.push(figures);
        console.log(
          `round ${r} ${variant.padEnd(6)} ${String(figures.spansPerSecond).padStart(7)} spans/s  ${String(figures.cpuMicrosPerSpan).padStart(5)} µs CPU per span (receiver ${figures.receiverCpuMicrosPerSpan})`,
        );
      }
    }
    receiver.child.send({ cmd: 'stop' });
    if (PROFILE_DIR !== undefined) for (const v of VARIANTS) printProfile(`${PROFILE_DIR}/${v}-1.cpuprofile`);

    const summary = Object.fromEntries(
      VARIANTS.map((v) => {
        const mine = runs.filter((x) => x.variant === v);
        return [
          v,
          {
            spansPerSecond: round(median(mine.map((x) => x.spansPerSecond))),
            cpuMicrosPerSpan: round(median(mine.map((x) => x.cpuMicrosPerSpan)), 1),
            inProcessMicrosPerSpan: inProcess[v],
          },
        ];
      }),
    ) as Record<
      Variant,
      { spansPerSecond: number; cpuMicrosPerSpan: number; inProcessMicrosPerSpan: number }
    >;
    const ratios = {
      spansPerSecond: round(summary.direct.spansPerSecond / summary.sdk.spansPerSecond, 2),
      cpuPerSpan: round(summary.direct.cpuMicrosPerSpan / summary.sdk.cpuMicrosPerSpan, 2),
      inProcess: round(summary.direct.inProcessMicrosPerSpan / summary.sdk.inProcessMicrosPerSpan, 2),
    };
    console.log(
      `direct / sdk: ${ratios.spansPerSecond}x spans/s, ${ratios.cpuPerSpan}x CPU per span (in process: ${ratios.inProcess}x)`,
    );
    const result = {
      benchmark: 'otlp-sink',
      date: new Date().toISOString(),
      machine: machineFacts(),
      quick: QUICK,
      method: `${SPANS} spans (traces of 3 over ${PROCESSES} processes, ${avgRecordBytes} bytes in Avro) as a backlog on a 6-partition spans topic; each variant a sink process (the sink host, gRPC transport, ${BATCH} spans per request, gzip) reading all of it with a fresh consumer group and exporting to an OTLP/gRPC receiver in another process; variants alternate, ${ROUNDS} round(s); rate and CPU from the first to the last arrival at the receiver, medians`,
      target: { spansPerSecond: 50_000 },
      summary,
      ratios,
      runs,
    };
    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`results: ${RESULTS}`);
  } finally {
    await drop();
  }
}

await main();
