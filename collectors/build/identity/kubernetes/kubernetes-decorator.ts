/**
 * Kubernetes identity for the collector: list + watch of the objects that name what runs on the node
 * (Pods, Services, ReplicaSets, Jobs), kept in a ClusterIndex, asked once per connection.
 *
 *   a local process  cgroup → pod UID + container id → Pod (k8s.pod.*, k8s.container.name, workload)
 *                    or, outside a pod cgroup, its pod's address → Pod (pods on one node's bridge)
 *   the peer         address → Pod (any node), else → Service (a ClusterIP before NAT is resolved)
 *
 * On by default when the collector runs in a cluster (a service-account token is mounted), off
 * otherwise; a kubeconfig turns it on anywhere (the tests and `meshpipe demo --kubernetes` point it at
 * a real kube-apiserver on this machine). Watches: Pods cluster-wide (peers on other nodes are named by
 * their IP; `collector.kubernetes.peerPods: false` watches only this node's pods, for very large
 * clusters), Services, ReplicaSets and Jobs cluster-wide. The RBAC this needs is get/list/watch on
 * those (docs/deploying.md).
 */
import { existsSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../../../lib/logger.ts';
import { podCgroupFromFile } from './cgroup-pod.ts';
import { kubernetesClient } from './client-library.ts';
import {
  ClusterIndex,
  type KubernetesIdentity,
  type LookupCounters,
  type ServiceIdentity,
} from './cluster-index.ts';
import { type OwnedRecord, ownedRecord, type PodRecord, podRecord, serviceRecord } from './kube-objects.ts';
import { Reflector, type ReflectorCounters } from './reflector.ts';

export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface KubernetesSettings {
  /** `auto`: on when a service-account token is mounted or a kubeconfig is given. */
  enabled: 'auto' | 'on' | 'off';
  kubeconfig: string | null;
  peerPods: boolean;
}

/** Whether the decorator runs, and from which credentials; null when it is off. */
export function kubernetesSource(
  settings: KubernetesSettings,
  env: NodeJS.ProcessEnv = process.env,
  tokenPath = SERVICE_ACCOUNT_TOKEN,
): { kind: 'in-cluster' } | { kind: 'kubeconfig'; path: string } | null {
  if (settings.enabled === 'off') return null;
  if (settings.kubeconfig !== null) return { kind: 'kubeconfig', path: settings.kubeconfig };
  if (env.KUBERNETES_SERVICE_HOST !== undefined && existsSync(tokenPath)) return { kind: 'in-cluster' };
  return settings.enabled === 'on' ? { kind: 'in-cluster' } : null;
}

export function loadKubeConfig(
  source: { kind: 'in-cluster' } | { kind: 'kubeconfig'; path: string },
): KubeConfig {
  const kc = new (kubernetesClient().KubeConfig)();
  if (source.kind === 'in-cluster') kc.loadFromCluster();
  else kc.loadFromFile(source.path);
  return kc;
}

/** The resources watched: what RBAC must allow (get/list/watch), and what `doctor` checks. */
export const WATCHED_RESOURCES = [
  { group: '', version: 'v1', resource: 'pods', kind: 'Pod', path: '/api/v1/pods' },
  { group: '', version: 'v1', resource: 'services', kind: 'Service', path: '/api/v1/services' },
  {
    group: 'apps',
    version: 'v1',
    resource: 'replicasets',
    kind: 'ReplicaSet',
    path: '/apis/apps/v1/replicasets',
  },
  { group: 'batch', version: 'v1', resource: 'jobs', kind: 'Job', path: '/apis/batch/v1/jobs' },
] as const;

export interface KubernetesDecoratorOptions {
  kubeConfig: KubeConfig;
  /** This node's name (`node.name`: spec.nodeName in a DaemonSet). */
  nodeName: string;
  peerPods: boolean;
  logger: Logger;
  /** Reflector backoff, ms (tests shorten it). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export class KubernetesDecorator {
  readonly index = new ClusterIndex();
  readonly #reflectors: Array<{ resource: string; reflector: Reflector<unknown> }> = [];
  readonly #logger: Logger;

  constructor(options: KubernetesDecoratorOptions) {
    this.#logger = options.logger;
    const { kubeConfig, nodeName } = options;
    const common = {
      kubeConfig,
      onError: (err: unknown, what: string) =>
        this.#logger.warn(
          { err: String((err as Error)?.message ?? err), what },
          'kubernetes watch failed; retrying',
        ),
      ...(options.minBackoffMs === undefined ? {} : { minBackoffMs: options.minBackoffMs }),
      ...(options.maxBackoffMs === undefined ? {} : { maxBackoffMs: options.maxBackoffMs }),
    };
    const keepContainers = (podNode: string | null) => podNode === nodeName;
    const add = <T>(resource: string, reflector: Reflector<T>) =>
      this.#reflectors.push({ resource, reflector: reflector as Reflector<unknown> });
    const [pods, services, replicaSets, jobs] = WATCHED_RESOURCES;
    add(
      'pods',
      new Reflector<PodRecord>({
        ...common,
        apiVersion: pods.version,
        kind: pods.kind,
        path: pods.path,
        ...(options.peerPods ? {} : { fieldSelector: `spec.nodeName=${nodeName}` }),
        slim: (o) => podRecord(o, keepContainers),
        store: this.index.pods,
      }),
    );
    add(
      'services',
      new Reflector({
        ...common,
        apiVersion: services.version,
        kind: services.kind,
        path: services.path,
        slim: serviceRecord,
        store: this.index.services,
      }),
    );
    add(
      'replicasets',
      new Reflector<OwnedRecord>({
        ...common,
        apiVersion: `${replicaSets.group}/${replicaSets.version}`,
        kind: replicaSets.kind,
        path: replicaSets.path,
        slim: ownedRecord,
        store: this.index.replicaSets,
      }),
    );
    add(
      'jobs',
      new Reflector<OwnedRecord>({
        ...common,
        apiVersion: `${jobs.group}/${jobs.version}`,
        kind: jobs.kind,
        path: jobs.path,
        slim: ownedRecord,
        store: this.index.jobs,
      }),
    );
  }

  start(): void {
    for (const { reflector } of this.#reflectors) reflector.start();
  }

  /** Resolves when every watch has listed once (the collector does not wait for it: names fill in). */
  async synced(): Promise<void> {
    await Promise.all(this.#reflectors.map(({ reflector }) => reflector.synced));
  }

  stop(): void {
    for (const { reflector } of this.#reflectors) reflector.stop();
  }

  /** Objects cached, watch restarts and lists, lookups (the collector's metrics). */
  snapshot(): {
    objects: Record<string, number>;
    watches: Record<string, ReflectorCounters>;
    lookups: LookupCounters;
  } {
    return {
      objects: this.index.sizes(),
      watches: Object.fromEntries(
        this.#reflectors.map(({ resource, reflector }) => [resource, reflector.counters]),
      ),
      lookups: this.index.lookups,
    };
  }

  /**
   * The pod of a local process: by the pod UID in its cgroup (with the container), else by the
   * address its socket has in the pod's network namespace. Null for the node's own processes.
   */
  local(cgroupText: string | null, localAddress: string, hostNetns: boolean): KubernetesIdentity | null {
    const cgroup = cgroupText === null ? null : podCgroupFromFile(cgroupText);
    if (cgroup !== null) {
      const byUid = this.index.byPodUid(cgroup.podUid, cgroup.containerId);
      if (byUid !== null) return byUid;
    }
    return hostNetns ? null : this.index.byPodIp(localAddress);
  }

  peer(address: string): KubernetesIdentity | ServiceIdentity | null {
    return this.index.peer(address);
  }
}
