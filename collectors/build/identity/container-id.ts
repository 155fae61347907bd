/**
 * The container a process runs in, from its cgroup path (/proc/<pid>/cgroup). Runtimes put each
 * container in a cgroup named after its 64-hex-digit id:
 *
 *   docker (cgroupfs)             /docker/<id>
 *   docker (systemd)              /system.slice/docker-<id>.scope
 *   Kubernetes + containerd       /kubepods.slice/.../cri-containerd-<id>.scope   (systemd driver)
 *                                 /kubepods/burstable/pod<uid>/<id>                (cgroupfs driver)
 *   Kubernetes + CRI-O            /kubepods.slice/.../crio-<id>.scope
 *   podman                        /machine.slice/libpod-<id>.scope, /libpod_parent/libpod-<id>
 *   containerd (nerdctl, ctr)     /system.slice/nerdctl-<id>.scope, /<namespace>/<id>
 *
 * The monitors next to containers (`crio-conmon-<id>`, `libpod-conmon-<id>`) are not in the
 * container, so they do not count. The id is the innermost match (a container nested in another
 * container's cgroup belongs to the inner one).
 */

const SCOPED = /^(?:docker|cri-containerd|crio|libpod|nerdctl)-([0-9a-f]{64})(?:\.scope)?$/;
const BARE = /^[0-9a-f]{64}$/;

/** The container id in one cgroup path, or null. */
export function containerIdFromPath(path: string): string | null {
  const parts = path.split('/');
  for (let i = parts.length - 1; i >= 0; i--) {
    const part = parts[i]!;
    if (part.length < 64) continue;
    if (BARE.test(part)) return part;
    const m = SCOPED.exec(part);
    if (m !== null) return m[1]!;
  }
  return null;
}

/**
 * The container id in the text of /proc/<pid>/cgroup (`hierarchy-id:controllers:path` lines). The
 * cgroup v2 line (`0::`) is preferred; on hybrid hosts the v1 lines name the same container.
 */
export function containerIdFromCgroupFile(text: string): string | null {
  let fallback: string | null = null;
  for (const line of text.split('\n')) {
    const second = line.indexOf(':', line.indexOf(':') + 1);
    if (second < 0) continue;
    const id = containerIdFromPath(line.slice(second + 1));
    if (id === null) continue;
    if (line.startsWith('0::')) return id;
    fallback ??= id;
  }
  return fallback;
}

/** The cgroup v2 path of a process (the `0::` line), or null on a pure cgroup v1 host. */
export function unifiedCgroupPath(text: string): string | null {
  for (const line of text.split('\n')) if (line.startsWith('0::')) return line.slice(3);
  return null;
}
