/**
 * A real Kubernetes API server on this machine: etcd and kube-apiserver, built from Go modules by
 * scripts/build-kubernetes-tools, for the Kubernetes decorator's tests and `meshpipe demo --kubernetes`.
 *
 *   etcd            127.0.0.1:<free port>, data in <dir>/etcd
 *   kube-apiserver  https://127.0.0.1:<free port>, RBAC, a static token file:
 *                     admin      (group system:masters)  creates the objects
 *                     collector  (no groups)             what the collector runs as: only the RBAC it is given
 *                     nobody     (no groups, no RBAC)    what a collector without its ClusterRole sees
 *
 * No controller-manager, scheduler or kubelet run: objects are created as they would be in a cluster
 * (Pods with spec.nodeName set and status written through the status subresource), and the `default`
 * ServiceAccount a Pod needs is created with its namespace. `restart()` stops and starts the API server
 * on the same port and etcd, which is how the tests check that watches resume.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { kubernetesBinDir } from '../../lib/paths.ts';
import { ephemeralPort } from './ports.ts';

export interface LocalKubeApi {
  readonly url: string;
  /** kubeconfig files, one per user of the token file. */
  readonly kubeconfigs: { admin: string; collector: string; unprivileged: string };
  readonly collectorUser: string;
  /**
   * Compacts etcd's history up to now (what etcd does every few minutes in a cluster): a watch that
   * resumes from an older resourceVersion is then answered 410 Gone and must relist.
   */
  compact(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export function kubeApiServerBinaries(): { etcd: string; apiserver: string } | null {
  const dir = kubernetesBinDir();
  const etcd = join(dir, 'etcd');
  const apiserver = join(dir, 'kube-apiserver');
  return existsSync(etcd) && existsSync(apiserver) ? { etcd, apiserver } : null;
}

function start(command: string, args: string[], log: string): ChildProcess {
  const fd = openSync(log, 'a');
  const child = spawn(command, args, { stdio: ['ignore', fd, fd] });
  return child;
}

async function stopChild(child: ChildProcess | null): Promise<void> {
  if (child === null || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const killed = await Promise.race([exited.then(() => false), sleep(10_000).then(() => true)]);
  if (killed) {
    child.kill('SIGKILL');
    await exited;
  }
}

/** GET /readyz: 200 once the server serves (its certificate is self-signed: loopback only). */
function readyz(url: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpsGet(
      `${url}/readyz`,
      { headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false, timeout: 2000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

async function waitReady(url: string, token: string, child: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline && child.exitCode === null) {
    if ((await readyz(url, token)) === 200) return;
    await sleep(250);
  }
  throw new MeshpipeError(ERRORS.STACK_START_FAILED, ['kube-apiserver', log]);
}

function kubeconfig(url: string, user: string, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: local',
    '  cluster:',
    `    server: ${url}`,
    '    insecure-skip-tls-verify: true',
    'users:',
    `- name: ${user}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: local',
    '  context:',
    '    cluster: local',
    `    user: ${user}`,
    'current-context: local',
    '',
  ].join('\n');
}

/** Starts etcd and kube-apiserver under `dir` (created), on free loopback ports. */
export async function startKubeApiServer(dir: string): Promise<LocalKubeApi> {
  const bins = kubeApiServerBinaries();
  if (bins === null) throw new MeshpipeError(ERRORS.SETUP_KUBE_APISERVER_MISSING, [kubernetesBinDir()]);
  mkdirSync(join(dir, 'certs'), { recursive: true });
  const [etcdClient, etcdPeer, apiPort] = [
    await ephemeralPort(),
    await ephemeralPort(),
    await ephemeralPort(),
  ];
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const adminToken = randomBytes(16).toString('hex');
  const collectorToken = randomBytes(16).toString('hex');
  const collectorUser = 'meshpipe-collector';
  const nobodyToken = randomBytes(16).toString('hex');
  writeFileSync(
    join(dir, 'tokens.csv'),
    `${adminToken},admin,admin,"system:masters"\n${collectorToken},${collectorUser},${collectorUser}\n${nobodyToken},nobody,nobody\n`,
    { mode: 0o600 },
  );
  const url = `https://127.0.0.1:${apiPort}`;
  const kubeconfigs = {
    admin: join(dir, 'admin.kubeconfig'),
    collector: join(dir, 'collector.kubeconfig'),
    unprivileged: join(dir, 'unprivileged.kubeconfig'),
  };
  writeFileSync(kubeconfigs.admin, kubeconfig(url, 'admin', adminToken), { mode: 0o600 });
  writeFileSync(kubeconfigs.collector, kubeconfig(url, collectorUser, collectorToken), { mode: 0o600 });
  writeFileSync(kubeconfigs.unprivileged, kubeconfig(url, 'nobody', nobodyToken), { mode: 0o600 });

  const etcdLog = join(dir, 'etcd.log');
  const etcd = start(
    bins.etcd,
    [
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      '--log-level=warn',
    ],
    etcdLog,
  );
  const apiLog = join(dir, 'kube-apiserver.log');
  const apiArgs = [
    `--etcd-servers=http://127.0.0.1:${etcdClient}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${apiPort}`,
    `--cert-dir=${join(dir, 'certs')}`,
    `--token-auth-file=${join(dir, 'tokens.csv')}`,
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-key-file=${join(dir, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--advertise-address=127.0.0.1',
    '--endpoint-reconciler-type=none',
    // Short watch-cache windows are not needed; the defaults are a real cluster's.
    '-v=0',
  ];
  let apiserver: ChildProcess | null = start(bins.apiserver, apiArgs, apiLog);
  const stopAll = async () => {
    await stopChild(apiserver);
    apiserver = null;
    await stopChild(etcd);
  };
  try {
    await waitReady(url, adminToken, apiserver, apiLog);
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    url,
    kubeconfigs,
    collectorUser,
    async compact() {
      // etcd's JSON gateway (the gRPC API over HTTP): the header of any range gives the revision.
      const etcdUrl = `http://127.0.0.1:${etcdClient}/v3/kv`;
      const post = async (path: string, body: object) =>
        (
          await fetch(`${etcdUrl}/${path}`, { method: 'POST', body: JSON.stringify(body) })
        ).json() as Promise<{
          header?: { revision?: string };
        }>;
      const range = await post('range', { key: Buffer.from('/').toString('base64') });
      const revision = range.header?.revision;
      if (revision === undefined) throw new Error('etcd did not report its revision');
      await post('compaction', { revision, physical: true });
    },
    async restart() {
      await stopChild(apiserver);
      apiserver = start(bins.apiserver, apiArgs, apiLog);
      await waitReady(url, adminToken, apiserver, apiLog);
    },
    stop: stopAll,
  };
}
