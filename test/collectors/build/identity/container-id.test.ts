import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  containerIdFromCgroupFile,
  containerIdFromPath,
  unifiedCgroupPath,
} from '../../../../collectors/build/identity/container-id.ts';

const ID = '3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899';

// Real cgroup layouts of each runtime → the container id (null: not in a container).
const PATHS: Array<[string, string | null]> = [
  [`/docker/${ID}`, ID],
  [`/system.slice/docker-${ID}.scope`, ID],
  [
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c.slice/cri-containerd-${ID}.scope`,
    ID,
  ],
  [`/kubepods/burstable/pod0f1e2d3c-aaaa-bbbb-cccc-000000000000/${ID}`, ID],
  [`/kubepods.slice/kubepods-pod1.slice/crio-${ID}.scope`, ID],
  [`/kubepods.slice/kubepods-pod1.slice/crio-${ID}.scope/container`, ID],
  [`/machine.slice/libpod-${ID}.scope`, ID],
  [`/libpod_parent/libpod-${ID}`, ID],
  [`/system.slice/nerdctl-${ID}.scope`, ID],
  [`/default/${ID}`, ID],
  [`/../../kubepods/besteffort/pod1/${ID}`, ID],
  [`/kubepods.slice/kubepods-pod1.slice/crio-conmon-${ID}.scope`, null],
  [`/machine.slice/libpod-conmon-${ID}.scope`, null],
  ['/user.slice/user-1000.slice/session-2.scope', null],
  ['/system.slice/nginx.service', null],
  ['/', null],
  [`/docker/${ID.slice(1)}`, null],
];

describe('container ids from cgroup paths', () => {
  it('recognises docker, containerd, cri-o, podman and nerdctl layouts, not their monitors', () => {
    for (const [path, id] of PATHS) assert.equal(containerIdFromPath(path), id, path);
  });

  it('reads /proc/<pid>/cgroup text: the v2 line first, v1 lines otherwise', () => {
    const hybrid = `12:memory:/docker/${ID}\n1:name=systemd:/docker/${ID}\n0::/\n`;
    assert.equal(containerIdFromCgroupFile(hybrid), ID);
    const v2 = `0::/system.slice/docker-${ID}.scope\n`;
    assert.equal(containerIdFromCgroupFile(v2), ID);
    assert.equal(unifiedCgroupPath(v2), `/system.slice/docker-${ID}.scope`);
    assert.equal(containerIdFromCgroupFile('0::/user.slice\n'), null);
  });
});
