/**
 * Where a V8 CPU profile (`node --cpu-prof`) spends its time, by owner: each sample is charged to the
 * innermost frame that belongs to one of meshpipe's folders or to a dependency, so time in Node's own
 * Buffer or zlib code counts for whoever called it. Plus the heaviest functions by self time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Owners, matched against frame URLs from the innermost frame outwards. */
const OWNERS: Array<[string, RegExp]> = [
  ['kafkajs (produce requests)', /node_modules\/kafkajs\//],
  ['avsc (Avro encoding)', /node_modules\/avsc\/|\/schemas\//],
  ['prom-client', /node_modules\/prom-client\//],
  ['pino (logs)', /node_modules\/pino/],
  ['protocols/http1 (framing, redaction)', /\/protocols\//],
  ['collectors/capture/loader (record decoding)', /\/collectors\/capture\/loader\//],
  ['collectors (events, identity, buffer)', /\/collectors\//],
];

function load(dir: string): Profile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile);
}

export interface ProfileSummary {
  byOwner: Array<{ owner: string; percent: number }>;
  topSelf: Array<{ function: string; location: string; percent: number }>;
}

export function summarizeProfiles(dir: string, top = 15): ProfileSummary {
  const owners = new Map<string, number>();
  const self = new Map<string, number>();
  let total = 0;
  for (const profile of load(dir)) {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const ownerOf = new Map<number, string>();
    const owner = (id: number): string => {
      const known = ownerOf.get(id);
      if (known !== undefined) return known;
      const leaf = byId.get(id)!;
      let result: string | undefined;
      for (let at: number | undefined = id; at !== undefined && result === undefined; at = parent.get(at)) {
        const url = byId.get(at)!.callFrame.url;
        result = OWNERS.find(([, re]) => re.test(url))?.[0];
      }
      const name = leaf.callFrame.functionName;
      result ??= name.startsWith('(') ? name : 'node internals and other';
      ownerOf.set(id, result);
      return result;
    };
    for (let i = 0; i < profile.samples.length; i++) {
      const id = profile.samples[i]!;
      const dt = profile.timeDeltas[i] ?? 0;
      total += dt;
      const o = owner(id);
      owners.set(o, (owners.get(o) ?? 0) + dt);
      const f = byId.get(id)!.callFrame;
      const where =
        f.url === ''
          ? ''
          : `${f.url.replace(/^.*?\/(node_modules\/[^/]+|collectors|protocols|schemas|lib)\//, '$1/')}:${f.lineNumber + 1}`;
      const key = `${f.functionName || '(anonymous)'}\t${where}`;
      self.set(key, (self.get(key) ?? 0) + dt);
    }
  }
  const pct = (v: number) => Math.round((v / Math.max(1, total)) * 1000) / 10;
  return {
    byOwner: [...owners.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([owner, v]) => ({ owner, percent: pct(v) })),
    topSelf: [...self.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, v]) => {
        const [fn, location] = key.split('\t') as [string, string];
        return { function: fn, location, percent: pct(v) };
      }),
  };
}

if (import.meta.main) {
  const summary = summarizeProfiles(process.argv[2] ?? '.', Number(process.argv[3] ?? 25));
  for (const o of summary.byOwner) console.log(`${o.percent.toFixed(1).padStart(5)}%  ${o.owner}`);
  console.log('');
  for (const f of summary.topSelf)
    console.log(`${f.percent.toFixed(1).padStart(5)}%  ${f.function}  ${f.location}`);
}
