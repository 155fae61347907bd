/**
 * A local Kubernetes API server for `meshpipe up --demo --kubernetes` and `meshpipe demo --kubernetes`:
 * a fresh kube-apiserver + etcd under `dir` (cli/stack/kube-apiserver.ts), with the collector's
 * shipped ClusterRole (infra/kubernetes/collector-rbac.yaml) bound to the user the collector's
 * kubeconfig names, so the demo exercises the same RBAC a cluster gives the DaemonSet.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { KubernetesCluster } from '../demo/kubernetes-cluster.ts';
import { PROJECT_ROOT } from '../lib/paths.ts';
import { type LocalKubeApi, startKubeApiServer } from './stack/kube-apiserver.ts';

export async function startLocalKubernetes(dir: string): Promise<LocalKubeApi> {
  // A new cluster each time: the demo's objects are re-created with the demo's new pods.
  rmSync(dir, { recursive: true, force: true });
  const kube = await startKubeApiServer(dir);
  try {
    const [role] = parseAllDocuments(
      readFileSync(join(PROJECT_ROOT, 'infra', 'kubernetes', 'collector-rbac.yaml'), 'utf8'),
    ).map((d) => d.toJS());
    await new KubernetesCluster(kube.kubeconfigs.admin).bindClusterRole(role, kube.collectorUser);
  } catch (err) {
    await kube.stop();
    throw err;
  }
  return kube;
}
