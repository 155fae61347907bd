/**
 * What dominates a CPU profile (`node --cpu-prof`): self time grouped by where it is spent — the
 * state codec, HTTP/1.x parsing, the span assembler, Avro, kafkajs, hashing, the runtime, GC — and the
 * heaviest functions. Used by run.ts on the profiles of the handler and host runs.
 *
 *   node bench/span-assembler/profile.ts <file.cpuprofile>
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Share of the non-idle time per area, largest first (percent). */
  areas: Array<{ area: string; percent: number }>;
  /** Heaviest functions by self time (percent of non-idle time). */
  functions: Array<{ fn: string; percent: number }>;
}

/** An area of a profile: a name, and whether a function (its script's url, its name) belongs to it. */
export type ProfileArea = [string, (url: string, fn: string) => boolean];

/** Areas by where the code lives; the first that matches wins. */
export const AREAS: ProfileArea[] = [
  ['garbage collection', (_u, f) => f === '(garbage collector)'],
  ['idle (waiting on the broker)', (_u, f) => f === '(idle)'],
  [
    'state codec (changelog encode/decode)',
    (u) => u.includes('runtime/state-codec') || u.includes('runtime/state-store'),
  ],
  ['http/1 parsing (protocols/http1)', (u) => u.includes('/protocols/http1/')],
  [
    'span assembler (pairing, spans)',
    (u) => u.includes('/processors/span-assembler/') || u.includes('/processors/shared/'),
  ],
  [
    'avro (avsc and generated codecs)',
    (u, f) => u.includes('/avsc/') || u.includes('/schemas/') || /^(read|write)[A-Z]/.test(f),
  ],
  ['kafkajs (protocol, crc32c, murmur2)', (u) => u.includes('/kafkajs/')],
  ['hashing (span ids)', (u) => u.includes('crypto/hash')],
  [
    'processor runtime (host, tasks, metrics)',
    (u) => u.includes('/processors/runtime/') || u.includes('prom-client'),
  ],
  [
    'node buffers and strings',
    (u, f) =>
      u.startsWith('node:internal/buffer') || u.startsWith('node:buffer') || /Slice$|^writeBuffer$/.test(f),
  ],
  ['bench harness (workload)', (u) => u.includes('/bench/')],
  [
    'startup (loading modules, stripping types)',
    (u, f) =>
      u.startsWith('node:internal/modules') ||
      u.includes('amaro') ||
      u.startsWith('wasm://') ||
      f.startsWith('compile'),
  ],
];

/** Areas left out of the shares: time not spent on the work measured. */
const NOT_BUSY = ['idle (waiting on the broker)', 'profiler (node:inspector)'];

export function summarizeProfile(
  file: string,
  top = 15,
  areaList: readonly ProfileArea[] = AREAS,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byNode.get(id)!.callFrame;
    const fn = functionName === '' ? '(anonymous)' : functionName;
    const area = areaList.find(([, match]) => match(url, fn))?.[0] ?? 'other';
    areas.set(area, (areas.get(area) ?? 0) + us);
    if (NOT_BUSY.includes(area)) continue;
    busy += us;
    const where = url === '' ? fn : `${fn} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
    fns.set(where, (fns.get(where) ?? 0) + us);
  }
  const pct = (us: number) => Math.round((1000 * us) / busy) / 10;
  return {
    areas: [...areas]
      .filter(([area]) => !NOT_BUSY.includes(area))
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, percent: pct(us) })),
    functions: [...fns]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([fn, us]) => ({ fn, percent: pct(us) })),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const summary = summarizeProfile(process.argv[2]!, 25);
  console.table(summary.areas);
  console.table(summary.functions);
}
