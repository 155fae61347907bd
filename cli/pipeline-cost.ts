/**
 * What observing a request costs on this machine, live: the CPU of every component `meshpipe up` runs
 * (the collector with its loader, the processors, the sinks) over the last window, per request the
 * pipeline observed in it — the figure docs/benchmarks.md measures beside a sidecar pair, on the status
 * line. Requests are span-assembler's `requests_observed` (one per exchange: its SERVER span, or a
 * CLIENT span whose server is not captured).
 */
import { procUsage } from '../collectors/proc-usage.ts';
import type { ComponentState } from './stack/supervisor.ts';

/** The figure is averaged over this much time (a few status ticks). */
const WINDOW_MS = 10_000;

interface Sample {
  at: number;
  cpuSeconds: number;
  requests: number;
}

export class PipelineCost {
  readonly #samples: Sample[] = [];
  /**
   * Per component: its pid and last cumulative figures, and what earlier runs of it (before a restart:
   * a new pid, counting from zero) added up to, so the totals never go back.
   */
  readonly #components = new Map<
    string,
    { pid: number; cpuSeconds: number; requests: number; baseCpu: number; baseRequests: number }
  >();

  /** Adds a sample of the components now; returns µs of CPU per observed request over the window. */
  sample(components: readonly ComponentState[], now = Date.now()): number | null {
    let cpu = 0;
    let requests = 0;
    for (const c of components) {
      if (c.pid === undefined) continue;
      const cpuSeconds = (procUsage(c.pid)?.cpuSeconds ?? 0) + (c.status.counters?.loaderCpuSeconds ?? 0);
      const observed = c.status.counters?.['event.requests_observed'] ?? 0;
      let entry = this.#components.get(c.name);
      if (entry === undefined) {
        entry = { pid: c.pid, cpuSeconds, requests: observed, baseCpu: 0, baseRequests: 0 };
        this.#components.set(c.name, entry);
      } else if (entry.pid !== c.pid) {
        entry.baseCpu += entry.cpuSeconds;
        entry.baseRequests += entry.requests;
        entry.pid = c.pid;
      }
      entry.cpuSeconds = cpuSeconds;
      entry.requests = observed;
      cpu += entry.baseCpu + cpuSeconds;
      requests += entry.baseRequests + observed;
    }
    this.#samples.push({ at: now, cpuSeconds: cpu, requests });
    while (this.#samples.length > 2 && now - this.#samples[1]!.at >= WINDOW_MS) this.#samples.shift();
    const first = this.#samples[0]!;
    const dRequests = requests - first.requests;
    if (this.#samples.length < 2 || dRequests <= 0) return null;
    return ((cpu - first.cpuSeconds) * 1e6) / dRequests;
  }
}

/** `pipeline 42 µs CPU/req`, or nothing while no request was observed. */
export function formatCost(micros: number | null): string | null {
  if (micros === null || !Number.isFinite(micros)) return null;
  return `pipeline ${micros >= 100 ? Math.round(micros) : micros.toFixed(1)} µs CPU/req`;
}
