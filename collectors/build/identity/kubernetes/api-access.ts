/**
 * `meshpipe doctor` in a cluster: can the collector reach the API server, and does its RBAC allow
 * what the decorator does (list and watch of each watched resource)? Asked with a
 * SelfSubjectAccessReview per resource and verb, which every authenticated identity may create, so a
 * missing permission is named precisely instead of surfacing as a watch that keeps failing.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { CheckResult } from '../../../../lib/check-result.ts';
import { kubernetesClient } from './client-library.ts';
import { WATCHED_RESOURCES } from './kubernetes-decorator.ts';

const NAME = 'kubernetes-api';

export async function checkKubernetesAccess(kubeConfig: KubeConfig, timeoutMs = 5000): Promise<CheckResult> {
  const server = kubeConfig.getCurrentCluster()?.server ?? '(no cluster)';
  const deadline = <T>(p: Promise<T>) =>
    Promise.race([
      p,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs).unref(),
      ),
    ]);
  let version: string;
  try {
    version = (await deadline(kubeConfig.makeApiClient(kubernetesClient().VersionApi).getCode())).gitVersion;
  } catch (err) {
    return {
      name: NAME,
      status: 'fail',
      detail: `cannot reach the API server at ${server}: ${(err as Error).message}`,
      fix: 'in a cluster: the collector needs its service-account token (automountServiceAccountToken: true); elsewhere set collector.kubernetes.kubeconfig, or collector.kubernetes.enabled=off',
    };
  }
  const auth = kubeConfig.makeApiClient(kubernetesClient().AuthorizationV1Api);
  const missing: string[] = [];
  for (const r of WATCHED_RESOURCES) {
    for (const verb of ['list', 'watch']) {
      const review = await deadline(
        auth.createSelfSubjectAccessReview({
          body: { spec: { resourceAttributes: { group: r.group, resource: r.resource, verb } } },
        }),
      );
      if (review.status?.allowed !== true)
        missing.push(`${verb} ${r.group === '' ? '' : `${r.group}/`}${r.resource}`);
    }
  }
  if (missing.length > 0) {
    return {
      name: NAME,
      status: 'fail',
      detail: `${server} (${version}): not allowed to ${missing.join(', ')}`,
      fix: 'apply the collector ClusterRole and its binding (infra/kubernetes/collector-rbac.yaml, or the Helm chart): get/list/watch on pods, services, replicasets, jobs',
    };
  }
  return {
    name: NAME,
    status: 'ok',
    detail: `${server} (${version}): list and watch allowed on ${WATCHED_RESOURCES.map((r) => r.resource).join(', ')}`,
  };
}
