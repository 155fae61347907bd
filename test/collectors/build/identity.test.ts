/**
 * Identity on real events: processes placed in real cgroups named like container runtimes name theirs
 * (so the container id comes from the kernel's cgroup id and /proc, as on a node), workload rules from
 * the configuration, and a pod created after the collector started. Needs root.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findCgroup2Root } from '../../../collectors/build/identity/cgroup-directory.ts';
import type { Collector } from '../../../collectors/collector.ts';
import { type TestKafka, testKafka } from '../../../testkit/kafka.ts';
import {
  createPodPair,
  type Pod,
  type PodPair,
  podExec,
  requireRoot,
  stopProcess,
} from '../../bpf/helpers/pods.ts';
import { waitFor } from '../../helpers/wait.ts';
import {
  collectorConfig,
  FIXTURES,
  RawTopicReader,
  sideOf,
  startCollector,
  testPort,
} from '../helpers/harness.ts';

requireRoot();

const PORT = testPort();
const CGROUP_ROOT = findCgroup2Root();
const SERVER_ID = randomBytes(32).toString('hex');
const CLIENT_ID = randomBytes(32).toString('hex');

/** `argv` in `pod`, inside the cgroup v2 directory `cgroup` (moved there before it execs). */
function spawnInCgroup(cgroup: string, pod: Pod, argv: string[]): ChildProcess {
  const quoted = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return spawn('sh', ['-c', `echo $$ > '${cgroup}/cgroup.procs' && exec ip netns exec ${pod.ns} ${quoted}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('collector: identity of real processes', () => {
  let pods: PodPair;
  let late: PodPair | undefined;
  let k: TestKafka;
  let parent: string;
  let serverCgroup: string;
  let clientCgroup: string;
  let server: ChildProcess | undefined;
  let collector: Collector | undefined;
  let reader: RawTopicReader | undefined;

  before(async () => {
    assert.ok(CGROUP_ROOT !== null, 'a cgroup2 hierarchy is mounted');
    pods = createPodPair('ident');
    parent = join(CGROUP_ROOT, `meshpipe-test-${process.pid}`);
    serverCgroup = join(parent, `docker-${SERVER_ID}.scope`);
    clientCgroup = join(parent, `cri-containerd-${CLIENT_ID}.scope`);
    mkdirSync(serverCgroup, { recursive: true });
    mkdirSync(clientCgroup, { recursive: true });
    k = await testKafka('identity');
    await k.createTopics();
    server = spawnInCgroup(serverCgroup, pods.b, [
      process.execPath,
      `${FIXTURES}http-server.ts`,
      `0.0.0.0:${PORT}`,
    ]);
    await new Promise<void>((resolve, reject) => {
      server!.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      server!.once('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
    collector = (
      await startCollector(
        collectorConfig({
          brokers: k.brokers,
          prefix: k.prefix,
          collector: {
            ports: [PORT],
            namespace: 'local',
            workloads: [
              { pod: pods.b.ns, port: PORT, workload: 'orders', service: 'orders-api', namespace: 'shop' },
              { pod: 'mp-late-*', service: 'late-service' },
            ],
          },
        }),
      )
    ).collector;
    reader = await RawTopicReader.start(k.kafka, k.topic('raw'));
  });

  after(async () => {
    await collector?.stop();
    await reader?.stop();
    await stopProcess(server);
    await k?.cleanup();
    pods?.remove();
    late?.remove();
    for (const dir of [serverCgroup, clientCgroup, parent]) {
      try {
        rmdirSync(dir);
      } catch {
        // a process may still be leaving it
      }
    }
  });

  it('names process, container, pod, workload, service and namespace', async () => {
    const client = spawnInCgroup(clientCgroup, pods.a, [
      'curl',
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{local_port}',
      `http://${pods.b.addr}:${PORT}/hello`,
    ]);
    let out = '';
    client.stdout!.on('data', (d) => {
      out += d;
    });
    await new Promise((r) => client.once('exit', r));
    const port = Number(out);
    const { c, s } = await reader!.waitFor('both ends', (rs) => {
      const all = rs.events();
      const c = sideOf(all, pods.a, port);
      const s = sideOf(all, pods.b, port);
      return c.some((e) => e.kind === 'CLOSE') && s.some((e) => e.kind === 'CLOSE') && { c, s };
    });

    const srv = s[0]!;
    assert.equal(srv.process.pid, server!.pid);
    assert.equal(srv.process.comm, readFileSync(`/proc/${server!.pid}/comm`, 'latin1').trim());
    assert.equal(srv.process.exe, process.execPath);
    assert.equal(
      srv.process.cgroupId,
      BigInt(statSync(serverCgroup).ino),
      "the kernel's cgroup id is the directory inode",
    );
    assert.equal(srv.process.containerId, SERVER_ID);
    assert.deepEqual(
      { ...srv.workload },
      {
        netnsInode: BigInt(pods.b.inode),
        pod: pods.b.ns,
        namespace: 'shop',
        workload: 'orders',
        service: 'orders-api',
        // Not in a Kubernetes cluster: no pod UID, container name or workload kind.
        podUid: null,
        container: null,
        workloadKind: null,
      },
    );

    // curl is gone by now; its container is still known (from /proc if it was caught alive, else from
    // its cgroup id), and with no rule for it the pod names the service.
    const cli = c[0]!;
    assert.equal(cli.process.cgroupId, BigInt(statSync(clientCgroup).ino));
    assert.equal(cli.process.containerId, CLIENT_ID);
    assert.equal(cli.workload.pod, pods.a.ns);
    assert.equal(cli.workload.namespace, 'local');
    assert.equal(cli.workload.service, pods.a.ns);
  });

  it('names a pod created after the collector started', async () => {
    late = createPodPair('late');
    const lateServer = spawn(
      'ip',
      ['netns', 'exec', late.b.ns, process.execPath, `${FIXTURES}http-server.ts`, `0.0.0.0:${PORT}`],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      await new Promise<void>((resolve) =>
        lateServer.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()),
      );
      const out = await podExec(late.a, 'curl', [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{local_port}',
        `http://${late.b.addr}:${PORT}/hello`,
      ]);
      const events = await reader!.waitFor("the late pod's server side", (rs) => {
        const s = sideOf(rs.events(), late!.b, Number(out));
        return s.length >= 3 && s;
      });
      for (const e of events) {
        assert.equal(e.workload.pod, late.b.ns);
        assert.equal(e.workload.service, 'late-service');
      }
    } finally {
      await stopProcess(lateServer);
      await waitFor(
        'the late server gone',
        () => lateServer.exitCode !== null || lateServer.signalCode !== null,
      );
    }
  });
});
