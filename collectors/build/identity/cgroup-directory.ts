/**
 * cgroup v2 id → cgroup path, for processes that exited before /proc could be read.
 *
 * The kernel stamps every record with the cgroup v2 id of the task (`bpf_get_current_cgroup_id`),
 * which is the inode number of the cgroup's directory in the cgroup2 filesystem. So the directory can
 * be found even when the process is gone: walk the cgroup2 mount and index directories by inode.
 * Walks are bounded (directories, depth) and rate-limited, because a busy Kubernetes node has
 * thousands of cgroups and an unknown id would otherwise trigger a walk per record.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface CgroupDirectoryOptions {
  /** Root of the cgroup2 hierarchy; default: found in /proc/self/mountinfo. */
  root?: string | null;
  /** Least time between two walks, ms. Default 10 s. */
  rescanMs?: number;
  /** Directories visited per walk at most. Default 20000. */
  maxDirectories?: number;
  now?: () => number;
}

const MAX_DEPTH = 16;

/** The mount point of the cgroup2 filesystem, from mountinfo (the 5th field; fs type after " - "). */
export function findCgroup2Root(mountinfo = '/proc/self/mountinfo'): string | null {
  let text: string;
  try {
    text = readFileSync(mountinfo, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0 || !line.startsWith('cgroup2 ', dash + 3)) continue;
    const mountPoint = line.slice(0, dash).split(' ')[4];
    if (mountPoint !== undefined) return mountPoint.replace(/\\040/g, ' ');
  }
  return null;
}

export class CgroupDirectory {
  readonly #root: string | null;
  readonly #rescanMs: number;
  readonly #maxDirectories: number;
  readonly #now: () => number;
  #byId = new Map<bigint, string>();
  #lastWalk = Number.NEGATIVE_INFINITY;

  constructor(options: CgroupDirectoryOptions = {}) {
    this.#root = options.root === undefined ? findCgroup2Root() : options.root;
    this.#rescanMs = options.rescanMs ?? 10_000;
    this.#maxDirectories = options.maxDirectories ?? 20_000;
    this.#now = options.now ?? Date.now;
  }

  /** The path (relative to the cgroup2 root, starting with `/`) of cgroup `id`, or null if unknown. */
  pathOf(id: bigint): string | null {
    const known = this.#byId.get(id);
    if (known !== undefined) return known;
    if (this.#root === null || this.#now() - this.#lastWalk < this.#rescanMs) return null;
    this.#walk(this.#root);
    return this.#byId.get(id) ?? null;
  }

  #walk(root: string): void {
    this.#lastWalk = this.#now();
    const byId = new Map<bigint, string>();
    const stack: Array<[string, number]> = [['/', 0]];
    let visited = 0;
    while (stack.length > 0 && visited < this.#maxDirectories) {
      const [relative, depth] = stack.pop()!;
      const absolute = join(root, relative);
      visited++;
      try {
        byId.set(BigInt(statSync(absolute, { bigint: true }).ino), relative);
        if (depth >= MAX_DEPTH) continue;
        for (const entry of readdirSync(absolute, { withFileTypes: true })) {
          if (entry.isDirectory()) stack.push([join(relative, entry.name), depth + 1]);
        }
      } catch {
        // The cgroup was removed while we walked: it is gone, nothing to index.
      }
    }
    this.#byId = byId;
  }
}
