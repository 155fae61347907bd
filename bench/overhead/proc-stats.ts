/**
 * What processes cost, read from /proc the way an operator would: CPU time (/proc/<pid>/stat, user +
 * system, all threads), memory (/proc/<pid>/smaps_rollup), and how busy each core was (/proc/stat).
 *
 * Memory, three ways, because they answer different questions:
 *   RSS  pages of the process in RAM, shared ones counted in full: for a Node process that includes the
 *        node binary's file pages (code and read-only data), which every Node process on the machine
 *        shares and which the kernel can drop and re-read under pressure;
 *   PSS  each shared page divided by the number of processes mapping it: what the process adds to the
 *        machine's total when others share its pages (RSS when nobody does);
 *   USS  pages only this process maps (private clean + dirty): what its exit would free.
 * Anon (anonymous pages: heaps, stacks, JIT code) is what grows with load; a memory limit (cgroup)
 * charges anonymous pages plus the file pages the cgroup faulted in first.
 *
 * (Per-core busy time from /proc/stat is not used: in this VM it did not add up with the processes
 * pinned to each core. What other processes used is summed from their own /proc/<pid>/stat instead.)
 */
const USER_HZ = 100;

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { procUsage } from '../../collectors/proc-usage.ts';

/** CPU seconds (user + system) summed over `pids`; processes gone count 0. */
export function cpuSecondsOf(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) total += procUsage(pid)?.cpuSeconds ?? 0;
  return total;
}

export interface MemoryUsage {
  rssMiB: number;
  pssMiB: number;
  ussMiB: number;
  anonMiB: number;
}

const MiB = 1024;
/** Page size in kB (statm counts pages; smaps_rollup and MiB above are in kB). */
const PAGE = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' })) / 1024;

/** Memory of `pids`, summed (null when none is readable). */
export function memoryOf(pids: readonly number[]): MemoryUsage | null {
  const total = { rss: 0, pss: 0, uss: 0, anon: 0 };
  let found = false;
  for (const pid of pids) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
    } catch {
      continue;
    }
    found = true;
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? 0);
    total.rss += kb('Rss');
    total.pss += kb('Pss');
    total.uss += kb('Private_Clean') + kb('Private_Dirty');
    total.anon += kb('Anonymous');
  }
  if (!found) return null;
  const r = (v: number) => Math.round((v / MiB) * 10) / 10;
  return { rssMiB: r(total.rss), pssMiB: r(total.pss), ussMiB: r(total.uss), anonMiB: r(total.anon) };
}

/** Resident and anonymous kB of processes from /proc/<pid>/statm: constant time, no page walk. */
function residentOf(pids: readonly number[]): { rss: number; anon: number } | null {
  let rss = 0;
  let anon = 0;
  let found = false;
  for (const pid of pids) {
    try {
      const [, resident, shared] = readFileSync(`/proc/${pid}/statm`, 'latin1').split(' ').map(Number);
      rss += resident! * PAGE;
      anon += (resident! - shared!) * PAGE;
      found = true;
    } catch {
      // gone
    }
  }
  return found ? { rss, anon } : null;
}

/**
 * Peak memory of a process group, sampled every `intervalMs` until stopped. `mode: 'statm'` samples
 * RSS and anonymous memory from /proc/<pid>/statm and reads smaps_rollup (PSS, USS) once, at stop:
 * smaps_rollup walks the process's page tables, milliseconds for a 200 MiB agent, and the sampling
 * process runs on the application's core in bench/overhead, where each walk held nginx off the CPU
 * (up to 7.6 ms, perf sched) and showed up in the collector's p99.
 */
export function memorySampler(
  pids: () => readonly number[],
  intervalMs = 250,
  mode: 'smaps' | 'statm' = 'smaps',
) {
  let peak: MemoryUsage | null = null;
  const merge = (m: MemoryUsage) => {
    if (peak === null) peak = { ...m };
    else {
      peak.rssMiB = Math.max(peak.rssMiB, m.rssMiB);
      peak.pssMiB = Math.max(peak.pssMiB, m.pssMiB);
      peak.ussMiB = Math.max(peak.ussMiB, m.ussMiB);
      peak.anonMiB = Math.max(peak.anonMiB, m.anonMiB);
    }
  };
  const r = (kb: number) => Math.round((kb / MiB) * 10) / 10;
  const sample = () => {
    if (mode === 'smaps') {
      const m = memoryOf(pids());
      if (m !== null) merge(m);
      return;
    }
    const m = residentOf(pids());
    if (m !== null) merge({ rssMiB: r(m.rss), pssMiB: 0, ussMiB: 0, anonMiB: r(m.anon) });
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop(): MemoryUsage | null {
      clearInterval(timer);
      const m = memoryOf(pids());
      if (m !== null) merge(m);
      return peak;
    },
  };
}

export interface ProcessCpu {
  /** Its own CPU seconds plus those of its children that exited and were waited for. */
  cpu: number;
  comm: string;
  ppid: number;
}

/** CPU seconds of every user-space process (kernel threads left out), by pid. */
export function allProcessCpu(): Map<number, ProcessCpu> {
  const out = new Map<number, ProcessCpu>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      const ppid = Number(fields[1]);
      if (ppid === 2 || entry === '2') continue;
      out.set(Number(entry), {
        // utime, stime, cutime, cstime: short-lived children (a test runner's) count once reaped.
        cpu: (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / USER_HZ,
        comm: stat.slice(stat.indexOf('(') + 1, close),
        ppid,
      });
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * CPU seconds that processes other than `ours` (and than processes `isOurs` recognises) used between
 * two snapshots: how much the machine's other users disturbed a measurement.
 */
export function foreignCpuSeconds(
  a: Map<number, ProcessCpu>,
  b: Map<number, ProcessCpu>,
  ours: ReadonlySet<number>,
  isOurs: (p: ProcessCpu) => boolean,
): number {
  let total = 0;
  for (const [pid, now] of b) {
    if (ours.has(pid) || isOurs(now) || ours.has(now.ppid)) continue;
    // A process born during the window counts whole.
    total += now.cpu - (a.get(pid)?.cpu ?? 0);
  }
  return total;
}

/** Processes that used more than `minShare` of a core over `ms` (a noisy machine is said, not hidden). */
export async function busyProcesses(ms = 1000, minShare = 0.05): Promise<string[]> {
  const read = () => {
    const out = new Map<number, { cpu: number; cmd: string }>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const usage = procUsage(Number(entry));
      if (usage === null) continue;
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${entry}/cmdline`, 'latin1').replaceAll('\0', ' ').trim().slice(0, 80);
      } catch {
        // gone
      }
      out.set(Number(entry), { cpu: usage.cpuSeconds, cmd });
    }
    return out;
  };
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const b = read();
  const busy: string[] = [];
  for (const [pid, now] of b) {
    const before = a.get(pid);
    if (before === undefined || pid === process.pid) continue;
    const share = (now.cpu - before.cpu) / (ms / 1000);
    if (share >= minShare) busy.push(`${pid} ${Math.round(share * 100)}% ${now.cmd}`);
  }
  return busy;
}
