/**
 * Who owns which demo prefix and subnet, as small files under /run/meshpipe-demo/ (tmpfs: gone on reboot,
 * like the namespaces themselves):
 *
 *   prefix-<prefix>.json      { prefix, pid, subnet, pods, ... }   one per running demo
 *   subnet-<a.b.c.0>.json     { prefix, pid }                       one per /24 in use
 *
 * A claim is created with link(2), which fails atomically when the file exists, so two demos starting at
 * once never get the same prefix or subnet. A claim whose pid is dead is stale: a crashed (SIGKILLed) run
 * left it, and the next run removes what it names and takes it over.
 */
import {
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ERRORS, MeshpipeError } from '../lib/errors.ts';

export const RUN_DIR = process.env.MESHPIPE_DEMO_RUN_DIR ?? '/run/meshpipe-demo';

export interface DemoRecord {
  prefix: string;
  pid: number;
  startedAt: string;
  /** Null until a subnet is claimed. */
  subnet: string | null;
  /** Pod names: with the prefix, they name every namespace and interface to remove. */
  podNames: readonly string[];
  /** Anything the running demo wants others to find (addresses, admin ports); see demo/topology.ts. */
  details?: unknown;
}

interface SubnetClaim {
  prefix: string;
  pid: number;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but is not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const prefixFile = (prefix: string) => join(RUN_DIR, `prefix-${prefix}.json`);
const subnetFile = (subnet: string) => join(RUN_DIR, `subnet-${subnet.replace('/24', '')}.json`);

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}

/** Creates `path` with `value` if it does not exist; false when it does. The content is complete first. */
function createExclusive(path: string, value: unknown): boolean {
  mkdirSync(RUN_DIR, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value));
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkQuietly(tmp);
  }
}

/** Claims a prefix for this process; throws DEMO_IN_USE while a live process owns it. */
export function claimPrefix(record: DemoRecord): void {
  for (;;) {
    if (createExclusive(prefixFile(record.prefix), record)) return;
    const owner = readJson<DemoRecord>(prefixFile(record.prefix));
    if (owner !== undefined && isAlive(owner.pid))
      throw new MeshpipeError(ERRORS.DEMO_IN_USE, [record.prefix, owner.pid]);
    // Stale (or unreadable): the caller removes leftovers by name; take the claim over.
    unlinkQuietly(prefixFile(record.prefix));
  }
}

/** Rewrites this process's record (atomically: readers never see half a file). */
export function updatePrefix(record: DemoRecord): void {
  const tmp = `${prefixFile(record.prefix)}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(record));
  renameSync(tmp, prefixFile(record.prefix));
}

/** The record of a prefix whose owner is alive. */
export function readLivePrefix(prefix: string): DemoRecord | undefined {
  const record = readJson<DemoRecord>(prefixFile(prefix));
  return record !== undefined && isAlive(record.pid) ? record : undefined;
}

export function releasePrefix(prefix: string): void {
  if (readJson<DemoRecord>(prefixFile(prefix))?.pid === process.pid) unlinkQuietly(prefixFile(prefix));
}

/** Records of demos whose process died without cleaning up. */
export function staleRecords(): DemoRecord[] {
  let files: string[];
  try {
    files = readdirSync(RUN_DIR).filter((f) => f.startsWith('prefix-') && f.endsWith('.json'));
  } catch {
    return [];
  }
  return files
    .map((f) => readJson<DemoRecord>(join(RUN_DIR, f)))
    .filter((r): r is DemoRecord => r !== undefined && !isAlive(r.pid));
}

/** Forgets a stale record (after its leftovers were removed), and its subnet claim. */
export function dropStale(record: DemoRecord): void {
  if (record.subnet !== null) {
    const claim = readJson<SubnetClaim>(subnetFile(record.subnet));
    if (claim !== undefined && !isAlive(claim.pid)) unlinkQuietly(subnetFile(record.subnet));
  }
  const current = readJson<DemoRecord>(prefixFile(record.prefix));
  if (current !== undefined && !isAlive(current.pid)) unlinkQuietly(prefixFile(record.prefix));
}

/**
 * Claims a /24 for `prefix`: the one asked for (DEMO_SUBNET_IN_USE when taken), or the first free one of
 * 10.240.0.0/24 ... 10.240.255.0/24. `useOnHost` says what on the host already uses a subnet, if anything.
 */
export function claimSubnet(
  prefix: string,
  wanted: string | undefined,
  useOnHost: (subnet: string) => string | undefined,
): string {
  const candidates =
    wanted !== undefined ? [wanted] : Array.from({ length: 256 }, (_, n) => `10.240.${n}.0/24`);
  let lastReason = '';
  for (const subnet of candidates) {
    const reason = tryClaimSubnet(prefix, subnet, useOnHost);
    if (reason === undefined) return subnet;
    lastReason = reason;
  }
  throw new MeshpipeError(ERRORS.DEMO_SUBNET_IN_USE, [
    wanted ?? '10.240.0.0/16',
    wanted !== undefined ? lastReason : 'every 10.240.N.0/24 is taken',
  ]);
}

function tryClaimSubnet(
  prefix: string,
  subnet: string,
  useOnHost: (subnet: string) => string | undefined,
): string | undefined {
  for (;;) {
    if (createExclusive(subnetFile(subnet), { prefix, pid: process.pid } satisfies SubnetClaim)) break;
    const owner = readJson<SubnetClaim>(subnetFile(subnet));
    if (owner !== undefined && isAlive(owner.pid)) return `claimed by the demo with prefix "${owner.prefix}"`;
    unlinkQuietly(subnetFile(subnet));
  }
  // Checked after claiming, so no other demo can create its bridge in between.
  const use = useOnHost(subnet);
  if (use === undefined) return undefined;
  unlinkQuietly(subnetFile(subnet));
  return `the host uses it (${use})`;
}

export function releaseSubnet(subnet: string): void {
  if (readJson<SubnetClaim>(subnetFile(subnet))?.pid === process.pid) unlinkQuietly(subnetFile(subnet));
}
