/**
 * Who is at this end of a connection: node → process (pid, comm, exe) → cgroup / container → network
 * namespace → pod → workload and service (docs/collector.md, "Identity").
 *
 * Resolved once per connection, when the agent first sees it, from caches that make the common case
 * (a long-running server with many connections) a few map lookups. What /proc cannot tell any more (the
 * process exited before its events reached user space) stays unknown rather than guessed: comm is
 * empty and the service falls back to the pod, else `unknown`.
 */
import type { PeerWorkload, ProcessIdentity, WorkloadIdentity } from '../../../schemas/types.ts';
import { isLoopback } from '../connection-key.ts';
import type { CgroupDirectory } from './cgroup-directory.ts';
import { containerIdFromCgroupFile, containerIdFromPath } from './container-id.ts';
import type { KubernetesIdentity } from './kubernetes/cluster-index.ts';
import type { KubernetesDecorator } from './kubernetes/kubernetes-decorator.ts';
import type { NetnsNames } from './netns-names.ts';
import type { ProcessTable } from './process-table.ts';
import type { WorkloadRules } from './workload-rules.ts';

/** Service name when nothing better is known (process gone, no pod, no rule). */
export const UNKNOWN_SERVICE = 'unknown';

export interface Identity {
  /** Everything but `tid`, which each event carries. */
  readonly process: Omit<ProcessIdentity, 'tid'>;
  readonly workload: WorkloadIdentity;
  /** The other end, when the Kubernetes decorator knows its address (a pod, or a Service's ClusterIP). */
  readonly peer: PeerWorkload | null;
  /** One of meshpipe's own processes: its traffic is not captured (see `SelfFilter`). */
  readonly self: boolean;
}

export interface ConnectionSubject {
  tgid: number;
  netnsInode: number;
  cgroupId: bigint;
  localPort: number;
  localAddress: string;
  /** The address the connection reached: conntrack's translated one when the destination was NATed. */
  peerAddress: string;
  role: 'client' | 'server' | 'unknown';
}

/**
 * Which processes are meshpipe's own. The kernel already drops the loader's and the agent's records
 * (`--exclude-pid`); under `meshpipe up` the agent's siblings (processors, sinks, the demo controller)
 * and their supervisor are meshpipe too, and their HTTP (metrics endpoints, webhooks, admin calls)
 * must not become "application" telemetry. They are recognised here by parentage, because they are
 * restarted with new pids that no kernel filter set at load time could know.
 */
export interface SelfFilter {
  readonly pids: ReadonlySet<number>;
  /** Children of this pid are ours (the supervisor under `meshpipe up`), or null. */
  readonly parentOfOurs: number | null;
}

export function selfFilterFromEnvironment(env: NodeJS.ProcessEnv = process.env): SelfFilter {
  const supervised = env.MESHPIPE_SUPERVISED === '1';
  const pids = new Set([process.pid]);
  if (supervised) pids.add(process.ppid);
  return { pids, parentOfOurs: supervised ? process.ppid : null };
}

export interface IdentityResolverOptions {
  processes: ProcessTable;
  netns: NetnsNames;
  cgroups: CgroupDirectory;
  rules: WorkloadRules;
  /** Namespace for pods no rule names one for (`collector.namespace`). */
  namespace: string | null;
  self: SelfFilter;
  /** Names from the Kubernetes API server (collector.kubernetes), or null outside a cluster. */
  kubernetes?: KubernetesDecorator | null;
}

/** Bounds of the two caches below (cleared when full: they refill from /proc within a TTL). */
const MAX_SERVED_PIDS = 65_536;
const MAX_CGROUPS = 65_536;

export class IdentityResolver {
  readonly #o: IdentityResolverOptions;
  /** Ports each process was seen accepting connections on: cheaper and surer than /proc. */
  readonly #served = new Map<number, Set<number>>();
  /** cgroup id → container id, learnt from processes that were still there. */
  readonly #containers = new Map<bigint, string | null>();

  constructor(options: IdentityResolverOptions) {
    this.#o = options;
  }

  /**
   * Whether a connection's identity deserves another look because its names can have appeared since:
   * a pod resolved without a name whose namespace has one now (NetnsNames), or, with the Kubernetes
   * decorator, a connection not named from the API server whose local address now belongs to a pod (the
   * collector started before its caches filled, or the pod object was created after the process), or
   * whose peer address now does. Cheap
   * (map lookups, a rate-limited directory read on a miss), so it can be asked per event of such
   * connections until the names appear.
   */
  namesAppeared(identity: Identity, netnsInode: number, localAddress: string, peerAddress: string): boolean {
    const netns = this.#o.netns;
    if (netnsInode === netns.hostInode) return false;
    const kubernetes = this.#o.kubernetes ?? null;
    if (kubernetes !== null) {
      const index = kubernetes.index;
      if (identity.workload.podUid === null && index.hasPodIp(localAddress)) return true;
      if (identity.peer === null && index.hasPodIp(peerAddress)) return true;
    }
    return identity.workload.pod === null && netns.nameOf(netnsInode) !== null;
  }

  /**
   * Reads /proc for a process as soon as its record arrives, before the record waits in the loss gate:
   * short-lived processes (a `curl`) are often gone by the time their records are framed, and the
   * cached answer is then used (ProcessTable keeps it for its TTL).
   */
  prefetch(pid: number): void {
    this.#o.processes.get(pid);
  }

  resolve(subject: ConnectionSubject): Identity {
    const { tgid, netnsInode, cgroupId } = subject;
    if (subject.role === 'server') this.#learnServed(tgid, subject.localPort);
    const info = this.#o.processes.get(tgid);
    const comm = info.comm;
    const kubernetes = this.#o.kubernetes ?? null;
    const k8s =
      kubernetes === null
        ? null
        : kubernetes.local(info.cgroups, subject.localAddress, netnsInode === this.#o.netns.hostInode);
    const pod = k8s?.pod ?? this.#o.netns.nameOf(netnsInode);
    const rules = this.#o.rules;
    const names =
      rules.size === 0
        ? null
        : rules.match({
            pod,
            comm,
            serves: (port) => this.#serves(tgid, port),
          });
    const workload = names?.workload ?? k8s?.workload ?? null;
    const self =
      this.#o.self.pids.has(tgid) ||
      (this.#o.self.parentOfOurs !== null && info.ppid === this.#o.self.parentOfOurs);
    return {
      process: {
        pid: tgid,
        comm: comm ?? '',
        exe: info.exe,
        cgroupId,
        containerId: this.#containerOf(cgroupId, info.cgroups),
      },
      workload: {
        netnsInode: BigInt(netnsInode),
        pod,
        namespace: names?.namespace ?? k8s?.namespace ?? (pod === null ? null : this.#o.namespace),
        workload,
        service:
          names?.service ??
          k8s?.service ??
          workload ??
          pod ??
          (comm === null || comm === '' ? UNKNOWN_SERVICE : comm),
        podUid: k8s?.podUid ?? null,
        container: k8s?.container ?? null,
        workloadKind: names?.workload != null ? null : (k8s?.workloadKind ?? null),
      },
      peer:
        kubernetes === null || isLoopback(subject.peerAddress)
          ? null
          : peerWorkload(kubernetes, subject.peerAddress),
      self,
    };
  }

  #learnServed(pid: number, port: number): void {
    let ports = this.#served.get(pid);
    if (ports === undefined) {
      if (this.#served.size >= MAX_SERVED_PIDS) this.#served.clear();
      ports = new Set();
      this.#served.set(pid, ports);
    }
    ports.add(port);
  }

  #serves(pid: number, port: number): boolean {
    return this.#served.get(pid)?.has(port) === true || this.#o.processes.listeningPorts(pid).has(port);
  }

  #containerOf(cgroupId: bigint, cgroupText: string | null): string | null {
    if (cgroupText !== null) {
      const id = containerIdFromCgroupFile(cgroupText);
      if (this.#containers.size >= MAX_CGROUPS) this.#containers.clear();
      this.#containers.set(cgroupId, id);
      return id;
    }
    const known = this.#containers.get(cgroupId);
    if (known !== undefined) return known;
    // The process is gone: find its cgroup by id (the id is the cgroup directory's inode).
    const path = this.#o.cgroups.pathOf(cgroupId);
    return path === null ? null : containerIdFromPath(path);
  }
}

function peerWorkload(kubernetes: KubernetesDecorator, address: string): PeerWorkload | null {
  const found = kubernetes.peer(address);
  if (found === null) return null;
  if (!('pod' in found))
    return {
      service: found.service,
      namespace: found.namespace,
      pod: null,
      workload: null,
      workloadKind: null,
    };
  const k: KubernetesIdentity = found;
  return {
    service: k.service,
    namespace: k.namespace,
    pod: k.pod,
    workload: k.workload,
    workloadKind: k.workloadKind,
  };
}
