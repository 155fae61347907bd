/**
 * What observing a request costs, end to end, beside what a sidecar pair spends forwarding it: the
 * figure a platform engineer sizes a deployment by (issue 11), measured side by side in one run.
 *
 * For each rate, on bench/overhead's topology (nginx in one pod, a paced open-loop load generator in
 * another, 16 keep-alive connections; nothing pinned, as a DaemonSet and its Deployments run):
 *
 *   sidecar pair  client → haproxy (client pod) → nginx proxy (server pod) → app: the two proxies' CPU
 *                 per request (they forward; they observe nothing);
 *   meshpipe      client → app, captured by the real `meshpipe collect`, then span-assembler,
 *                 trace-linker, red-metrics and the OTLP sink (one process each, their default settings
 *                 unless a variant says otherwise) into a real gRPC OTLP receiver: the CPU of the
 *                 collector (agent and loader) and of the four processes, from the start of the load
 *                 until every span has reached the receiver, per request.
 *
 * The Kafka broker's CPU is reported beside the figure, not in it: meshpipe produces to the user's own
 * Kafka cluster, off the node. Also reported: spans received against two per request (the share of
 * requests captured and paired, both sides), and the latency from the syscall that ended an exchange to
 * the span's arrival at the receiver.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { choosePort } from '../../cli/stack/ports.ts';
import { createKafka } from '../../lib/kafka.ts';
import type { Logger } from '../../lib/logger.ts';
import { allTopicDefinitions, ensureTopics } from '../../schemas/cluster-topics.ts';
import { startCollectorProcess } from '../collector/harness.ts';
import { buildLoadgen, type LoadResult, runLoad } from '../overhead/loadgen.ts';
import { cpuSecondsOf, memorySampler } from '../overhead/proc-stats.ts';
import {
  APP_PORT,
  CLIENT_SIDECAR_PORT,
  createPods,
  onCleanup,
  type Pods,
  startApp,
  startClientSidecar,
  startServerSidecar,
} from '../overhead/topology.ts';
import { type ComponentOptions, startOtlpSink, startProcessor } from './components.ts';

import type { Receiver } from './receiver-process.ts';

export interface EndToEndOptions {
  brokers: string[];
  /** Topic prefix of this run; each rate and variant gets `<prefix>-<variant>-<rate>`. */
  prefix: string;
  receiver: Receiver;
  rates: number[];
  warmupSeconds: number;
  durationSeconds: number;
  conns?: number;
  /** pid of the Kafka broker, when local (its CPU is reported beside the figure). */
  kafkaPid?: number | null;
  /** Processor and sink settings variants (a meshpipe.json each); the first is the headline. */
  variants: Array<{ name: string; what: string; config: object }>;
  logger: Logger;
  /** Pods with the application already answering (bench/overhead's), and its load generator; else made here. */
  topology?: { binary: string; pods: Pods };
  /** The CLI every component runs: compiled dist/cli/main.js as the image runs it, else the sources. */
  entry?: string;
}

const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The sidecar pair forwarding the load: its two proxies' CPU per request. */
async function sidecarPair(binary: string, pods: Pods, rate: number, o: EndToEndOptions) {
  const server = await startServerSidecar(pods.server.ns);
  const client = await startClientSidecar(pods.client.ns, pods.server.address);
  try {
    const pids = () => [...server.pids(), ...client.pids()];
    const cpu0 = cpuSecondsOf(pids());
    const load = await runLoad({
      binary,
      ns: pods.client.ns,
      host: '127.0.0.1',
      port: CLIENT_SIDECAR_PORT,
      conns: o.conns ?? 16,
      rate,
      warmupSeconds: o.warmupSeconds,
      durationSeconds: o.durationSeconds,
      cpus: '0-1',
    });
    const cpuSeconds = cpuSecondsOf(pids()) - cpu0;
    return {
      requests: load.completed,
      achievedRps: load.achievedRps,
      cpuMicrosPerRequest: round((cpuSeconds * 1e6) / Math.max(1, load.completed)),
      latencyMs: { mean: round(load.latency.meanNs / 1e6, 3), p99: round(load.latency.p99Ns / 1e6, 3) },
    };
  } finally {
    await Promise.all([server.stop(), client.stop()]);
  }
}

/** meshpipe observing the same load: collector, processors and sink, until every span has arrived. */
async function meshpipe(
  binary: string,
  pods: Pods,
  rate: number,
  prefix: string,
  configFile: string,
  o: EndToEndOptions,
) {
  const { receiver } = o;
  const admin = createKafka({ brokers: o.brokers, clientId: 'bench-e2e', logger: o.logger }).admin();
  await admin.connect();
  await ensureTopics(admin, allTopicDefinitions(), { prefix, replicationFactor: -1 });
  await admin.disconnect();
  receiver.send({ cmd: 'reset' });
  const collector = await startCollectorProcess({
    env: {
      MESHPIPE_KAFKA_BROKERS: o.brokers.join(','),
      MESHPIPE_TOPIC_PREFIX: prefix,
      MESHPIPE_COLLECTOR_PORTS: String(APP_PORT),
      MESHPIPE_CONFIG: configFile,
    },
    nodeFlags: ['--max-semi-space-size=2'],
    metricsPort: await choosePort(39_750),
    ...(o.entry === undefined ? {} : { entry: o.entry }),
  });
  const c: ComponentOptions = {
    brokers: o.brokers,
    topicPrefix: prefix,
    configFile,
    ...(o.entry === undefined ? {} : { entry: o.entry }),
  };
  const chain = [
    await startProcessor('span-assembler', c),
    await startProcessor('trace-linker', c),
    await startProcessor('red-metrics', c),
    await startOtlpSink(receiver.endpoint, c),
  ];
  try {
    // Settle: every component joined its group and is idle before the clock starts.
    await sleep(3000);
    const loaderPid = collector.loaderPid();
    const components = [
      { name: 'collector', pids: () => [collector.agentPid, ...(loaderPid === null ? [] : [loaderPid])] },
      ...chain.map((p) => ({ name: p.name, pids: () => [p.pid] })),
    ];
    const watched = components.map((w) => ({
      ...w,
      cpu0: cpuSecondsOf(w.pids()),
      memory: memorySampler(w.pids, 500, 'statm'),
    }));
    const kafkaPids = o.kafkaPid == null ? [] : [o.kafkaPid];
    const kafka0 = cpuSecondsOf(kafkaPids);
    const started = Date.now();
    const from = BigInt(started + o.warmupSeconds * 1000) * 1_000_000n;
    const to = from + BigInt(o.durationSeconds) * 1_000_000_000n;
    receiver.send({ cmd: 'window', fromNs: String(from), toNs: String(to) });
    const load: LoadResult = await runLoad({
      binary,
      ns: pods.client.ns,
      host: pods.server.address,
      port: APP_PORT,
      conns: o.conns ?? 16,
      rate,
      warmupSeconds: o.warmupSeconds,
      durationSeconds: o.durationSeconds,
      cpus: '0-1',
    });
    // Spans of the last requests wait for their pairs and causes (seconds): the processing of the load
    // ends when the receiver has two spans per request, or has had nothing new for 5 s.
    const expected = load.completed * 2;
    let last = -1;
    let quietSince = Date.now();
    const deadline = Date.now() + 60_000;
    for (;;) {
      const n = (await receiver.stats()).spans;
      if (n !== last) {
        last = n;
        quietSince = Date.now();
      }
      if (n >= expected || Date.now() - quietSince > 5000 || Date.now() > deadline) break;
      await sleep(250);
    }
    const elapsedSeconds = (Date.now() - started) / 1000;
    const byComponent: Record<string, number> = {};
    const memoryMiB: Record<string, number> = {};
    let total = 0;
    for (const w of watched) {
      const micros = ((cpuSecondsOf(w.pids()) - w.cpu0) * 1e6) / Math.max(1, load.completed);
      byComponent[w.name] = round(micros);
      total += micros;
      memoryMiB[w.name] = w.memory.stop()?.rssMiB ?? Number.NaN;
    }
    const stats = await receiver.stats();
    const latencies = Object.values(stats.latenciesMs)
      .flat()
      .sort((a, b) => a - b);
    return {
      requests: load.completed,
      achievedRps: load.achievedRps,
      elapsedSeconds: round(elapsedSeconds),
      cpuMicrosPerRequest: round(total),
      byComponent,
      kafkaBrokerCpuMicrosPerRequest:
        kafkaPids.length === 0
          ? null
          : round(((cpuSecondsOf(kafkaPids) - kafka0) * 1e6) / Math.max(1, load.completed)),
      peakRssMiB: memoryMiB,
      spansReceived: stats.spans,
      /** Spans received / two per request: requests captured on both sides and paired. */
      capturedAndPairedShare: round(stats.spans / Math.max(1, expected), 4),
      latencyMs: {
        count: latencies.length,
        p50: round(percentile(latencies, 50)),
        p99: round(percentile(latencies, 99)),
        max: round(latencies.at(-1) ?? Number.NaN),
      },
      requestLatencyMs: {
        mean: round(load.latency.meanNs / 1e6, 3),
        p99: round(load.latency.p99Ns / 1e6, 3),
      },
    };
  } finally {
    await Promise.all(chain.map((p) => p.stop()));
    await collector.stop();
  }
}

export interface EndToEndRate {
  rate: number;
  variant: string;
  meshpipe: Awaited<ReturnType<typeof meshpipe>>;
  sidecarPair: Awaited<ReturnType<typeof sidecarPair>>;
  /** meshpipe's CPU per observed request / the sidecar pair's per forwarded request. */
  ratio: number;
}

/** Every rate: the sidecar pair, then meshpipe (each variant), on the same pods, one after the other. */
export async function measureEndToEnd(o: EndToEndOptions): Promise<EndToEndRate[]> {
  const binary = o.topology?.binary ?? buildLoadgen();
  const pods = o.topology?.pods ?? createPods();
  const app = o.topology === undefined ? await startApp(pods.server.ns) : null;
  const dir = mkdtempSync(join(tmpdir(), 'meshpipe-bench-e2e-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const out: EndToEndRate[] = [];
  try {
    for (const rate of o.rates) {
      const pair = await sidecarPair(binary, pods, rate, o);
      for (const variant of o.variants) {
        const configFile = join(dir, `${variant.name}.json`);
        writeFileSync(configFile, JSON.stringify(variant.config));
        const m = await meshpipe(binary, pods, rate, `${o.prefix}-${variant.name}-${rate}`, configFile, o);
        const ratio = round(m.cpuMicrosPerRequest / pair.cpuMicrosPerRequest, 2);
        out.push({ rate, variant: variant.name, meshpipe: m, sidecarPair: pair, ratio });
        console.log(printLine(out.at(-1)!));
      }
    }
  } finally {
    await app?.stop();
  }
  return out;
}

/** One line for the terminal: the headline figure and its parts. */
export function printLine(r: EndToEndRate): string {
  const parts = Object.entries(r.meshpipe.byComponent)
    .map(([k, v]) => `${k} ${v}`)
    .join(' + ');
  return `end to end at ${r.rate} req/s (${r.variant}): meshpipe ${r.meshpipe.cpuMicrosPerRequest} µs CPU per observed request (${parts}) vs sidecar pair ${r.sidecarPair.cpuMicrosPerRequest} µs per forwarded request = ${r.ratio}x; ${(r.meshpipe.capturedAndPairedShare * 100).toFixed(1)}% of requests as two spans; syscall → span p50 ${r.meshpipe.latencyMs.p50} ms, p99 ${r.meshpipe.latencyMs.p99} ms; broker ${r.meshpipe.kafkaBrokerCpuMicrosPerRequest ?? '–'} µs (not counted)`;
}
