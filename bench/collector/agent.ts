/**
 * How much CPU does the collector's agent spend per captured event, and where? The agent alone, on a
 * real loader stream, without the kernel, the broker or the scheduler's noise.
 *
 *   node bench/collector/agent.ts --capture [--rate 5000] [--seconds 8]   (root: eBPF, pods; once)
 *   node bench/collector/agent.ts [--reps 5]                                (anywhere, as often as wanted)
 *   node --cpu-prof --cpu-prof-dir=/tmp/p bench/collector/agent.ts --reps 1
 *
 * `--capture` runs the real meshpipe-loader while wrk drives nginx between two pods (keep-alive HTTP/1.1,
 * as bench/collector does) and saves its output stream — exactly the bytes the agent reads from the
 * loader's stdout — to .local/bench/loader-stream.bin. The replay feeds that stream in 64 KiB chunks,
 * as the pipe delivers it, through the agent's whole hot path: record decoding, the loss gate, identity,
 * the HTTP/1 framer with redaction, event building, and the batch writer, whose batch records are taken
 * every 20 ms of stream time as the producer would (only the send to Kafka is left out: that is the
 * Kafka client's cost, measured in bench/pipeline). The figure is the process's CPU time (all threads,
 * the garbage collector's included) per event, so a busy machine slows the run, not the result.
 * Results: bench/results/collector-agent.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { CgroupDirectory } from '../../collectors/build/identity/cgroup-directory.ts';
import { IdentityResolver } from '../../collectors/build/identity/identity-resolver.ts';
import { NetnsNames } from '../../collectors/build/identity/netns-names.ts';
import { ProcessTable } from '../../collectors/build/identity/process-table.ts';
import { WorkloadRules } from '../../collectors/build/identity/workload-rules.ts';
import { RawEventBuilder } from '../../collectors/build/raw-event-builder.ts';
import { DEFAULT_LOADER_BINARY, loaderArguments } from '../../collectors/capture/loader/loader-process.ts';
import { RecordDecoder } from '../../collectors/capture/loader/record-decoder.ts';
import { newCaptureCounters } from '../../collectors/capture-counters.ts';
import { RawBatchWriter } from '../../collectors/ship/raw-batch-writer.ts';
import { compileRedactionPolicy } from '../../protocols/http1/redact.ts';
import { machineFacts } from '../environment.ts';
import { createPods, runWrk, startNginx } from './harness.ts';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : fallback;
};
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STREAM = flag('stream', join(ROOT, '.local/bench/loader-stream.bin'));
const RESULTS = flag('out', join(ROOT, 'bench/results/collector-agent.json'));
const CHUNK = 64 * 1024;
const TAKE_EVERY = 400;
const PORT = 18_091;

async function capture(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('--capture needs root (eBPF, network namespaces)');
  const rate = Number(flag('rate', '5000'));
  const seconds = Number(flag('seconds', '8'));
  const pods = createPods();
  const nginx = await startNginx(pods.server, PORT);
  const args = loaderArguments({ ports: [PORT], statsMs: 250, capBytes: 4096 } as never);
  const loader = spawn(DEFAULT_LOADER_BINARY, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const chunks: Buffer[] = [];
  loader.stdout!.on('data', (d: Buffer) => chunks.push(d));
  try {
    // Loading and attaching take a few seconds; traffic before READY would be missed.
    await sleep(6000);
    const wrk = await runWrk(pods.client, `http://${pods.serverAddress}:${PORT}/`, rate, seconds);
    await sleep(1000);
    loader.kill('SIGTERM');
    await new Promise((r) => loader.once('exit', r));
    const stream = Buffer.concat(chunks);
    mkdirSync(dirname(STREAM), { recursive: true });
    writeFileSync(STREAM, stream);
    console.log(
      `captured ${wrk.requests} requests (${wrk.requestsPerSecond} req/s): ${stream.length} bytes of loader stream → ${STREAM}`,
    );
  } finally {
    if (loader.exitCode === null) loader.kill('SIGKILL');
    await nginx.stop();
    pods.remove();
  }
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** One replay of the stream through the agent's hot path; returns CPU seconds and counts. */
function replay(stream: Buffer) {
  const counters = newCaptureCounters();
  const writer = new RawBatchWriter({ node: 'bench-node', maxEvents: 1_000_000, maxBytes: 1 << 30 });
  let events = 0;
  let records = 0;
  let recordBytes = 0;
  const builder = new RawEventBuilder({
    node: 'bench-node',
    identity: new IdentityResolver({
      processes: new ProcessTable(),
      netns: new NetnsNames(),
      cgroups: new CgroupDirectory(),
      rules: new WorkloadRules([]),
      namespace: null,
      self: { pids: new Set(), parentOfOurs: null },
    }),
    redaction: compileRedactionPolicy({ headers: [], queryParams: [] }),
    shipBodies: false,
    maxConnections: 16_384,
    counters,
    emit: (event) => {
      events++;
      writer.add(event);
    },
  });
  const decoder = new RecordDecoder();
  const started = cpuSeconds();
  for (let off = 0; off < stream.length; off += CHUNK) {
    builder.push(decoder.push(stream.subarray(off, Math.min(stream.length, off + CHUNK))));
    // The producer takes what is pending every linger (20 ms): 400 events at 20K events/s.
    if (writer.size >= TAKE_EVERY) {
      for (const r of writer.take(6, { maxEvents: 2000, maxBytes: 900_000 })) {
        records++;
        recordBytes += r.value.length;
      }
    }
  }
  builder.endRun();
  for (const r of writer.take(6, { maxEvents: 2000, maxBytes: 900_000 })) {
    records++;
    recordBytes += r.value.length;
  }
  return { cpuSeconds: cpuSeconds() - started, events, records, recordBytes, counters };
}

async function bench(): Promise<void> {
  let stream: Buffer;
  try {
    stream = readFileSync(STREAM);
  } catch {
    throw new Error(`no loader stream at ${STREAM}: run once with --capture (as root)`);
  }
  const reps = Number(flag('reps', '5'));
  replay(stream); // warm-up: compile the hot paths
  const runs = [];
  for (let r = 0; r < reps; r++) runs.push(replay(stream));
  const per = runs.map((r) => (r.cpuSeconds * 1e6) / r.events).sort((a, b) => a - b);
  const median = per[Math.floor(per.length / 2)]!;
  const last = runs.at(-1)!;
  const result = {
    question:
      "CPU per captured event of the collector's agent (decode, identity, HTTP/1 framing and redaction, events, batch records), on a real loader stream",
    date: new Date().toISOString(),
    machine: machineFacts(),
    stream: { path: STREAM, bytes: stream.length },
    events: last.events,
    batchRecords: last.records,
    bytesPerEvent: Math.round((last.recordBytes / last.events) * 10) / 10,
    cpuMicrosPerEvent: Math.round(median * 100) / 100,
    runs: per.map((p) => Math.round(p * 100) / 100),
  };
  console.log(
    `agent: ${result.cpuMicrosPerEvent} µs CPU per event (median of ${reps}: ${result.runs.join(', ')}), ${result.events} events, ${result.bytesPerEvent} B per event in ${result.batchRecords} batch records`,
  );
  if (!argv.includes('--no-write')) {
    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
  }
}

if (argv.includes('--capture')) await capture();
else await bench();
