/**
 * What event rate does the collector sustain on this machine with zero drops, and at what cost?
 *
 *   npm run bench:collector            (root: it loads eBPF and creates network namespaces)
 *   node bench/collector/run.ts --quick
 *
 * wrk in one pod drives nginx in another over keep-alive connections at a fixed rate, stepped up until
 * the collector (`meshpipe collect`, a real child process, producing to a real Kafka) drops anything,
 * counted by its own metrics across every stage (kernel, loader, agent, Kafka), or until wrk cannot
 * offer more. Each HTTP exchange is four captured events (request written and read, response written
 * and read). For each step: events/s captured, drops, CPU µs per event of the agent and of the loader
 * (from /proc/<pid>/stat), and peak RSS. Then, at a fixed rate: nginx latency without and with the
 * collector (the baseline ratio), produce compression none vs gzip (CPU and bytes Kafka stores per
 * event), the V8 young-generation size against RSS, and a CPU profile of the agent (node --cpu-prof)
 * with its heaviest functions. Results: bench/results/collector.json.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { choosePort } from '../../cli/stack/ports.ts';
import { createKafka } from '../../lib/kafka.ts';
import { createLogger } from '../../lib/logger.ts';
import { STACK_DIR } from '../../lib/paths.ts';
import { allTopicDefinitions, ensureTopics } from '../../schemas/cluster-topics.ts';
import { TOPICS, topicName } from '../../schemas/topics.ts';
import { benchBrokers, machineFacts } from '../environment.ts';
import {
  type CollectorProcess,
  cpuSeconds,
  createPods,
  rssBytes,
  runWrk,
  startCollectorProcess,
  startNginx,
  storedBytes,
  sumOf,
  type WrkResult,
} from './harness.ts';
import { summarizeProfiles } from './profile-breakdown.ts';

const QUICK = process.argv.includes('--quick');
const STEP_SECONDS = QUICK ? 5 : 10;
/** Offered capture rates (events/s), stepped until drops appear. */
const STEPS = QUICK
  ? [5_000, 20_000, 40_000]
  : [5_000, 10_000, 15_000, 20_000, 25_000, 30_000, 40_000, 50_000];
const FIXED_RATE = 10_000;
const EVENTS_PER_REQUEST = 4;
const PORT = 18_090;
/** The V8 young-generation size the collector runs with (docs/collector.md, "Memory"). */
const RECOMMENDED_NODE_FLAGS = ['--max-semi-space-size=2'];
const RESULTS = fileURLToPath(new URL('../results/collector.json', import.meta.url));

const logger = createLogger({ component: 'bench/collector', level: 'warn' });

interface StepResult {
  targetEventsPerSecond: number;
  eventsPerSecond: number;
  requestsPerSecond: number;
  dropped: Record<string, number>;
  droppedTotal: number;
  agentCpuMicrosPerEvent: number;
  loaderCpuMicrosPerEvent: number;
  agentCpuPercent: number;
  peakRssMiB: { agent: number; loader: number; total: number };
  nginxLatencyMs: { avg: number; p99: number };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error('run as root: the benchmark loads eBPF and creates network namespaces');
  const brokers = await benchBrokers(logger);
  const prefix = `bench-collector-${randomBytes(3).toString('hex')}`;
  const kafka = createKafka({ brokers, clientId: 'bench-collector', logger });
  const admin = kafka.admin();
  await admin.connect();
  for (const p of [prefix, `${prefix}-none`, `${prefix}-gzip`])
    await ensureTopics(admin, allTopicDefinitions(), { prefix: p, replicationFactor: -1 });
  const dataDir = join(STACK_DIR, 'kafka', 'data');

  const pods = createPods();
  const nginx = await startNginx(pods.server, PORT);
  const url = `http://${pods.serverAddress}:${PORT}/`;
  const profileDir = mkdtempSync(join(tmpdir(), 'meshpipe-bench-prof-'));
  const env = {
    MESHPIPE_KAFKA_BROKERS: brokers.join(','),
    MESHPIPE_TOPIC_PREFIX: prefix,
    MESHPIPE_COLLECTOR_PORTS: String(PORT),
  };
  const start = async (extra: Record<string, string> = {}, nodeFlags = RECOMMENDED_NODE_FLAGS) =>
    startCollectorProcess({ env: { ...env, ...extra }, nodeFlags, metricsPort: await choosePort(39_500) });

  const results: Record<string, unknown> = {
    question: 'event rate the collector sustains with zero drops; its CPU per event and memory',
    machine: {
      ...machineFacts(),
    },
    method: `wrk (1 thread, keep-alive, 10 ms between requests per connection) → nginx (1 worker) between two network namespaces; ${EVENTS_PER_REQUEST} captured events per request; ${STEP_SECONDS} s per step; meshpipe collect as a child process producing to Kafka ${brokers.join(',')}; collector node flags ${RECOMMENDED_NODE_FLAGS.join(' ')}`,
  };
  try {
    // 1. nginx without the collector, at the fixed rate: the latency baseline.
    const baseline = await runWrk(pods.client, url, FIXED_RATE / EVENTS_PER_REQUEST, STEP_SECONDS);
    console.log(
      `baseline without the collector: ${baseline.requestsPerSecond.toFixed(0)} req/s, nginx latency avg ${baseline.latencyAvgMs} ms, p99 ${baseline.latencyP99Ms} ms`,
    );

    // 2. Steps until drops.
    const steps: StepResult[] = [];
    const collector = await start();
    try {
      console.log(
        'step target ev/s | captured ev/s | dropped | agent µs/ev | loader µs/ev | agent CPU | peak RSS MiB (agent+loader) | p99 ms',
      );
      for (const target of STEPS) {
        const step = await measureStep(collector, pods.client, url, target);
        steps.push(step);
        console.log(
          `${String(target).padStart(16)} | ${step.eventsPerSecond.toFixed(0).padStart(13)} | ${String(step.droppedTotal).padStart(7)} | ${step.agentCpuMicrosPerEvent.toFixed(1).padStart(11)} | ${step.loaderCpuMicrosPerEvent.toFixed(2).padStart(12)} | ${step.agentCpuPercent.toFixed(0).padStart(8)}% | ${step.peakRssMiB.total.toFixed(0).padStart(5)} (${step.peakRssMiB.agent.toFixed(0)}+${step.peakRssMiB.loader.toFixed(0)}) | ${step.nginxLatencyMs.p99}`,
        );
        if (step.droppedTotal > 0 || step.eventsPerSecond < 0.85 * target) break;
      }
      const withCollector = steps.find((s) => s.targetEventsPerSecond === FIXED_RATE);
      results.baseline = {
        eventsPerSecond: FIXED_RATE,
        nginxLatencyMs: { avg: baseline.latencyAvgMs, p99: baseline.latencyP99Ms },
        withCollector: withCollector?.nginxLatencyMs ?? null,
        ratio:
          withCollector === undefined
            ? null
            : {
                avg: round(withCollector.nginxLatencyMs.avg / baseline.latencyAvgMs, 2),
                p99: round(withCollector.nginxLatencyMs.p99 / baseline.latencyP99Ms, 2),
              },
      };
    } finally {
      await collector.stop();
    }
    const clean = steps.filter((s) => s.droppedTotal === 0);
    const best = clean.at(-1);
    results.steps = steps;
    const zeroDropMax = best?.eventsPerSecond ?? 0;
    results.zeroDropMaxEventsPerSecond = zeroDropMax;
    results.firstDrops = steps.find((s) => s.droppedTotal > 0) ?? null;
    const last = steps.at(-1);
    results.limitedBy =
      last === undefined || last.droppedTotal > 0
        ? 'drops'
        : last.eventsPerSecond < 0.85 * last.targetEventsPerSecond
          ? 'the load generator: the offered rate was not reached (wrk and nginx share the 2 cores)'
          : 'the highest step';

    // 3. Compression, at the fixed rate: CPU of the agent and bytes Kafka stores per event.
    const compression: Record<string, unknown> = {};
    for (const codec of ['none', 'gzip'] as const) {
      const c = await start({
        MESHPIPE_COLLECTOR_COMPRESSION: codec,
        MESHPIPE_TOPIC_PREFIX: `${prefix}-${codec}`,
      });
      try {
        const step = await measureStep(c, pods.client, url, FIXED_RATE);
        await sleep(2000);
        const produced = sumOf(await c.metrics(), 'meshpipe_collector_events_produced_total');
        const stored = storedBytes(dataDir, topicName(TOPICS.raw, `${prefix}-${codec}`));
        compression[codec] = {
          agentCpuMicrosPerEvent: round(step.agentCpuMicrosPerEvent, 1),
          storedBytesPerEvent: stored === null ? null : round(stored / produced, 1),
          dropped: step.droppedTotal,
        };
        console.log(
          `compression ${codec}: agent ${step.agentCpuMicrosPerEvent.toFixed(1)} µs/event, Kafka stores ${stored === null ? '?' : (stored / produced).toFixed(1)} bytes/event`,
        );
      } finally {
        await c.stop();
      }
    }
    results.compression = compression;

    // 4. Memory: the default young generation against the recommended one, at the fixed rate.
    const memory: Record<string, unknown> = {};
    for (const [name, flags] of [
      ['node defaults', []],
      [RECOMMENDED_NODE_FLAGS.join(' '), RECOMMENDED_NODE_FLAGS],
    ] as const) {
      const c = await start({}, [...flags]);
      try {
        const idle = rssBytes(c.agentPid) / 2 ** 20;
        const step = await measureStep(c, pods.client, url, FIXED_RATE);
        memory[name] = {
          idleAgentRssMiB: round(idle, 1),
          peakAgentRssMiB: round(step.peakRssMiB.agent, 1),
          peakLoaderRssMiB: round(step.peakRssMiB.loader, 1),
          agentCpuMicrosPerEvent: round(step.agentCpuMicrosPerEvent, 1),
        };
        console.log(
          `memory with ${name}: agent idle ${idle.toFixed(0)} MiB, peak ${step.peakRssMiB.agent.toFixed(0)} MiB (+ loader ${step.peakRssMiB.loader.toFixed(0)} MiB), ${step.agentCpuMicrosPerEvent.toFixed(1)} µs/event`,
        );
      } finally {
        await c.stop();
      }
    }
    results.memory = memory;

    // 5. Where the agent's CPU goes, at the highest clean rate.
    const profiled = await start({}, [
      ...RECOMMENDED_NODE_FLAGS,
      '--cpu-prof',
      `--cpu-prof-dir=${profileDir}`,
    ]);
    try {
      await measureStep(
        profiled,
        pods.client,
        url,
        Math.max(FIXED_RATE, best?.targetEventsPerSecond ?? FIXED_RATE),
      );
    } finally {
      await profiled.stop();
    }
    const profile = summarizeProfiles(profileDir, 15);
    results.profile = profile;
    console.log('agent CPU profile (share of samples, idle included), by owner:');
    for (const o of profile.byOwner) console.log(`  ${o.percent.toFixed(1).padStart(5)}%  ${o.owner}`);
    console.log('heaviest functions, self time:');
    for (const f of profile.topSelf)
      console.log(`  ${f.percent.toFixed(1).padStart(5)}%  ${f.function}  ${f.location}`);

    const summary = {
      zeroDropMaxEventsPerSecond: zeroDropMax,
      target: 20_000,
      rssTargetMiB: 64,
      peakRssMiBAtZeroDropMax: best?.peakRssMiB ?? null,
      cpuMicrosPerEventAtZeroDropMax:
        best === undefined ? null : round(best.agentCpuMicrosPerEvent + best.loaderCpuMicrosPerEvent, 1),
    };
    results.summary = summary;
    console.log(
      `\nzero drops up to ${summary.zeroDropMaxEventsPerSecond.toFixed(0)} events/s (target 20000: ${(zeroDropMax / 20_000).toFixed(2)}x), limited by ${results.limitedBy}, ${summary.cpuMicrosPerEventAtZeroDropMax} µs CPU/event, peak RSS ${best?.peakRssMiB.total.toFixed(0)} MiB (target 64: ${((best?.peakRssMiB.total ?? 0) / 64).toFixed(2)}x)`,
    );
  } finally {
    await nginx.stop();
    pods.remove();
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length > 0) await admin.deleteTopics(mine).catch(() => {});
    await admin.disconnect();
    rmSync(profileDir, { recursive: true, force: true });
  }
  mkdirSync(join(RESULTS, '..'), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify({ ...results, date: new Date().toISOString() }, null, 2)}\n`);
  console.log(`results: ${RESULTS}`);
}

async function measureStep(
  c: CollectorProcess,
  ns: string,
  url: string,
  target: number,
): Promise<StepResult> {
  const loader = c.loaderPid();
  const before = await c.metrics();
  const cpu0 = { agent: cpuSeconds(c.agentPid), loader: cpuSeconds(loader) };
  const peak = { agent: 0, loader: 0, total: 0 };
  const sampler = setInterval(() => {
    const a = rssBytes(c.agentPid);
    const l = rssBytes(loader);
    peak.agent = Math.max(peak.agent, a);
    peak.loader = Math.max(peak.loader, l);
    peak.total = Math.max(peak.total, a + l);
  }, 250);
  const started = Date.now();
  let wrk: WrkResult;
  try {
    wrk = await runWrk(ns, url, target / EVENTS_PER_REQUEST, STEP_SECONDS);
  } finally {
    clearInterval(sampler);
  }
  const seconds = (Date.now() - started) / 1000;
  // Let the last records through the loss gate (one STATS interval) and the Kafka buffer.
  await sleep(1500);
  const after = await c.metrics();
  const cpu1 = { agent: cpuSeconds(c.agentPid), loader: cpuSeconds(loader) };
  const captured =
    sumOf(after, 'meshpipe_collector_events_captured_total') -
    sumOf(before, 'meshpipe_collector_events_captured_total');
  const dropped: Record<string, number> = {};
  let droppedTotal = 0;
  for (const [series, value] of after) {
    if (!series.startsWith('meshpipe_collector_dropped_total{')) continue;
    const delta = value - (before.get(series) ?? 0);
    if (delta > 0) {
      dropped[series.slice('meshpipe_collector_dropped_total'.length)] = delta;
      droppedTotal += delta;
    }
  }
  const perEvent = (s: number) => (captured > 0 ? (s * 1e6) / captured : 0);
  return {
    targetEventsPerSecond: target,
    eventsPerSecond: round(captured / seconds, 0),
    requestsPerSecond: round(wrk.requestsPerSecond, 0),
    dropped,
    droppedTotal,
    agentCpuMicrosPerEvent: round(perEvent(cpu1.agent - cpu0.agent), 2),
    loaderCpuMicrosPerEvent: round(perEvent(cpu1.loader - cpu0.loader), 2),
    agentCpuPercent: round(((cpu1.agent - cpu0.agent) / seconds) * 100, 1),
    peakRssMiB: {
      agent: round(peak.agent / 2 ** 20, 1),
      loader: round(peak.loader / 2 ** 20, 1),
      total: round(peak.total / 2 ** 20, 1),
    },
    nginxLatencyMs: { avg: wrk.latencyAvgMs, p99: wrk.latencyP99Ms },
  };
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

await main();
process.exit(0);
