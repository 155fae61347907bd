/**
 * What does the kernel capture cost per writev, by iovec count — this build against another (before
 * and after a change to bpf/), measured side by side in one run (root: the eBPF loader).
 *
 *   sudo node bench/iovec-capture/run.ts --baseline <other>/bpf/build/meshpipe-loader
 *        [--iovecs 2,8,21,61] [--writes 5000] [--reps 3]
 *
 * A Node server on loopback answers one HTTP/1.x request, then writes `--writes` responses on the same
 * connection, each one writev (the socket corked around a head and iovecs-1 body pieces of 100 bytes:
 * how Node sends a response written in pieces). Each response starts a message, so the copy budget
 * (4096) is fresh for every writev: up to ~40 pieces are copied, the rest only walked for the chunked
 * end. The loader traces that port only.
 *
 * The cost is the kernel's own account: with `kernel.bpf_stats_enabled` on for the run (restored
 * after), run_time_ns / run_cnt of the loader's sys_enter_writev and sys_exit_writev programs, found
 * through the loader's file descriptors. Every writev on the machine runs them (other processes' leave
 * at the port filter, a few dozen ns), so the figure is for a mix dominated by ours: the run also
 * reports our share of the calls. Builds alternate within every repetition; compare the ratios.
 * Writes bench/results/iovec-capture.json.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { DEFAULT_LOADER_BINARY } from '../../collectors/capture/loader/loader-process.ts';
import { machineFacts } from '../environment.ts';

const { values } = parseArgs({
  options: {
    baseline: { type: 'string' },
    iovecs: { type: 'string', default: '2,8,21,61' },
    writes: { type: 'string', default: '5000' },
    reps: { type: 'string', default: '3' },
  },
});
if (values.baseline === undefined)
  throw new Error('--baseline <path of the other meshpipe-loader> is required');
const BUILDS = { baseline: values.baseline, current: DEFAULT_LOADER_BINARY };
const IOVECS = values.iovecs.split(',').map(Number);
const WRITES = Number(values.writes);
const REPS = Number(values.reps);
const PIECE = Buffer.alloc(100, 'x');

interface ProgStats {
  runTimeNs: number;
  runCount: number;
}

/** The loader's programs by name, from its open BPF program file descriptors. */
function programIds(pid: number, names: string[]): Map<string, number> {
  const ids = new Map<string, number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== 'anon_inode:bpf-prog') continue;
    const id = /prog_id:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
    if (id === undefined) continue;
    const info = JSON.parse(execFileSync('bpftool', ['prog', 'show', 'id', id, '-j'], { encoding: 'utf8' }));
    if (names.includes(info.name)) ids.set(info.name, Number(id));
  }
  if (ids.size !== names.length) throw new Error(`loader ${pid}: found ${[...ids.keys()]} of ${names}`);
  return ids;
}

function stats(ids: Map<string, number>): ProgStats {
  let runTimeNs = 0;
  let runCount = 0;
  for (const id of ids.values()) {
    const info = JSON.parse(
      execFileSync('bpftool', ['prog', 'show', 'id', String(id), '-j'], { encoding: 'utf8' }),
    );
    runTimeNs += info.run_time_ns ?? 0;
    // Enter and exit both run once per writev: count calls on one of them.
    if (info.name === 'mp_exit_writev') runCount += info.run_cnt ?? 0;
  }
  return { runTimeNs, runCount };
}

/**
 * The loader run directly, its records read and discarded: the builds may speak different record ABIs,
 * and only their kernel programs are measured. Ready once it wrote its first record (READY).
 */
async function startLoader(binary: string, port: number): Promise<ChildProcess> {
  const child = spawn(binary, ['--port', String(port), '--cap-bytes', '4096'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`${binary} exited (${code})`)));
  });
  child.stdout!.resume();
  return child;
}

async function stopLoader(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** A connection classified as HTTP/1.x, then `writes` responses of `iovecs` iovecs each, read to the end. */
async function traffic(port: number, iovecs: number, writes: number): Promise<void> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const served = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const client = connect(port, '127.0.0.1');
  const body = (iovecs - 1) * PIECE.length;
  const head = `HTTP/1.1 200 OK\r\ncontent-length: ${body}\r\n\r\n`;
  let received = 0;
  const total = writes * (Buffer.byteLength(head) + body);
  const done = new Promise<void>((resolve) =>
    client.on('data', (d: Buffer) => {
      received += d.length;
      if (received >= total) resolve();
    }),
  );
  client.write('GET / HTTP/1.1\r\nhost: bench\r\n\r\n');
  const socket = await served;
  await new Promise((resolve) => socket.once('data', resolve));
  for (let i = 0; i < writes; i++) {
    socket.cork();
    socket.write(head);
    for (let p = 1; p < iovecs; p++) socket.write(PIECE);
    socket.uncork();
    if (socket.writableNeedDrain) await new Promise((resolve) => socket.once('drain', resolve));
  }
  await done;
  client.destroy();
  socket.destroy();
  await new Promise((resolve) => server.close(resolve));
}

const port = 30_000 + Math.floor(Math.random() * 20_000);
const statsBefore = execFileSync('sysctl', ['-n', 'kernel.bpf_stats_enabled'], { encoding: 'utf8' }).trim();
execFileSync('sysctl', ['-q', '-w', 'kernel.bpf_stats_enabled=1']);
const rows: Array<{ build: string; iovecs: number; rep: number; nsPerWritev: number; ourShare: number }> = [];
try {
  for (let rep = 0; rep < REPS; rep++) {
    for (const iovecs of IOVECS) {
      // Alternate which build goes first, so that drift lands on both alike.
      const order = rep % 2 === 0 ? (['baseline', 'current'] as const) : (['current', 'baseline'] as const);
      for (const build of order) {
        const loader = await startLoader(BUILDS[build], port);
        const ids = programIds(loader.pid!, ['mp_enter_writev', 'mp_exit_writev']);
        const before = stats(ids);
        await traffic(port, iovecs, WRITES);
        const after = stats(ids);
        await stopLoader(loader);
        const calls = after.runCount - before.runCount;
        const row = {
          build,
          iovecs,
          rep,
          nsPerWritev: (after.runTimeNs - before.runTimeNs) / calls,
          ourShare: WRITES / calls,
        };
        rows.push(row);
        console.log(
          `${build.padEnd(8)} iovecs ${String(iovecs).padStart(3)} rep ${rep}: ${row.nsPerWritev.toFixed(0)} ns/writev (enter + exit), ${(100 * Math.min(1, row.ourShare)).toFixed(0)}% of the calls ours`,
        );
      }
    }
  }
} finally {
  execFileSync('sysctl', ['-q', '-w', `kernel.bpf_stats_enabled=${statsBefore}`]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = IOVECS.map((iovecs) => {
  const of = (build: string) =>
    median(rows.filter((r) => r.build === build && r.iovecs === iovecs).map((r) => r.nsPerWritev));
  const baseline = of('baseline');
  const current = of('current');
  return {
    iovecs,
    baselineNs: Math.round(baseline),
    currentNs: Math.round(current),
    ratio: current / baseline,
  };
});
console.log('\niovecs  baseline ns  current ns  current/baseline (medians)');
for (const s of summary)
  console.log(
    `${String(s.iovecs).padStart(6)}  ${String(s.baselineNs).padStart(11)}  ${String(s.currentNs).padStart(10)}  ${s.ratio.toFixed(2)}x`,
  );
writeFileSync(
  new URL('../results/iovec-capture.json', import.meta.url),
  `${JSON.stringify({ machine: machineFacts(), options: { iovecs: IOVECS, writes: WRITES, reps: REPS }, summary, rows }, null, 2)}\n`,
);
