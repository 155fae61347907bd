/**
 * Registers the processes of this machine's "pods" (network namespaces) in a Kubernetes API server,
 * as a cluster's controllers and kubelet would: a Namespace with its `default` ServiceAccount, a
 * Deployment with its ReplicaSet, Pods bound to a node whose status carries the pod's real address and
 * container id, and Services. Used by `meshpipe demo --kubernetes` and the decorator's tests against a
 * real kube-apiserver (cli/stack/kube-apiserver.ts), where no controller-manager or kubelet runs.
 */
import { randomBytes } from 'node:crypto';
import { AppsV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';

export interface WorkloadRef {
  namespace: string;
  deployment: string;
  deploymentUid: string;
  replicaSet: string;
  replicaSetUid: string;
  templateHash: string;
}

export interface PodSpecification {
  namespace: string;
  name: string;
  nodeName: string;
  ip: string;
  /** The ReplicaSet that owns it, if any. */
  owner?: WorkloadRef;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  container?: { name: string; id: string };
}

/** A container id as runtimes make them: 64 hex digits. */
export function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

export class KubernetesCluster {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly rbac: RbacAuthorizationV1Api;

  constructor(kubeconfigPath: string) {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  }

  async namespace(name: string): Promise<void> {
    await this.core.createNamespace({ body: { metadata: { name } } });
    // The ServiceAccount admission plugin refuses Pods without it; a controller-manager would create it.
    await this.core.createNamespacedServiceAccount({
      namespace: name,
      body: { metadata: { name: 'default' } },
    });
  }

  /** A Deployment and the ReplicaSet its controller would make (`<name>-<pod-template-hash>`). */
  async deployment(
    namespace: string,
    name: string,
    labels: Record<string, string> = {},
  ): Promise<WorkloadRef> {
    const templateHash = randomBytes(5).toString('hex').slice(0, 9);
    const selector = { matchLabels: { app: name } };
    const template = {
      metadata: { labels: { app: name, ...labels } },
      spec: { containers: [{ name, image: name }] },
    };
    const d = await this.apps.createNamespacedDeployment({
      namespace,
      body: { metadata: { name, labels }, spec: { replicas: 1, selector, template } },
    });
    const rsName = `${name}-${templateHash}`;
    const rs = await this.apps.createNamespacedReplicaSet({
      namespace,
      body: {
        metadata: {
          name: rsName,
          labels: { app: name, 'pod-template-hash': templateHash },
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'Deployment', name, uid: d.metadata!.uid!, controller: true },
          ],
        },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: name, 'pod-template-hash': templateHash } },
          template: {
            ...template,
            metadata: { labels: { ...template.metadata.labels, 'pod-template-hash': templateHash } },
          },
        },
      },
    });
    return {
      namespace,
      deployment: name,
      deploymentUid: d.metadata!.uid!,
      replicaSet: rsName,
      replicaSetUid: rs.metadata!.uid!,
      templateHash,
    };
  }

  /** Creates a Pod bound to `nodeName` and writes its status (address, running container); returns its UID. */
  async pod(spec: PodSpecification): Promise<string> {
    const container = spec.container ?? { name: 'app', id: newContainerId() };
    const labels = { ...(spec.labels ?? {}) };
    if (spec.owner !== undefined) {
      labels.app = spec.owner.deployment;
      labels['pod-template-hash'] = spec.owner.templateHash;
    }
    const created = await this.core.createNamespacedPod({
      namespace: spec.namespace,
      body: {
        metadata: {
          name: spec.name,
          labels,
          annotations: spec.annotations ?? {},
          ...(spec.owner === undefined
            ? {}
            : {
                ownerReferences: [
                  {
                    apiVersion: 'apps/v1',
                    kind: 'ReplicaSet',
                    name: spec.owner.replicaSet,
                    uid: spec.owner.replicaSetUid,
                    controller: true,
                  },
                ],
              }),
        },
        spec: { nodeName: spec.nodeName, containers: [{ name: container.name, image: container.name }] },
      },
    });
    const now = new Date();
    created.status = {
      phase: 'Running',
      podIP: spec.ip,
      podIPs: [{ ip: spec.ip }],
      hostIP: '127.0.0.1',
      startTime: now,
      containerStatuses: [
        {
          name: container.name,
          containerID: `containerd://${container.id}`,
          image: container.name,
          imageID: '',
          ready: true,
          restartCount: 0,
          started: true,
          state: { running: { startedAt: now } },
        },
      ],
    };
    await this.core.replaceNamespacedPodStatus({ namespace: spec.namespace, name: spec.name, body: created });
    return created.metadata!.uid!;
  }

  async relabelPod(
    namespace: string,
    name: string,
    change: { labels?: Record<string, string>; annotations?: Record<string, string> },
  ): Promise<void> {
    const pod = await this.core.readNamespacedPod({ namespace, name });
    pod.metadata!.labels = { ...(pod.metadata!.labels ?? {}), ...(change.labels ?? {}) };
    pod.metadata!.annotations = { ...(pod.metadata!.annotations ?? {}), ...(change.annotations ?? {}) };
    await this.core.replaceNamespacedPod({ namespace, name, body: pod });
  }

  async deletePod(namespace: string, name: string): Promise<void> {
    await this.core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 });
  }

  async service(namespace: string, name: string, clusterIP: string, port: number): Promise<void> {
    await this.core.createNamespacedService({
      namespace,
      body: {
        metadata: { name },
        spec: { clusterIP, selector: { app: name }, ports: [{ port, targetPort: port, protocol: 'TCP' }] },
      },
    });
  }

  /** Applies a ClusterRole and binds it to a user (the test's collector identity). */
  async bindClusterRole(role: object & { metadata: { name: string } }, user: string): Promise<void> {
    await this.rbac.createClusterRole({ body: role });
    await this.rbac.createClusterRoleBinding({
      body: {
        metadata: { name: `${role.metadata.name}-${user}` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
      },
    });
  }
}

/** The demo's Kubernetes namespace and the workload each demo pod belongs to. */
export const DEMO_NAMESPACE = 'shop';
const DEMO_WORKLOADS: Record<string, string> = {
  gateway: 'gateway',
  orders: 'orders',
  inventory: 'inventory',
  client: 'load-generator',
};

/**
 * Registers a running demo's pods in the API server: a Deployment (and ReplicaSet) per service, a Pod
 * per demo pod bound to `nodeName` with the pod's real address, and a Service per demo service. The
 * collector then finds each pod by the address its sockets have (the demo's processes are not in pod
 * cgroups), and names it `<service>` in namespace `shop`, with k8s.deployment.name and the pod's name.
 */
export async function registerDemoPods(
  cluster: KubernetesCluster,
  pods: ReadonlyArray<{ name: string; address: string; port: number | null }>,
  nodeName: string,
): Promise<Array<{ pod: string; workload: string; address: string }>> {
  await cluster.namespace(DEMO_NAMESPACE);
  const registered: Array<{ pod: string; workload: string; address: string }> = [];
  for (const [i, p] of pods.entries()) {
    const workload = DEMO_WORKLOADS[p.name] ?? p.name;
    const ref = await cluster.deployment(DEMO_NAMESPACE, workload, { 'app.kubernetes.io/name': workload });
    const pod = `${ref.replicaSet}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    await cluster.pod({
      namespace: DEMO_NAMESPACE,
      name: pod,
      nodeName,
      ip: p.address,
      owner: ref,
      labels: { 'app.kubernetes.io/name': workload },
    });
    if (p.port !== null) await cluster.service(DEMO_NAMESPACE, workload, `10.96.100.${10 + i}`, p.port);
    registered.push({ pod, workload, address: p.address });
  }
  return registered;
}
