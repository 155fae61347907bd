/**
 * "Pods" for the demo and tests: one network namespace each, joined to the host by a veth pair on one
 * bridge, all in a /24 the caller owns.
 *
 *   host: <prefix>br 10.240.N.1/24
 *     ├── <prefix>v0 ══ eth0 10.240.N.2  in netns <prefix><pod0>
 *     ├── <prefix>v1 ══ eth0 10.240.N.3  in netns <prefix><pod1>
 *     └── ...
 *
 * Pods on one bridge reach each other directly (one L2 segment, no forwarding or NAT involved); their
 * default route points at the bridge address, so they also reach the host. Names are derived from the
 * prefix alone, which is how leftovers of a crashed run are found and removed.
 *
 * Every `ip` call is synchronous on purpose: it takes a few milliseconds, and the same teardown code must
 * also run in a process 'exit' handler, where nothing asynchronous runs any more.
 */
import { spawnSync } from 'node:child_process';
import { ERRORS, MeshpipeError } from '../lib/errors.ts';

export interface PodNetworkSpec {
  /** Prefix of every namespace and interface name, e.g. `mp-`. */
  prefix: string;
  /** A /24 such as 10.240.0.0/24: .1 is the host, pods get .2, .3, ... in order. */
  subnet: string;
  /** Pod names (lower-case letters and digits); the namespace of pod `orders` is `<prefix>orders`. */
  pods: readonly string[];
}

export interface PodAddress {
  name: string;
  /** Network namespace name (`ip netns`). */
  ns: string;
  address: string;
  /** The host end of the pod's veth pair. */
  hostInterface: string;
}

export interface PodNetwork {
  prefix: string;
  subnet: string;
  bridge: string;
  hostAddress: string;
  pods: PodAddress[];
}

/** Linux interface names are at most 15 bytes (IFNAMSIZ - 1). */
const IFNAMSIZ = 15;
const PREFIX = /^[a-z][a-z0-9-]*$/;
const POD = /^[a-z][a-z0-9]*$/;

function badOption(option: string, why: string): MeshpipeError {
  return new MeshpipeError(ERRORS.DEMO_BAD_OPTION, [option, why]);
}

/** The three first octets of a /24 (`10.240.0.0/24` → `10.240.0`). */
export function subnetBase(subnet: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/.exec(subnet);
  if (m === null || m.slice(1).some((o) => Number(o) > 255))
    throw badOption('subnet', `${subnet} is not a /24 network such as 10.240.0.0/24`);
  return `${Number(m[1])}.${Number(m[2])}.${Number(m[3])}`;
}

/** The names a prefix and pod list give: all a teardown needs, so it works without knowing addresses. */
export function podNetworkNames(prefix: string, pods: readonly string[]) {
  if (!PREFIX.test(prefix)) throw badOption('prefix', `"${prefix}" must be lower-case letters, digits and -`);
  const longest = `${prefix}v${Math.max(0, pods.length - 1)}`;
  if (longest.length > IFNAMSIZ)
    throw badOption(
      'prefix',
      `"${prefix}" is too long: interface names like ${longest} exceed ${IFNAMSIZ} bytes`,
    );
  if (pods.length < 1 || pods.length > 253) throw badOption('pods', 'a /24 holds 1 to 253 pods');
  for (const pod of pods)
    if (!POD.test(pod)) throw badOption('pods', `"${pod}" must be lower-case letters and digits`);
  return {
    bridge: `${prefix}br`,
    pods: pods.map((name, i) => ({ name, ns: `${prefix}${name}`, hostInterface: `${prefix}v${i}` })),
  };
}

/** Names and addresses of a pod network, without touching the system. */
export function podNetworkPlan(spec: PodNetworkSpec): PodNetwork {
  const names = podNetworkNames(spec.prefix, spec.pods);
  const base = subnetBase(spec.subnet);
  return {
    prefix: spec.prefix,
    subnet: spec.subnet,
    bridge: names.bridge,
    hostAddress: `${base}.1`,
    pods: names.pods.map((pod, i) => ({ ...pod, address: `${base}.${i + 2}` })),
  };
}

/** Runs `ip <args>`; throws DEMO_NETNS_FAILED unless `tolerate` accepts the error text. */
export function ip(args: string[], tolerate?: RegExp): string {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.error !== undefined)
    throw new MeshpipeError(ERRORS.DEMO_NETNS_FAILED, [args.join(' '), result.error.message]);
  if (result.status !== 0) {
    const stderr = result.stderr.trim();
    if (tolerate?.test(stderr)) return '';
    throw new MeshpipeError(ERRORS.DEMO_NETNS_FAILED, [args.join(' '), stderr || `exit ${result.status}`]);
  }
  return result.stdout;
}

/** Errors that mean "already gone": removal is idempotent. */
const GONE = /Cannot find device|No such file or directory|does not exist/;

export function assertRoot(): void {
  const uid = process.getuid?.();
  if (uid !== undefined && uid !== 0) throw new MeshpipeError(ERRORS.DEMO_NOT_ROOT, [uid]);
}

export function listNamespaces(): string[] {
  return ip(['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((name) => name !== '');
}

export function interfaceExists(name: string): boolean {
  return ip(['link', 'show', 'dev', name], GONE) !== '';
}

/** Pids of every process in a namespace (none when it does not exist). */
export function namespacePids(ns: string): number[] {
  return ip(['netns', 'pids', ns], GONE)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number);
}

/** What on the host already uses addresses of this /24 (an address or a route), if anything. */
export function subnetUseOnHost(subnet: string): string | undefined {
  const base = `${subnetBase(subnet)}.`;
  for (const line of ip(['-4', '-o', 'addr', 'show']).split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet\s+(\S+)/.exec(line);
    if (m?.[2]?.startsWith(base)) return `address ${m[2]} on ${m[1]}`;
  }
  for (const line of ip(['-4', 'route', 'show']).split('\n')) {
    if (line.startsWith(base)) return `route ${line.trim()}`;
  }
  return undefined;
}

/** `ip netns exec <ns> <argv...>`: the argv for spawning a command inside a pod. */
export function podExecArgs(ns: string, argv: readonly string[]): string[] {
  return ['netns', 'exec', ns, ...argv];
}

/**
 * Removes everything a plan names: processes in its namespaces (SIGKILL, or the namespace lives on
 * with them), veth pairs, namespaces, the bridge. Idempotent; safe on a half-created network.
 */
export function removePodNetwork(spec: { prefix: string; pods: readonly string[] }): void {
  const network = podNetworkNames(spec.prefix, spec.pods);
  const existing = new Set(listNamespaces());
  for (const pod of network.pods) {
    if (existing.has(pod.ns)) {
      for (const pid of namespacePids(pod.ns)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
    // Deleting one end deletes the pair. Done explicitly because a deleted namespace frees its veth
    // asynchronously, and a new run could otherwise find the old host end still there.
    ip(['link', 'del', 'dev', pod.hostInterface], GONE);
    if (existing.has(pod.ns)) ip(['netns', 'del', pod.ns], GONE);
  }
  ip(['link', 'del', 'dev', network.bridge], GONE);
}

/** Creates the pods of a plan, first removing whatever an earlier run left under the same names. */
export function createPodNetwork(spec: PodNetworkSpec): PodNetwork {
  assertRoot();
  const network = podNetworkPlan(spec);
  removePodNetwork(spec);
  try {
    ip(['link', 'add', network.bridge, 'type', 'bridge']);
    ip(['addr', 'add', `${network.hostAddress}/24`, 'dev', network.bridge]);
    ip(['link', 'set', network.bridge, 'up']);
    for (const pod of network.pods) {
      ip(['netns', 'add', pod.ns]);
      ip(['link', 'add', pod.hostInterface, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.ns]);
      ip(['link', 'set', pod.hostInterface, 'master', network.bridge, 'up']);
      ip(['-n', pod.ns, 'addr', 'add', `${pod.address}/24`, 'dev', 'eth0']);
      ip(['-n', pod.ns, 'link', 'set', 'eth0', 'up']);
      // Loopback is down in a new namespace; servers binding 0.0.0.0 and local clients need it.
      ip(['-n', pod.ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', pod.ns, 'route', 'add', 'default', 'via', network.hostAddress]);
    }
  } catch (err) {
    removePodNetwork(spec);
    throw err;
  }
  return network;
}
