/**
 * What the decorator knows about the cluster, indexed for the lookups the collector makes once per
 * connection: a local process by pod UID (from its cgroup) or by its pod's address, a peer by address
 * (a pod IP, or a Service's ClusterIP), and a pod's workload through its owners
 * (Pod → ReplicaSet → Deployment, Pod → Job → CronJob, Pod → StatefulSet / DaemonSet).
 *
 * The service name follows the OpenTelemetry conventions for Kubernetes, in order: the
 * `resource.opentelemetry.io/service.name` annotation, the `app.kubernetes.io/name` label, the owner
 * workload's name, the pod name. Names are computed at lookup, not at ingest, because a pod's owner
 * may arrive after the pod.
 *
 * Memory: one slim record per object (kube-objects.ts) and one map entry per IP; replace() drops
 * everything a relist no longer returns, so a missed deletion cannot leave a record behind.
 */
import type { OwnedRecord, PodRecord, ServiceRecord, WorkloadKind } from './kube-objects.ts';
import type { ReflectorStore } from './reflector.ts';

/** A pod as the collector reports it (OpenTelemetry k8s.* resource attributes). */
export interface KubernetesIdentity {
  namespace: string;
  pod: string;
  podUid: string;
  /** k8s.container.name, when the process's container is known. */
  container: string | null;
  workload: string | null;
  workloadKind: WorkloadKind | null;
  service: string;
}

/** The other end of a connection made to a Service's ClusterIP (before NAT is resolved). */
export interface ServiceIdentity {
  service: string;
  namespace: string;
}

export interface LookupCounters {
  /** By lookup (`pod_uid`, `pod_ip`, `peer`), hit or miss. */
  [lookup: string]: { hit: number; miss: number };
}

export class ClusterIndex {
  readonly lookups: LookupCounters = {
    pod_uid: { hit: 0, miss: 0 },
    pod_ip: { hit: 0, miss: 0 },
    peer: { hit: 0, miss: 0 },
  };
  readonly #pods = new Map<string, PodRecord>();
  readonly #podsByIp = new Map<string, string>();
  readonly #services = new Map<string, ServiceRecord>();
  readonly #servicesByIp = new Map<string, ServiceRecord>();
  readonly #replicaSets = new Map<string, OwnedRecord>();
  readonly #jobs = new Map<string, OwnedRecord>();

  /** Objects cached, by kind (for the `objects` gauge). */
  sizes(): Record<string, number> {
    return {
      pods: this.#pods.size,
      services: this.#services.size,
      replicasets: this.#replicaSets.size,
      jobs: this.#jobs.size,
    };
  }

  readonly pods: ReflectorStore<PodRecord> = {
    replace: (items) => {
      this.#pods.clear();
      this.#podsByIp.clear();
      for (const p of items) this.pods.upsert(p);
    },
    upsert: (p) => {
      const before = this.#pods.get(p.uid);
      if (before !== undefined) this.#unindexPod(before);
      this.#pods.set(p.uid, p);
      if (!p.hostNetwork) for (const ip of p.ips) this.#podsByIp.set(ip, p.uid);
    },
    remove: (p) => {
      const before = this.#pods.get(p.uid);
      if (before === undefined) return;
      this.#unindexPod(before);
      this.#pods.delete(p.uid);
    },
  };

  readonly services: ReflectorStore<ServiceRecord> = {
    replace: (items) => {
      this.#services.clear();
      this.#servicesByIp.clear();
      for (const s of items) this.services.upsert(s);
    },
    upsert: (s) => {
      this.services.remove(s);
      this.#services.set(`${s.namespace}/${s.name}`, s);
      for (const ip of s.clusterIps) this.#servicesByIp.set(ip, s);
    },
    remove: (s) => {
      const key = `${s.namespace}/${s.name}`;
      const before = this.#services.get(key);
      if (before === undefined) return;
      for (const ip of before.clusterIps)
        if (this.#servicesByIp.get(ip) === before) this.#servicesByIp.delete(ip);
      this.#services.delete(key);
    },
  };

  readonly replicaSets = ownedStore(this.#replicaSets);
  readonly jobs = ownedStore(this.#jobs);

  #unindexPod(p: PodRecord): void {
    // An IP is reused by a newer pod before the old one's deletion arrives: keep the newer mapping.
    for (const ip of p.ips) if (this.#podsByIp.get(ip) === p.uid) this.#podsByIp.delete(ip);
  }

  /** Whether some pod has this address now (cheap: asked per event of a connection still without a pod). */
  hasPodIp(ip: string): boolean {
    return this.#podsByIp.has(ip);
  }

  /** The pod with this UID (from a process's cgroup), and the container when its id is known. */
  byPodUid(uid: string, containerId: string | null): KubernetesIdentity | null {
    const pod = this.#pods.get(uid);
    if (pod === undefined) {
      this.lookups.pod_uid!.miss++;
      return null;
    }
    this.lookups.pod_uid!.hit++;
    return this.#identity(pod, containerId);
  }

  /** The pod that owns an address (not host-network pods: their address is the node's). */
  byPodIp(ip: string): KubernetesIdentity | null {
    const uid = this.#podsByIp.get(ip);
    const pod = uid === undefined ? undefined : this.#pods.get(uid);
    if (pod === undefined) {
      this.lookups.pod_ip!.miss++;
      return null;
    }
    this.lookups.pod_ip!.hit++;
    return this.#identity(pod, null);
  }

  /** The peer at an address: a pod, else the Service whose ClusterIP it is. */
  peer(ip: string): KubernetesIdentity | ServiceIdentity | null {
    const uid = this.#podsByIp.get(ip);
    const pod = uid === undefined ? undefined : this.#pods.get(uid);
    if (pod !== undefined) {
      this.lookups.peer!.hit++;
      return this.#identity(pod, null);
    }
    const service = this.#servicesByIp.get(ip);
    if (service !== undefined) {
      this.lookups.peer!.hit++;
      return { service: service.name, namespace: service.namespace };
    }
    this.lookups.peer!.miss++;
    return null;
  }

  /** The workload a pod belongs to: its controller, followed up one level (ReplicaSet, Job). */
  workloadOf(pod: PodRecord): { name: string; kind: WorkloadKind } | null {
    const owner = pod.owner;
    if (owner === null) return null;
    switch (owner.kind) {
      case 'ReplicaSet': {
        const rs = this.#replicaSets.get(owner.uid);
        if (rs !== undefined) {
          return rs.owner?.kind === 'Deployment'
            ? { name: rs.owner.name, kind: 'Deployment' }
            : { name: rs.name, kind: 'ReplicaSet' };
        }
        // Not cached yet (it arrives on another watch): a Deployment's ReplicaSet is named
        // `<deployment>-<pod-template-hash>`, which the pod carries as a label.
        const suffix = pod.templateHash === null ? null : `-${pod.templateHash}`;
        return suffix !== null && owner.name.endsWith(suffix)
          ? { name: owner.name.slice(0, -suffix.length), kind: 'Deployment' }
          : { name: owner.name, kind: 'ReplicaSet' };
      }
      case 'Job': {
        const job = this.#jobs.get(owner.uid);
        return job?.owner?.kind === 'CronJob'
          ? { name: job.owner.name, kind: 'CronJob' }
          : { name: owner.name, kind: 'Job' };
      }
      case 'StatefulSet':
      case 'DaemonSet':
        return { name: owner.name, kind: owner.kind };
      default:
        return null;
    }
  }

  #identity(pod: PodRecord, containerId: string | null): KubernetesIdentity {
    const workload = this.workloadOf(pod);
    return {
      namespace: pod.namespace,
      pod: pod.name,
      podUid: pod.uid,
      container: containerId === null ? null : (pod.containers?.get(containerId) ?? null),
      workload: workload?.name ?? null,
      workloadKind: workload?.kind ?? null,
      service: pod.serviceAnnotation ?? pod.nameLabel ?? workload?.name ?? pod.name,
    };
  }
}

function ownedStore(map: Map<string, OwnedRecord>): ReflectorStore<OwnedRecord> {
  return {
    replace(items) {
      map.clear();
      for (const o of items) map.set(o.uid, o);
    },
    upsert(o) {
      map.set(o.uid, o);
    },
    remove(o) {
      map.delete(o.uid);
    },
  };
}
