/**
 * The Kubernetes pod (its UID) and container a process runs in, from its cgroup path. The kubelet puts
 * every pod in a cgroup named after its UID, and the runtime every container in a cgroup named after
 * its id, under one of these layouts:
 *
 *   driver    runtime      path (cgroup v2 `0::` line, or any v1 controller line)
 *   cgroupfs  containerd   /kubepods/burstable/pod<uid>/<id>             (guaranteed: /kubepods/pod<uid>/<id>)
 *   cgroupfs  CRI-O        /kubepods/besteffort/pod<uid>/crio-<id>
 *   cgroupfs  Docker       /kubepods/burstable/pod<uid>/<id>             (cri-dockerd)
 *   systemd   containerd   /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope
 *   systemd   CRI-O        /kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_>.slice/crio-<id>.scope
 *   systemd   Docker       /kubepods.slice/kubepods-pod<uid_>.slice/docker-<id>.scope
 *   (kind, k3s, nested)    /system.slice/containerd.service/kubepods-burstable-pod<uid_>.slice:cri-containerd:<id>
 *                          /kubepods/burstable/pod<uid>/<id> under a prefix (/kubelet.slice/..., /k3s/...)
 *
 * `<uid_>` is the UID with `_` for `-` (systemd unit names may not carry dashes inside a name part).
 * The pod UID is the last `pod<uid>` path element; the container id is the innermost container
 * element (container-id.ts), or the `:<runtime>:<id>` suffix of the systemd-in-containerd form. The
 * pause (sandbox) container and conmon monitors are in the pod but not in an application container:
 * conmon gives no container id, so a process there maps to the pod only.
 */
import { containerIdFromPath } from '../container-id.ts';

export interface PodCgroup {
  /** The pod's metadata.uid, lower-case with dashes. */
  podUid: string;
  /** The container's id (64 hex digits), or null when the process is in the pod but no container. */
  containerId: string | null;
}

const UUID = '[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}';
/** `pod<uid>` alone (cgroupfs) or at the end of a systemd slice name (`kubepods-burstable-pod<uid>.slice`). */
const POD_ELEMENT = new RegExp(`(?:^|-)pod(${UUID})(?:\\.slice)?(?::|$)`);
/** `...slice:cri-containerd:<id>`: containerd's systemd cgroup path as /proc shows it. */
const COLON_CONTAINER = /:(?:cri-containerd|crio|docker):([0-9a-f]{64})$/;

/** The pod and container of one cgroup path, or null when it is not in a Kubernetes pod. */
export function podCgroupFromPath(path: string): PodCgroup | null {
  const parts = path.split('/');
  for (let i = parts.length - 1; i >= 0; i--) {
    const part = parts[i]!;
    const m = POD_ELEMENT.exec(part);
    if (m === null) continue;
    const podUid = m[1]!.replaceAll('_', '-');
    const colon = COLON_CONTAINER.exec(part);
    if (colon !== null) return { podUid, containerId: colon[1]! };
    // The container is below the pod's cgroup (the systemd driver's containers are siblings in the
    // pod slice: below too).
    return { podUid, containerId: containerIdFromPath(parts.slice(i + 1).join('/')) };
  }
  return null;
}

/**
 * The pod and container in the text of /proc/<pid>/cgroup. The cgroup v2 line (`0::`) is preferred; on
 * cgroup v1 (or hybrid) hosts every controller line names the same pod, and the first one that does is
 * taken.
 */
export function podCgroupFromFile(text: string): PodCgroup | null {
  let fallback: PodCgroup | null = null;
  for (const line of text.split('\n')) {
    const second = line.indexOf(':', line.indexOf(':') + 1);
    if (second < 0) continue;
    const found = podCgroupFromPath(line.slice(second + 1));
    if (found === null) continue;
    if (line.startsWith('0::')) return found;
    if (fallback === null || (fallback.containerId === null && found.containerId !== null)) fallback = found;
  }
  return fallback;
}
