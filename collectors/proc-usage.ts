/**
 * CPU time and resident memory of a process from /proc, for the loader's share of the collector's cost
 * (the agent's own comes from Node) and for the benchmark. Linux reports CPU times in clock ticks of
 * USER_HZ, which is 100 on every architecture meshpipe supports (sysconf(_SC_CLK_TCK)).
 */
import { readFileSync } from 'node:fs';

const USER_HZ = 100;

export interface ProcUsage {
  /** User + system CPU time, seconds. */
  cpuSeconds: number;
  /** Resident set size, bytes. */
  rssBytes: number;
}

/** Usage of `pid`, or null when it is gone. */
export function procUsage(pid: number, procRoot = '/proc'): ProcUsage | null {
  try {
    const stat = readFileSync(`${procRoot}/${pid}/stat`, 'latin1');
    // Fields after the comm, which may contain spaces and ')': state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`${procRoot}/${pid}/status`, 'latin1');
    const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return { cpuSeconds: ticks / USER_HZ, rssBytes: rss === null ? 0 : Number(rss[1]) * 1024 };
  } catch {
    return null;
  }
}
