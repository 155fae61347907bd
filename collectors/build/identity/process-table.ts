/**
 * What /proc says about a process: command name, executable, parent, cgroups, and (on demand) the TCP
 * ports it listens on. Cached per pid for a short TTL: a node's busy servers are looked up once per
 * TTL, not per event, and a renamed process (prctl, exec) is seen again within the TTL.
 *
 * Processes exit all the time (a `curl` is gone milliseconds after its last syscall, before its events
 * reach user space), so a missing /proc entry is an answer, not an error: the fields are null and the
 * miss is cached like a hit, so an exited pid costs one failed open per TTL. Reads are synchronous on
 * purpose: procfs is in-memory, and an async read per new pid would cost more than it saves.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface ProcessInfo {
  readonly pid: number;
  /** /proc/<pid>/comm, null if the process was gone. */
  readonly comm: string | null;
  /** The executable (readlink /proc/<pid>/exe); null when gone or not readable (kernel threads). */
  readonly exe: string | null;
  readonly ppid: number | null;
  /** The text of /proc/<pid>/cgroup. */
  readonly cgroups: string | null;
}

export interface ProcessTableOptions {
  /** procfs mount; default /proc (a DaemonSet needs hostPID for this to be the node's). */
  procRoot?: string;
  /** Default 5 s. */
  ttlMs?: number;
  /** Entries kept at most (the oldest half is dropped beyond). Default 8192. */
  maxEntries?: number;
  now?: () => number;
}

export interface ProcessTableCounters {
  lookups: number;
  /** Lookups that read /proc (the rest were cached). */
  reads: number;
  /** Reads that found no process. */
  exited: number;
}

/** File descriptors scanned per process when looking for listening sockets, at most. */
const MAX_FDS_SCANNED = 4096;
const LISTEN = '0A'; // TCP_LISTEN in /proc/net/tcp's `st` column

export class ProcessTable {
  readonly counters: ProcessTableCounters = { lookups: 0, reads: 0, exited: 0 };
  readonly #root: string;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #entries = new Map<number, { info: ProcessInfo; at: number }>();
  readonly #listening = new Map<number, { ports: Set<number>; at: number }>();

  constructor(options: ProcessTableOptions = {}) {
    this.#root = options.procRoot ?? '/proc';
    this.#ttlMs = options.ttlMs ?? 5000;
    this.#max = options.maxEntries ?? 8192;
    this.#now = options.now ?? Date.now;
  }

  get(pid: number): ProcessInfo {
    this.counters.lookups++;
    const now = this.#now();
    const cached = this.#entries.get(pid);
    if (cached !== undefined && now - cached.at < this.#ttlMs) return cached.info;
    const info = this.#read(pid);
    this.#remember(this.#entries, pid, { info, at: now });
    return info;
  }

  /**
   * TCP ports `pid` listens on, from its socket fds and /proc/<pid>/net/tcp{,6} (which show its network
   * namespace). Empty when the process is gone or unreadable. Cached like `get`.
   */
  listeningPorts(pid: number): ReadonlySet<number> {
    const now = this.#now();
    const cached = this.#listening.get(pid);
    if (cached !== undefined && now - cached.at < this.#ttlMs) return cached.ports;
    const ports = this.#readListening(pid);
    this.#remember(this.#listening, pid, { ports, at: now });
    return ports;
  }

  #remember<V>(map: Map<number, V>, pid: number, value: V): void {
    map.delete(pid);
    map.set(pid, value);
    if (map.size <= this.#max) return;
    let drop = map.size >> 1;
    for (const key of map.keys()) {
      if (drop-- <= 0) break;
      map.delete(key);
    }
  }

  #read(pid: number): ProcessInfo {
    this.counters.reads++;
    const dir = `${this.#root}/${pid}`;
    const comm = readText(`${dir}/comm`);
    if (comm === null) {
      this.counters.exited++;
      return { pid, comm: null, exe: null, ppid: null, cgroups: null };
    }
    let exe: string | null = null;
    try {
      exe = readlinkSync(`${dir}/exe`);
    } catch {
      // Kernel threads have no executable; a process may exit between two reads.
    }
    return {
      pid,
      comm: comm.replace(/\n$/, ''),
      exe,
      ppid: parentOf(readText(`${dir}/stat`)),
      cgroups: readText(`${dir}/cgroup`),
    };
  }

  #readListening(pid: number): Set<number> {
    const ports = new Set<number>();
    const dir = `${this.#root}/${pid}`;
    const inodes = new Map<string, number>();
    for (const file of ['tcp', 'tcp6']) {
      const text = readText(`${dir}/net/${file}`);
      if (text === null) continue;
      for (const line of text.split('\n')) {
        const cols = line.trim().split(/\s+/);
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
        if (cols.length < 10 || cols[3] !== LISTEN) continue;
        const port = Number.parseInt(cols[1]!.slice(cols[1]!.lastIndexOf(':') + 1), 16);
        inodes.set(cols[9]!, port);
      }
    }
    if (inodes.size === 0) return ports;
    let fds: string[];
    try {
      fds = readdirSync(`${dir}/fd`);
    } catch {
      return ports;
    }
    for (let i = 0; i < fds.length && i < MAX_FDS_SCANNED; i++) {
      try {
        const target = readlinkSync(`${dir}/fd/${fds[i]}`);
        if (!target.startsWith('socket:[')) continue;
        const port = inodes.get(target.slice(8, -1));
        if (port !== undefined) ports.add(port);
      } catch {
        // closed meanwhile
      }
    }
    return ports;
  }
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return null;
  }
}

/** The ppid field of /proc/<pid>/stat: the 2nd field after the comm, which may hold spaces and ')'. */
export function parentOf(stat: string | null): number | null {
  if (stat === null) return null;
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const fields = stat.slice(close + 2).split(' ');
  const ppid = Number(fields[1]);
  return Number.isInteger(ppid) ? ppid : null;
}
