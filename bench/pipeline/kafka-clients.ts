/**
 * Which Kafka client should meshpipe use? kafkajs 2.2.4 (today's, in maintenance mode since 2023),
 * @platformatic/kafka (pure JavaScript) and @confluentinc/kafka-javascript (librdkafka, KafkaJS-like
 * API), side by side on the same broker in one run (issue 11, item 3).
 *
 *   node bench/pipeline/kafka-clients.ts [--quick] [--repeats N] [--only produce,consume,loop,idle]
 *                                        [--no-checks | --checks fencing,admin,...]
 *   node bench/pipeline/run.ts --kafka-clients ...     (the same, before the pipeline stages)
 *
 * Each client runs each scenario in a child process of its own (kafka-clients/worker.ts), so the CPU
 * (user + system of all its threads, from /proc — librdkafka's threads count) and the peak memory
 * (smaps_rollup, sampled every 250 ms) are that client's. Clients take turns within a case, in an order
 * that rotates with each repeat; figures are medians over the repeats, with ratios against kafkajs.
 *   produce   idempotent, acks=all, records of ~400 bytes (one raw event) and ~64 KiB (a batch record),
 *             uncompressed, gzip, and lz4/zstd where the client has them without native work of ours;
 *             the same slices per awaited send() for every client (kafka-clients/scenarios.ts)
 *   consume   a consumer group reading a backlog from the beginning, read_committed
 *   loop      the transactional consume-transform-produce loop: a partition read, one output record
 *             per input, the input offsets committed in the same transaction; EOS v1 (a transactional
 *             id per input partition, as processors/runtime does) and KIP-447 where the client has it
 *   idle      RSS of a process holding one producer and one consumer group member connected; and with
 *             six transactional producers besides (a processor instance holds one per task)
 * Then the feature and correctness checks (kafka-clients/checks.ts), each against the broker.
 *
 * Candidate clients are installed by the bench into .local/bench-clients/ (kafka-clients/install.ts),
 * with their install time. Results: bench/results/kafka-clients.json; docs/benchmarks.md.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Admin } from 'kafkajs';
import { createLogger } from '../../lib/logger.ts';
import { benchBrokers, machineFacts } from '../environment.ts';
import { busyProcesses, type MemoryUsage, memoryOf, memorySampler } from '../overhead/proc-stats.ts';
import { installSignalHandlers, onCleanup } from '../overhead/topology.ts';
import type { CheckOutcome } from './kafka-clients/checks.ts';
import {
  CHECKS,
  CLIENTS,
  type ClientName,
  COMPRESSIONS,
  type Compression,
  type LoopMode,
} from './kafka-clients/driver.ts';
import { ensureClient, type InstallRecord } from './kafka-clients/install.ts';
import { createKafka } from './kafka-clients/kafkajs-driver.ts';
import {
  buildPools,
  createTopic,
  perSend,
  RECORD_SIZES,
  type RecordSize,
  type Scenario,
} from './kafka-clients/scenarios.ts';

const WORKER = fileURLToPath(new URL('./kafka-clients/worker.ts', import.meta.url));
const RESULTS = fileURLToPath(new URL('../results/kafka-clients.json', import.meta.url));
const PARTITIONS = 6;
/** Bench topics take records batches up to 16 MiB: librdkafka splits its batches at 1 MB by itself,
 * kafkajs and @platformatic/kafka make one per partition per request (scenarios.ts perSend). */
const MAX_MESSAGE_BYTES = String(16 * 2 ** 20);
const WORKER_TIMEOUT_MS = 240_000;

const logger = createLogger({ component: 'bench/kafka-clients', level: 'error' });
const round = (n: number, d = 0) => Math.round(n * 10 ** d) / 10 ** d;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]!
      : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export interface Options {
  quick: boolean;
  repeats: number;
  checks: boolean;
  /** Only these checks (all when empty). */
  checkNames: ReadonlySet<string>;
  only: ReadonlySet<string>;
  brokers?: string[];
}

interface Run {
  records: number;
  bytes?: number;
  transactions?: number;
  seconds: number;
  cpuSeconds: number;
  peak: MemoryUsage | null;
}

interface CaseResult {
  scenario: 'produce' | 'consume' | 'loop' | 'idle';
  name: string;
  client: ClientName;
  runs: Run[];
  median: Record<string, number>;
  vsKafkajs?: Record<string, number>;
  error?: string;
}

/** Forks a worker for one scenario; resolves with its result message and peak memory. */
async function runWorker(
  client: ClientName,
  brokers: string[],
  scenario: Scenario,
  onReady?: (pid: number) => Promise<void>,
): Promise<{ message: Record<string, unknown>; peak: MemoryUsage | null }> {
  const child: ChildProcess = fork(WORKER, [client, brokers.join(','), JSON.stringify(scenario)], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const kill = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  onCleanup(kill);
  const sampler = memorySampler(() => (child.pid === undefined ? [] : [child.pid]));
  let peak: MemoryUsage | null = null;
  try {
    const message = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        kill();
        reject(new Error(`${client} ${scenario.kind}: no result within ${WORKER_TIMEOUT_MS / 1000} s`));
      }, WORKER_TIMEOUT_MS);
      child.on('message', (m: Record<string, unknown>) => {
        if (m.ready === true && onReady !== undefined) {
          peak = sampler.stop();
          void onReady(child.pid!).then(() => child.send({ stop: true }));
          return;
        }
        clearTimeout(timer);
        resolve(m);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        if (onReady !== undefined && code === 0) resolve({ done: true });
        else reject(new Error(`${client} ${scenario.kind} exited with ${code} before reporting`));
      });
    });
    peak ??= sampler.stop();
    await new Promise<void>((resolve) =>
      child.exitCode === null ? child.once('exit', () => resolve()) : resolve(),
    );
    return { message, peak };
  } finally {
    sampler.stop();
    kill();
  }
}

interface Plan {
  scenario: CaseResult['scenario'];
  name: string;
  clients: ClientName[];
  make: (client: ClientName, repeat: number) => Scenario;
}

function summarise(c: CaseResult): void {
  const ok = c.runs;
  if (ok.length === 0) return;
  const m = (f: (r: Run) => number) => median(ok.map(f));
  if (c.scenario === 'idle') {
    c.median = {
      rssMiB: m((r) => r.peak?.rssMiB ?? Number.NaN),
      ussMiB: m((r) => r.peak?.ussMiB ?? Number.NaN),
    };
    return;
  }
  const mb = (r: Run) => (r.bytes ?? 0) / 1e6;
  c.median = {
    recordsPerSecond: round(m((r) => r.records / r.seconds)),
    cpuMicrosPerRecord: round(
      m((r) => (r.cpuSeconds * 1e6) / r.records),
      2,
    ),
    peakRssMiB: round(
      m((r) => r.peak?.rssMiB ?? Number.NaN),
      1,
    ),
    seconds: round(
      m((r) => r.seconds),
      2,
    ),
  };
  if (c.scenario !== 'loop') {
    c.median.megabytesPerSecond = round(
      m((r) => mb(r) / r.seconds),
      1,
    );
    c.median.cpuMicrosPerMegabyte = round(m((r) => (r.cpuSeconds * 1e6) / mb(r)));
  } else {
    c.median.transactionsPerSecond = round(
      m((r) => (r.transactions ?? 0) / r.seconds),
      1,
    );
  }
}

function compare(results: CaseResult[]): void {
  for (const c of results) {
    const base = results.find((b) => b.name === c.name && b.client === 'kafkajs' && b.median !== undefined);
    if (base === undefined || c.median === undefined) continue;
    c.vsKafkajs = {};
    for (const [k, v] of Object.entries(c.median)) {
      const b = base.median[k];
      if (b !== undefined && b !== 0 && Number.isFinite(v)) c.vsKafkajs[k] = round(v / b, 2);
    }
  }
}

function line(c: CaseResult): string {
  if (c.error !== undefined) return `  ${c.client.padEnd(13)} FAILED: ${c.error}`;
  const m = c.median;
  const x = (k: string) =>
    c.vsKafkajs?.[k] !== undefined && c.client !== 'kafkajs' ? ` (${c.vsKafkajs[k]}x)` : '';
  if (c.scenario === 'idle')
    return `  ${c.client.padEnd(13)} RSS ${m.rssMiB} MiB${x('rssMiB')}, USS ${m.ussMiB} MiB`;
  const parts = [
    `${Math.round(m.recordsPerSecond!)} rec/s${x('recordsPerSecond')}`,
    c.scenario === 'loop' ? `${m.transactionsPerSecond} txn/s` : `${m.megabytesPerSecond} MB/s`,
    `${m.cpuMicrosPerRecord} µs CPU/rec${x('cpuMicrosPerRecord')}`,
    ...(c.scenario === 'loop' ? [] : [`${m.cpuMicrosPerMegabyte} µs CPU/MB`]),
    `peak RSS ${m.peakRssMiB} MiB${x('peakRssMiB')}`,
  ];
  return `  ${c.client.padEnd(13)} ${parts.join(' · ')}`;
}

export async function runKafkaClients(options: Options): Promise<void> {
  const startedAt = Date.now();
  const say = (s: string) => console.log(s);

  // 1. The clients, installed (and timed) on first use.
  const installs: Partial<Record<ClientName, InstallRecord>> = {};
  const excluded: Partial<Record<ClientName, string>> = {};
  for (const client of CLIENTS) {
    try {
      installs[client] = ensureClient(client, say);
    } catch (err) {
      excluded[client] = (err as Error).message;
      say(`${client}: left out — ${excluded[client]}`);
    }
  }
  const clients = CLIENTS.filter((c) => installs[c] !== undefined);
  const busyBefore = await busyProcesses(1000, 0.1);

  // 2. The broker, topics and backlogs.
  const brokers = options.brokers ?? (await benchBrokers(logger));
  const run = `bench-kc-${randomBytes(3).toString('hex')}`;
  // The comparison's own topics and backlogs are made with kafkajs, as when it was first run.
  const admin = createKafka({ brokers, clientId: 'bench-kafka-clients' }).admin();
  await admin.connect();
  const drop = async () => {
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(run));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 30_000 }).catch(() => {});
    await admin.disconnect().catch(() => {});
  };
  // Standalone: Ctrl-C drops these topics. Called by run.ts (brokers given), whose own handler stays.
  if (options.brokers === undefined) installSignalHandlers(drop);
  const dir = mkdtempSync(join(tmpdir(), 'meshpipe-bench-kc-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  try {
    const pools = buildPools(dir);
    say(
      `records: ~${pools.avgBytes.event} B (one raw event) and ~${pools.avgBytes.batch} B (a batch record); broker ${brokers.join(',')}; ${options.repeats} repeat(s)`,
    );
    const results = await measure(options, admin, brokers, run, clients, pools);
    const checks = options.checks ? await runChecks(clients, brokers, run, options.checkNames) : [];
    write(options, { installs, excluded, brokers, busyBefore, results, checks, startedAt });
  } finally {
    await drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(
  options: Options,
  admin: Admin,
  brokers: string[],
  run: string,
  clients: ClientName[],
  pools: ReturnType<typeof buildPools>,
): Promise<CaseResult[]> {
  const q = options.quick;
  const counts: Record<RecordSize, number> = { event: q ? 40_000 : 200_000, batch: q ? 300 : 1500 };
  const sizes = Object.keys(RECORD_SIZES) as RecordSize[];
  const supported = await compressionsOf(clients, brokers);
  const plans: Plan[] = [];

  // produce
  for (const size of sizes) {
    const topic = `${run}-produce-${size}`;
    await createTopic(admin, topic, PARTITIONS, { 'max.message.bytes': MAX_MESSAGE_BYTES });
    for (const compression of COMPRESSIONS) {
      const who = clients.filter((c) => supported[c]?.includes(compression));
      if (who.length === 0) continue;
      plans.push({
        scenario: 'produce',
        name: `produce ${size} ${compression}`,
        clients: who,
        make: () => ({
          kind: 'produce',
          poolFile: pools.files[size],
          case: {
            topic,
            records: counts[size],
            perSend: perSend(pools.avgBytes[size], PARTITIONS),
            compression,
          },
        }),
      });
    }
  }

  // consume: backlogs written once by kafkajs (the same bytes for every reader)
  const kafka = createKafka({ brokers, clientId: 'bench-kafka-clients' });
  const backlog = async (
    topic: string,
    size: RecordSize,
    compression: Compression,
    records: number,
    partitions: number,
  ) => {
    await createTopic(admin, topic, partitions, { 'max.message.bytes': MAX_MESSAGE_BYTES });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const pool = pools[size];
    const n = perSend(pools.avgBytes[size], partitions);
    const { CompressionTypes } = await import('kafkajs');
    for (let sent = 0; sent < records; sent += n) {
      const messages = Array.from(
        { length: Math.min(n, records - sent) },
        (_, i) => pool[(sent + i) % pool.length]!,
      );
      await producer.send({
        topic,
        acks: -1,
        compression: compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
        messages,
      });
    }
    await producer.disconnect();
  };
  for (const size of sizes) {
    for (const compression of ['none', 'gzip'] as const) {
      const topic = `${run}-backlog-${size}-${compression}`;
      await backlog(topic, size, compression, counts[size], PARTITIONS);
      plans.push({
        scenario: 'consume',
        name: `consume ${size} ${compression}`,
        clients,
        make: (client, repeat) => ({
          kind: 'consume',
          case: {
            topic,
            groupId: `${run}-consume-${size}-${compression}-${client}-${repeat}`,
            expected: counts[size],
          },
        }),
      });
    }
  }

  // the transactional loop
  const loopOut = `${run}-loop-out`;
  await createTopic(admin, loopOut, PARTITIONS, { 'max.message.bytes': MAX_MESSAGE_BYTES });
  const loops: Array<{ size: RecordSize; batchSize: number; transactions: number }> = [
    { size: 'event', batchSize: 1, transactions: q ? 50 : 200 },
    { size: 'event', batchSize: 10, transactions: q ? 50 : 200 },
    { size: 'event', batchSize: 100, transactions: q ? 20 : 100 },
    { size: 'event', batchSize: 1000, transactions: q ? 5 : 30 },
    { size: 'batch', batchSize: 1, transactions: q ? 20 : 100 },
    { size: 'batch', batchSize: 10, transactions: q ? 5 : 30 },
  ];
  for (const size of sizes) {
    const needed = Math.max(...loops.filter((l) => l.size === size).map((l) => l.batchSize * l.transactions));
    await backlog(`${run}-loop-in-${size}`, size, 'none', needed, 1);
  }
  const modes = await loopModesOf(clients, brokers);
  for (const l of loops) {
    for (const mode of ['eos-v1', 'kip-447'] as LoopMode[]) {
      const who = clients.filter((c) => modes[c]?.includes(mode));
      if (mode === 'kip-447' && l.size === 'batch') continue;
      plans.push({
        scenario: 'loop',
        name: `loop ${l.size} ×${l.batchSize}/txn ${mode}`,
        clients: who,
        make: (client, repeat) => ({
          kind: 'loop',
          case: {
            input: `${run}-loop-in-${l.size}`,
            output: loopOut,
            groupId: `${run}-loop-${l.size}-${l.batchSize}-${mode}-${client}-${repeat}`,
            expected: l.batchSize * l.transactions,
            batchSize: l.batchSize,
            mode,
          },
        }),
      });
    }
  }

  // idle
  const idleTopic = `${run}-idle`;
  await createTopic(admin, idleTopic, 1);
  for (const transactionalProducers of [0, 6]) {
    plans.push({
      scenario: 'idle',
      name:
        transactionalProducers === 0
          ? 'idle producer+consumer'
          : 'idle producer+consumer+6 transactional producers',
      clients,
      make: (client, repeat) => ({
        kind: 'idle',
        case: {
          topic: idleTopic,
          groupId: `${run}-idle-${transactionalProducers}-${client}-${repeat}`,
          transactionalProducers,
          transactionalIdPrefix: `${run}-idle-${client}-${repeat}`,
        },
      }),
    });
  }

  const results: CaseResult[] = [];
  const wanted = plans.filter((p) => options.only.size === 0 || options.only.has(p.scenario));
  for (const plan of wanted) {
    const byClient = new Map(
      plan.clients.map((client) => [
        client,
        { scenario: plan.scenario, name: plan.name, client, runs: [] as Run[], median: {} } as CaseResult,
      ]),
    );
    for (let repeat = 0; repeat < options.repeats; repeat++) {
      const order = plan.clients.map((_, i) => plan.clients[(i + repeat) % plan.clients.length]!);
      for (const client of order) {
        const c = byClient.get(client)!;
        if (c.error !== undefined) continue;
        try {
          if (plan.scenario === 'idle') {
            let peak: MemoryUsage | null = null;
            const { message } = await runWorker(client, brokers, plan.make(client, repeat), async (pid) => {
              peak = memoryOf([pid]);
            });
            if (typeof message.error === 'string') throw new Error(message.error);
            c.runs.push({ records: 0, seconds: 0, cpuSeconds: 0, peak });
          } else {
            const { message, peak } = await runWorker(client, brokers, plan.make(client, repeat));
            if (typeof message.error === 'string') throw new Error(message.error);
            c.runs.push({ ...(message.result as Omit<Run, 'peak'>), peak });
          }
        } catch (err) {
          c.error = (err as Error).message;
        }
      }
    }
    for (const c of byClient.values()) {
      summarise(c);
      results.push(c);
    }
    compare(results);
    console.log(plan.name);
    for (const c of byClient.values()) console.log(line(c));
  }
  return results;
}

/** Which compressions and loop modes each client has (asked of the drivers, in a worker each). */
async function compressionsOf(clients: ClientName[], brokers: string[]) {
  const out: Partial<Record<ClientName, readonly Compression[]>> = {};
  for (const client of clients) out[client] = (await capabilities(client, brokers)).compressions;
  return out;
}

async function loopModesOf(clients: ClientName[], brokers: string[]) {
  const out: Partial<Record<ClientName, readonly LoopMode[]>> = {};
  for (const client of clients) out[client] = (await capabilities(client, brokers)).loopModes;
  return out;
}

const capabilityCache = new Map<ClientName, { compressions: Compression[]; loopModes: LoopMode[] }>();
async function capabilities(client: ClientName, brokers: string[]) {
  let c = capabilityCache.get(client);
  if (c === undefined) {
    const { message } = await runWorker(client, brokers, {
      kind: 'check',
      check: 'capabilities',
      prefix: 'capabilities',
    });
    const outcome = message.check as CheckOutcome;
    c = outcome.details as { compressions: Compression[]; loopModes: LoopMode[] };
    capabilityCache.set(client, c);
  }
  return c;
}

async function runChecks(clients: ClientName[], brokers: string[], run: string, names: ReadonlySet<string>) {
  const outcomes: Array<CheckOutcome & { client: ClientName }> = [];
  console.log('\nchecks (each against the broker, in a worker per client):');
  for (const check of CHECKS.filter((c) => names.size === 0 || names.has(c))) {
    for (const client of clients) {
      let outcome: CheckOutcome;
      try {
        const { message } = await runWorker(client, brokers, {
          kind: 'check',
          check,
          prefix: `${run}-check-${client}`,
        });
        outcome =
          typeof message.error === 'string'
            ? { check, result: 'error', summary: message.error }
            : (message.check as CheckOutcome);
      } catch (err) {
        outcome = { check, result: 'error', summary: (err as Error).message };
      }
      outcomes.push({ ...outcome, client });
      console.log(
        `  ${check.padEnd(24)} ${client.padEnd(13)} ${outcome.result.padEnd(5)} ${outcome.summary}`,
      );
    }
  }
  return outcomes;
}

function write(
  options: Options,
  r: {
    installs: Partial<Record<ClientName, InstallRecord>>;
    excluded: Partial<Record<ClientName, string>>;
    brokers: string[];
    busyBefore: string[];
    results: CaseResult[];
    checks: unknown[];
    startedAt: number;
  },
): void {
  const out = {
    question:
      'which Kafka client should meshpipe use: kafkajs, @platformatic/kafka or @confluentinc/kafka-javascript, measured side by side on one broker',
    date: new Date().toISOString(),
    quick: options.quick,
    repeats: options.repeats,
    machine: { ...machineFacts(), kafka: r.brokers.join(',') },
    busyProcessesAtStart: r.busyBefore,
    method:
      'each client runs each scenario in a child process of its own; CPU = user+system of all its threads over the measured window (/proc), peak memory sampled from smaps_rollup every 250 ms; medians over the repeats, clients taking turns in a rotating order; see bench/pipeline/kafka-clients.ts',
    installs: r.installs,
    excluded: r.excluded,
    cases: r.results.map(({ runs, ...c }) => ({
      ...c,
      runs: runs.map((x) => ({ ...x, seconds: round(x.seconds, 3), cpuSeconds: round(x.cpuSeconds, 2) })),
    })),
    checks: r.checks,
    elapsedSeconds: Math.round((Date.now() - r.startedAt) / 1000),
  };
  mkdirSync(join(RESULTS, '..'), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nresults: ${RESULTS} (${out.elapsedSeconds} s)`);
}

export function parseOptions(argv: readonly string[]): Options {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const quick = argv.includes('--quick');
  return {
    quick,
    repeats: Number(value('--repeats') ?? (quick ? 1 : 3)),
    checks: !argv.includes('--no-checks'),
    checkNames: new Set((value('--checks') ?? '').split(',').filter(Boolean)),
    only: new Set((value('--only') ?? '').split(',').filter(Boolean)),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runKafkaClients(parseOptions(process.argv.slice(2)));
  process.exit(0);
}
