/**
 * Network-namespace inode → pod name.
 *
 * Locally (and in the tests) a pod is a network namespace made with `ip netns add <name>`, which
 * bind-mounts the namespace at /run/netns/<name>: stat() of that file gives the namespace's inode, the
 * same number the kernel reports with every record (`netns_ino`). So the names are a directory listing
 * away. CNI plugins create the same files (`cni-<uuid>`); a workload rule maps those to names users
 * know (`collector.workloads`).
 *
 * Freshness: namespaces come and go with pods. A watcher on the directory marks the table stale (the
 * next lookup re-reads it), and an inode not in the table triggers a re-read too, at most once per
 * `minRefreshMs`, so an unnamed namespace cannot make every record read the directory. (`ip netns add`
 * creates the file before it bind-mounts the namespace on it, so a re-read right after the creation
 * may still see the plain file's inode: the rate-limited re-read on a miss corrects that.) `version`
 * changes whenever the table does.
 */
import { type FSWatcher, readdirSync, statSync, watch } from 'node:fs';

export interface NetnsNamesOptions {
  /** Default /run/netns. */
  dir?: string;
  /** The node's own namespace (no pod): default the namespace of pid 1, else ours. */
  hostInode?: number | null;
  /** Default 1000 ms. */
  minRefreshMs?: number;
  now?: () => number;
}

export class NetnsNames {
  readonly #dir: string;
  readonly #minRefreshMs: number;
  readonly #now: () => number;
  readonly hostInode: number | null;
  #names = new Map<number, string>();
  #lastRefresh = Number.NEGATIVE_INFINITY;
  #stale = true;
  #watcher: FSWatcher | null = null;
  #version = 0;

  constructor(options: NetnsNamesOptions = {}) {
    this.#dir = options.dir ?? '/run/netns';
    this.#minRefreshMs = options.minRefreshMs ?? 1000;
    this.#now = options.now ?? Date.now;
    this.hostInode = options.hostInode === undefined ? hostNetnsInode() : options.hostInode;
  }

  /** Increases whenever the table changes. */
  get version(): number {
    return this.#version;
  }

  /** The name of the namespace with this inode, or null (the host namespace, or not named). */
  nameOf(inode: number): string | null {
    if (inode === this.hostInode) return null;
    // The watcher saw the directory change: worth a re-read now. A mere miss (an unnamed namespace,
    // e.g. a container's) is rate-limited.
    if (this.#stale) this.#refresh(true);
    else if (!this.#names.has(inode)) this.#refresh(false);
    return this.#names.get(inode) ?? null;
  }

  /** Every named namespace (for `meshpipe observe`'s peer names and for tests). */
  entries(): ReadonlyMap<number, string> {
    this.#refresh(false);
    return this.#names;
  }

  /** Re-reads the directory now (rate limit ignored when `force`). */
  #refresh(force: boolean): void {
    const now = this.#now();
    if (!force && now - this.#lastRefresh < this.#minRefreshMs) return;
    this.#lastRefresh = now;
    this.#stale = false;
    this.#watch();
    const names = new Map<number, string>();
    let entries: string[] = [];
    try {
      entries = readdirSync(this.#dir);
    } catch {
      // No named namespaces on this node (the directory is created by the first `ip netns add`).
    }
    for (const name of entries) {
      try {
        names.set(statSync(`${this.#dir}/${name}`).ino, name);
      } catch {
        // Deleted between readdir and stat.
      }
    }
    if (!sameEntries(names, this.#names)) {
      this.#names = names;
      this.#version++;
    }
  }

  #watch(): void {
    if (this.#watcher !== null) return;
    try {
      this.#watcher = watch(this.#dir, { persistent: false }, () => {
        this.#stale = true;
      });
      this.#watcher.on('error', () => {
        this.#watcher?.close();
        this.#watcher = null;
      });
    } catch {
      // Not there yet; the next refresh tries again.
    }
  }

  close(): void {
    this.#watcher?.close();
    this.#watcher = null;
  }
}

function sameEntries(a: ReadonlyMap<number, string>, b: ReadonlyMap<number, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

function hostNetnsInode(): number | null {
  for (const path of ['/proc/1/ns/net', '/proc/self/ns/net']) {
    try {
      return statSync(path).ino;
    } catch {
      // pid 1 may be invisible (no hostPID): fall back to our own namespace.
    }
  }
  return null;
}
