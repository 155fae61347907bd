/**
 * The few fields of Kubernetes objects the decorator uses, taken out of the API server's JSON as soon
 * as an object arrives: a Pod is kilobytes of spec and status, its record here a few hundred bytes, so
 * the caches stay small on big clusters ("store only the fields used"). Pure functions, tested on
 * object shapes as the API server sends them.
 */

import type { WorkloadKind } from '../../../../schemas/workload-kind.ts';

export type { WorkloadKind };

/** The controller owner of an object (ownerReferences with controller: true). */
export interface OwnerRef {
  kind: string;
  name: string;
  uid: string;
}

export interface PodRecord {
  uid: string;
  name: string;
  namespace: string;
  nodeName: string | null;
  /** status.podIPs (status.podIP when the list is absent); empty for a pending pod. */
  ips: string[];
  /** Pods on the host network share the node's address: never looked up by IP. */
  hostNetwork: boolean;
  /** The `resource.opentelemetry.io/service.name` annotation. */
  serviceAnnotation: string | null;
  /** The `app.kubernetes.io/name` label. */
  nameLabel: string | null;
  /** `pod-template-hash` label: names a ReplicaSet's Deployment while the ReplicaSet is not cached yet. */
  templateHash: string | null;
  owner: OwnerRef | null;
  /** Container id (without the `containerd://` scheme) → container name; kept for this node's pods only. */
  containers: Map<string, string> | null;
}

export interface ServiceRecord {
  name: string;
  namespace: string;
  /** spec.clusterIPs (spec.clusterIP when the list is absent), without `None` (headless). */
  clusterIps: string[];
}

/** A ReplicaSet or a Job: only its own controller (Deployment, CronJob) is needed. */
export interface OwnedRecord {
  uid: string;
  name: string;
  namespace: string;
  owner: OwnerRef | null;
}

// biome-ignore lint/suspicious/noExplicitAny: objects as the API server sends them, read defensively
type Json = any;

export const SERVICE_NAME_ANNOTATION = 'resource.opentelemetry.io/service.name';
export const NAME_LABEL = 'app.kubernetes.io/name';

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

export function controllerOf(meta: Json): OwnerRef | null {
  const refs: Json[] = Array.isArray(meta?.ownerReferences) ? meta.ownerReferences : [];
  const ref = refs.find((r) => r?.controller === true) ?? null;
  if (ref === null) return null;
  const kind = str(ref.kind);
  const name = str(ref.name);
  const uid = str(ref.uid);
  return kind === null || name === null || uid === null ? null : { kind, name, uid };
}

/** `containerd://<id>`, `cri-o://<id>`, `docker://<id>` → `<id>`. */
export function containerIdOfStatus(containerID: unknown): string | null {
  const s = str(containerID);
  if (s === null) return null;
  const i = s.indexOf('://');
  return i < 0 ? s : s.slice(i + 3);
}

/** The slim record of a Pod; `keepContainers` for pods of this node (the only ones looked up by cgroup). */
export function podRecord(o: Json, keepContainers: (nodeName: string | null) => boolean): PodRecord | null {
  const meta = o?.metadata;
  const uid = str(meta?.uid);
  const name = str(meta?.name);
  const namespace = str(meta?.namespace);
  if (uid === null || name === null || namespace === null) return null;
  const nodeName = str(o.spec?.nodeName);
  const ips: string[] = [];
  const listed: Json[] = Array.isArray(o.status?.podIPs) ? o.status.podIPs : [];
  for (const p of listed) if (str(p?.ip) !== null) ips.push(p.ip);
  if (ips.length === 0 && str(o.status?.podIP) !== null) ips.push(o.status.podIP);
  let containers: Map<string, string> | null = null;
  if (keepContainers(nodeName)) {
    containers = new Map();
    for (const list of [
      o.status?.initContainerStatuses,
      o.status?.containerStatuses,
      o.status?.ephemeralContainerStatuses,
    ]) {
      if (!Array.isArray(list)) continue;
      for (const c of list) {
        const id = containerIdOfStatus(c?.containerID);
        const cname = str(c?.name);
        if (id !== null && cname !== null) containers.set(id, cname);
      }
    }
  }
  return {
    uid,
    name,
    namespace,
    nodeName,
    ips,
    hostNetwork: o.spec?.hostNetwork === true,
    serviceAnnotation: str(meta.annotations?.[SERVICE_NAME_ANNOTATION]),
    nameLabel: str(meta.labels?.[NAME_LABEL]),
    templateHash: str(meta.labels?.['pod-template-hash']),
    owner: controllerOf(meta),
    containers,
  };
}

export function serviceRecord(o: Json): ServiceRecord | null {
  const name = str(o?.metadata?.name);
  const namespace = str(o?.metadata?.namespace);
  if (name === null || namespace === null) return null;
  const ips = new Set<string>();
  const listed: unknown[] = Array.isArray(o.spec?.clusterIPs) ? o.spec.clusterIPs : [o.spec?.clusterIP];
  for (const ip of listed) if (str(ip) !== null && ip !== 'None') ips.add(ip as string);
  return { name, namespace, clusterIps: [...ips] };
}

export function ownedRecord(o: Json): OwnedRecord | null {
  const uid = str(o?.metadata?.uid);
  const name = str(o?.metadata?.name);
  const namespace = str(o?.metadata?.namespace);
  if (uid === null || name === null || namespace === null) return null;
  return { uid, name, namespace, owner: controllerOf(o.metadata) };
}
