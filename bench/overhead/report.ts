/**
 * The overhead benchmark's outputs: the JSON, a Markdown table, and an SVG chart of mean and p99
 * latency per scenario and rate — drawn here in a few dozen lines (grouped bars on a log scale), so the
 * benchmark needs no plotting dependency.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

interface Latency {
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
}
interface Mem {
  rssMiB: number;
  pssMiB: number;
  ussMiB: number;
  anonMiB: number;
}
interface RowLike {
  scenario: string;
  rate: number;
  achievedRps: number;
  sustained: boolean;
  latency: Latency;
  cpuMicrosPerRequest: Record<string, number>;
  proxyMemory: Mem | null;
  collector: {
    eventsPerSecond: number;
    droppedTotal: number;
    dropped: Record<string, number>;
    cpuMicrosPerEvent: number;
    idleMemory: { agent: Mem | null; loader: Mem | null };
    peakMemory: { agent: Mem | null; loader: Mem | null };
  } | null;
}
interface ResultsLike {
  date: string;
  ratios: Array<Record<string, unknown> & { rate: number }>;
  machine: Record<string, unknown>;
  /** baseline: the scenario a row's ratios are to (S0 for all but S1t, whose is S0t). */
  scenarios: Record<string, { name: string; what: string; baseline?: string }>;
  rates: number[];
  rows: RowLike[];
  promises: {
    latency: {
      promise: string;
      met: boolean;
      perRate: Array<{ rate: number; meanRatio: number; p99Ratio: number; met: boolean }>;
    };
    drops: { promise: string; met: boolean; reached?: boolean; highestZeroDropEventsPerSecond: number };
    memory: { promise: string; met: boolean; peakRssMiB: number; peakPssMiB: number; peakUssMiB: number };
  };
}

const f = (n: number | undefined, d = 3) => (n === undefined || Number.isNaN(n) ? '–' : n.toFixed(d));

export function markdown(r: ResultsLike): string {
  const lines: string[] = [];
  lines.push(
    `Run ${r.date}, ${r.machine.cpus} cores (${r.machine.cpuModel}), Linux ${r.machine.kernel}, nginx ${r.machine.nginx}, haproxy ${r.machine.haproxy}, Node ${r.machine.node}.`,
  );
  lines.push('');
  lines.push(
    '| rate req/s | scenario | achieved req/s | mean ms | p50 ms | p99 ms | p99.9 ms | mean × baseline (median per rep) | p99 × baseline (median per rep) | CPU µs/req: app · proxies · collector |',
  );
  lines.push('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const rate of r.rates) {
    const ratioRow = r.ratios.find((x) => x.rate === rate);
    const baselineOf = (scenario: string) => r.scenarios[scenario]?.baseline ?? 'S0';
    const perRep = (scenario: string, key: 'mean' | 'p99') => {
      const v = (
        ratioRow?.[`${scenario}/${baselineOf(scenario)}`] as
          | { medianPerRep?: Record<string, number> }
          | undefined
      )?.medianPerRep?.[key];
      return v === undefined || Number.isNaN(v) ? '' : ` (${v.toFixed(2)}x)`;
    };
    for (const row of r.rows.filter((x) => x.rate === rate)) {
      const base = r.rows.find((x) => x.scenario === baselineOf(row.scenario) && x.rate === rate);
      const c = row.cpuMicrosPerRequest;
      const collector = (c.agent ?? 0) + (c.loader ?? 0);
      const name = `${row.scenario} ${r.scenarios[row.scenario]?.name ?? ''}`.trim();
      lines.push(
        `| ${rate} | ${name}${row.sustained ? '' : ' (not sustained)'} | ${row.achievedRps.toFixed(0)} | ${f(row.latency.meanMs)} | ${f(row.latency.p50Ms)} | ${f(row.latency.p99Ms)} | ${f(row.latency.p999Ms)} | ${base === undefined || row.scenario === 'S0' ? '' : `${(row.latency.meanMs / base.latency.meanMs).toFixed(2)}x${perRep(row.scenario, 'mean')}`} | ${base === undefined || row.scenario === 'S0' ? '' : `${(row.latency.p99Ms / base.latency.p99Ms).toFixed(2)}x${perRep(row.scenario, 'p99')}`} | ${f(c.app, 1)} · ${row.scenario === 'S2' || row.scenario === 'S3' ? f(c.proxies, 1) : '–'} · ${row.scenario.startsWith('S1') ? f(collector, 1) : '–'} |`,
      );
    }
  }
  const s1 = r.rows.filter((x) => x.collector !== null);
  if (s1.length > 0) {
    lines.push('');
    lines.push(
      '| rate req/s | scenario | captured events/s | dropped | collector µs/event (agent + loader) | CPU µs/req | peak RSS MiB agent + loader | PSS | USS | anon |',
    );
    lines.push('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const row of s1) {
      const c = row.collector!;
      const a = c.peakMemory.agent;
      const l = c.peakMemory.loader;
      const sum = (k: keyof Mem) => f((a?.[k] ?? 0) + (l?.[k] ?? 0), 0);
      lines.push(
        `| ${row.rate} | ${row.scenario} | ${c.eventsPerSecond} | ${c.droppedTotal}${c.droppedTotal > 0 ? ` ${JSON.stringify(c.dropped)}` : ''} | ${f(c.cpuMicrosPerEvent, 1)} | ${f((row.cpuMicrosPerRequest.agent ?? 0) + (row.cpuMicrosPerRequest.loader ?? 0), 1)} | ${f(a?.rssMiB, 0)} + ${f(l?.rssMiB, 0)} | ${sum('pssMiB')} | ${sum('ussMiB')} | ${sum('anonMiB')} |`,
      );
    }
  }
  const proxies = r.rows.filter((x) => x.proxyMemory !== null);
  if (proxies.length > 0) {
    lines.push('');
    const peak = (s: string) => {
      const m = proxies.filter((x) => x.scenario === s).map((x) => x.proxyMemory!);
      return m.length === 0
        ? null
        : {
            rss: Math.max(...m.map((x) => x.rssMiB)),
            pss: Math.max(...m.map((x) => x.pssMiB)),
            uss: Math.max(...m.map((x) => x.ussMiB)),
          };
    };
    for (const s of ['S2', 'S3']) {
      const p = peak(s);
      if (p !== null)
        lines.push(
          `Proxies of ${s}: peak RSS ${p.rss.toFixed(1)} MiB, PSS ${p.pss.toFixed(1)} MiB, USS ${p.uss.toFixed(1)} MiB (all proxy processes together).`,
        );
    }
  }
  lines.push('');
  const p = r.promises;
  lines.push(
    `- ${p.latency.promise}: **${p.latency.met ? 'met' : 'missed'}** (${p.latency.perRate.map((x) => `${x.rate}: ${x.meanRatio}x / ${x.p99Ratio}x${x.met ? '' : ' ✗'}`).join('; ')})`,
  );
  lines.push(
    `- ${p.drops.promise}: **${p.drops.met ? 'met' : p.drops.reached === false ? 'not reached by these rates' : 'missed'}** (zero drops measured up to ${p.drops.highestZeroDropEventsPerSecond} events/s)`,
  );
  lines.push(
    `- ${p.memory.promise}: **${p.memory.met ? 'met' : 'missed'}** (peak RSS ${p.memory.peakRssMiB} MiB; PSS ${p.memory.peakPssMiB}; USS ${p.memory.peakUssMiB})`,
  );
  return `${lines.join('\n')}\n`;
}

const COLORS: Record<string, string> = {
  S0: '#6b7280',
  S1: '#2563eb',
  S2: '#dc2626',
  S3: '#d97706',
  S1k: '#60a5fa',
  S1o: '#1e3a8a',
  S1ts: '#7c3aed',
  S0t: '#9ca3af',
  S1t: '#059669',
};

function esc(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** Two panels (mean, p99), groups per rate, one bar per scenario, log-scale milliseconds. */
export function svg(r: ResultsLike): string {
  const scenarios = Object.keys(r.scenarios);
  const panels: Array<{ title: string; pick: (l: Latency) => number }> = [
    { title: 'mean latency (ms)', pick: (l) => l.meanMs },
    { title: 'p99 latency (ms)', pick: (l) => l.p99Ms },
  ];
  const values = r.rows.flatMap((row) => panels.map((p) => p.pick(row.latency))).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...values, 1)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values, lo * 10)));
  const W = 460;
  const H = 300;
  const M = { left: 56, right: 12, top: 34, bottom: 46 };
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const y = (v: number) =>
    M.top +
    plotH -
    ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH;
  const out: string[] = [];
  const width = W * panels.length;
  const legendH = 28;
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H + legendH}" viewBox="0 0 ${width} ${H + legendH}" font-family="sans-serif" font-size="11">`,
  );
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  panels.forEach((panel, pi) => {
    const x0 = pi * W;
    out.push(
      `<text x="${x0 + M.left}" y="18" font-size="13" font-weight="bold">${esc(panel.title)}, log scale</text>`,
    );
    for (let d = lo; d <= hi * 1.0001; d *= 10) {
      const yy = y(d).toFixed(1);
      out.push(
        `<line x1="${x0 + M.left}" x2="${x0 + M.left + plotW}" y1="${yy}" y2="${yy}" stroke="#e5e7eb"/>`,
      );
      out.push(
        `<text x="${x0 + M.left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${d >= 1 ? d : d.toPrecision(1)}</text>`,
      );
    }
    const groupW = plotW / r.rates.length;
    const barW = Math.min(22, (groupW * 0.8) / scenarios.length);
    r.rates.forEach((rate, gi) => {
      const gx = x0 + M.left + gi * groupW + (groupW - barW * scenarios.length) / 2;
      scenarios.forEach((s, si) => {
        const row = r.rows.find((x) => x.rate === rate && x.scenario === s);
        if (row === undefined) return;
        const v = panel.pick(row.latency);
        const top = y(v);
        const bx = gx + si * barW;
        out.push(
          `<rect x="${bx.toFixed(1)}" y="${top.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(M.top + plotH - top).toFixed(1)}" fill="${COLORS[s] ?? '#999'}"${row.sustained ? '' : ' fill-opacity="0.35" stroke="#000" stroke-dasharray="2,2"'}><title>${s} at ${rate} req/s: ${v} ms${row.sustained ? '' : ' (not sustained)'}</title></rect>`,
        );
      });
      out.push(
        `<text x="${(x0 + M.left + gi * groupW + groupW / 2).toFixed(1)}" y="${M.top + plotH + 16}" text-anchor="middle">${rate >= 1000 ? `${rate / 1000}K` : rate}</text>`,
      );
    });
    out.push(
      `<text x="${x0 + M.left + plotW / 2}" y="${M.top + plotH + 34}" text-anchor="middle">offered rate (requests/s)</text>`,
    );
    out.push(
      `<line x1="${x0 + M.left}" x2="${x0 + M.left}" y1="${M.top}" y2="${M.top + plotH}" stroke="#374151"/>`,
    );
  });
  let lx = M.left;
  for (const s of scenarios) {
    out.push(`<rect x="${lx}" y="${H + 6}" width="12" height="12" fill="${COLORS[s] ?? '#999'}"/>`);
    const label = `${s} ${r.scenarios[s]!.name}`;
    out.push(`<text x="${lx + 16}" y="${H + 16}">${esc(label)}</text>`);
    lx += 24 + label.length * 6.2;
  }
  out.push(`<text x="${lx}" y="${H + 16}" fill="#6b7280">dashed: rate not sustained</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * Writes <name>.json, <name>.md and <name>.svg under bench/results/ (or next to `name` when it is a
 * path: experiments kept out of the committed results); returns the paths.
 */
export function writeReports(name: string, results: object): string[] {
  const base = name.includes('/') ? resolve(name) : join(RESULTS_DIR, name);
  mkdirSync(dirname(base), { recursive: true });
  const json = `${base}.json`;
  const md = `${base}.md`;
  const chart = `${base}.svg`;
  writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(md, markdown(results as ResultsLike));
  writeFileSync(chart, svg(results as ResultsLike));
  return [json, md, chart];
}
