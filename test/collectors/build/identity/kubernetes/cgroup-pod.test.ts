/**
 * cgroup path → pod UID and container id, for every layout the kubelet and the runtimes produce
 * (collectors/build/identity/kubernetes/cgroup-pod.ts). The paths are as /proc/<pid>/cgroup shows them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  podCgroupFromFile,
  podCgroupFromPath,
} from '../../../../../collectors/build/identity/kubernetes/cgroup-pod.ts';

const UID = '3f1c2b9a-8d7e-4c6b-a5f4-0e1d2c3b4a59';
const UID_ = UID.replaceAll('-', '_');
const ID = 'a3d5f0c2e1b4968777a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9012';

const LAYOUTS: Array<{ name: string; path: string; containerId: string | null }> = [
  // cgroup v2 and v1 controller paths are the same strings; the driver decides the shape.
  { name: 'cgroupfs, containerd, burstable', path: `/kubepods/burstable/pod${UID}/${ID}`, containerId: ID },
  { name: 'cgroupfs, containerd, guaranteed', path: `/kubepods/pod${UID}/${ID}`, containerId: ID },
  { name: 'cgroupfs, CRI-O', path: `/kubepods/besteffort/pod${UID}/crio-${ID}`, containerId: ID },
  { name: 'cgroupfs, Docker (cri-dockerd)', path: `/kubepods/burstable/pod${UID}/${ID}`, containerId: ID },
  {
    name: 'systemd, containerd',
    path: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    containerId: ID,
  },
  {
    name: 'systemd, CRI-O',
    path: `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-${ID}.scope`,
    containerId: ID,
  },
  {
    name: 'systemd, Docker, guaranteed',
    path: `/kubepods.slice/kubepods-pod${UID_}.slice/docker-${ID}.scope`,
    containerId: ID,
  },
  {
    name: 'systemd in containerd (kind)',
    path: `/system.slice/containerd.service/kubepods-burstable-pod${UID_}.slice:cri-containerd:${ID}`,
    containerId: ID,
  },
  {
    name: 'nested under a prefix (k3s, kubelet.slice)',
    path: `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    containerId: ID,
  },
  {
    name: 'CRI-O conmon: in the pod, no container',
    path: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-conmon-${ID}.scope`,
    containerId: null,
  },
  { name: 'the pod cgroup itself', path: `/kubepods.slice/kubepods-pod${UID_}.slice`, containerId: null },
];

describe('podCgroupFromPath', () => {
  for (const layout of LAYOUTS) {
    it(layout.name, () => {
      assert.deepEqual(podCgroupFromPath(layout.path), { podUid: UID, containerId: layout.containerId });
    });
  }

  it('is null outside pods: docker without Kubernetes, system services, the root', () => {
    for (const path of [
      `/system.slice/docker-${ID}.scope`,
      `/docker/${ID}`,
      '/system.slice/sshd.service',
      '/user.slice/user-0.slice/session-1.scope',
      '/',
      '/kubepods.slice/kubepods-burstable.slice',
    ]) {
      assert.equal(podCgroupFromPath(path), null, path);
    }
  });
});

describe('podCgroupFromFile', () => {
  it('cgroup v2: the 0:: line', () => {
    const text = `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope\n`;
    assert.deepEqual(podCgroupFromFile(text), { podUid: UID, containerId: ID });
  });

  it('cgroup v1: any controller line names the pod', () => {
    const text = [
      '12:hugetlb:/',
      `11:memory:/kubepods/burstable/pod${UID}/${ID}`,
      `10:cpu,cpuacct:/kubepods/burstable/pod${UID}/${ID}`,
      '1:name=systemd:/',
      '',
    ].join('\n');
    assert.deepEqual(podCgroupFromFile(text), { podUid: UID, containerId: ID });
  });

  it('hybrid: the v2 line wins', () => {
    const other = '11111111-2222-3333-4444-555555555555';
    const text = `4:memory:/kubepods/pod${other}/${ID}\n0::/kubepods/burstable/pod${UID}/${ID}\n`;
    assert.deepEqual(podCgroupFromFile(text), { podUid: UID, containerId: ID });
  });

  it('null for a process on the node', () => {
    assert.equal(podCgroupFromFile('0::/system.slice/kubelet.service\n'), null);
    assert.equal(podCgroupFromFile(''), null);
  });
});
