/**
 * Kubernetes names end to end, against a real kube-apiserver and etcd (built from Go modules by
 * scripts/setup): Namespaces, Deployments with their ReplicaSets, and Pods whose status.podIP and
 * container id match real network namespaces and processes of this machine; real HTTP between them,
 * captured by real eBPF, assembled into spans and RED metrics by the real processors, served by the
 * Prometheus sink. The collector reads the API server as the user the shipped ClusterRole
 * (infra/kubernetes/collector-rbac.yaml) is bound to, so the RBAC is proven sufficient too.
 *
 * Then, mid-traffic: a pod is re-annotated (new service name), a pod is deleted and re-created under
 * a new name on the same address, etcd is compacted and the API server restarted (the watches resume,
 * relisting on 410 Gone), and the caches hold exactly the live objects afterwards.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import {
  kubeApiServerBinaries,
  type LocalKubeApi,
  startKubeApiServer,
} from '../../../../../cli/stack/kube-apiserver.ts';
import { findCgroup2Root } from '../../../../../collectors/build/identity/cgroup-directory.ts';
import { checkKubernetesAccess } from '../../../../../collectors/build/identity/kubernetes/api-access.ts';
import { loadKubeConfig } from '../../../../../collectors/build/identity/kubernetes/kubernetes-decorator.ts';
import type { Collector } from '../../../../../collectors/collector.ts';
import {
  KubernetesCluster,
  newContainerId,
  type WorkloadRef,
} from '../../../../../demo/kubernetes-cluster.ts';
import { PROJECT_ROOT } from '../../../../../lib/paths.ts';
import type { ProcessorHost } from '../../../../../processors/runtime/host.ts';
import { topicCodec } from '../../../../../schemas/topic-codec.ts';
import { TOPICS } from '../../../../../schemas/topics.ts';
import type { Span } from '../../../../../schemas/types.ts';
import type { RunningSink } from '../../../../../sinks/runtime/host.ts';
import { follow, type TestKafka, testKafka } from '../../../../../testkit/kafka.ts';
import { createPodPair, type PodPair, podExec } from '../../../../bpf/helpers/pods.ts';
import { freePort } from '../../../../helpers/prometheus.ts';
import { waitFor } from '../../../../helpers/wait.ts';
import { runHosts } from '../../../../processors/kafka-pipeline.ts';
import { prometheusSinkFor, redMetricsHost } from '../../../../processors/red-metrics/harness.ts';
import { collectorConfig, FIXTURES, startCollector, testPort } from '../../../helpers/harness.ts';

const LOADER = fileURLToPath(new URL('../../../../../bpf/build/meshpipe-loader', import.meta.url));
const SKIP =
  process.getuid?.() !== 0
    ? 'needs root (eBPF, network namespaces)'
    : !existsSync(LOADER)
      ? 'the eBPF loader is not built (scripts/setup)'
      : kubeApiServerBinaries() === null
        ? 'kube-apiserver is not built (scripts/setup builds it with Go)'
        : false;

const NODE = 'node-a';
const NS = 'shop';

/** A Prometheus text exposition's samples of one metric whose labels include `want`. */
function samples(text: string, metric: string, want: Record<string, string>): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const labels = line.slice(metric.length + 1, line.lastIndexOf('}'));
    if (Object.entries(want).every(([k, v]) => labels.includes(`${k}="${v}"`))) {
      out.push(Number(line.slice(line.lastIndexOf('}') + 2).split(' ')[0]));
    }
  }
  return out;
}

describe('Kubernetes decorator against a real kube-apiserver', { skip: SKIP }, () => {
  let kube: LocalKubeApi;
  let cluster: KubernetesCluster;
  let k: TestKafka;
  let pods: PodPair;
  let collector: Collector;
  let sink: RunningSink;
  let sinkAddress: string;
  let server: ChildProcess;
  let orders: WorkloadRef;
  let gateway: WorkloadRef;
  let cgroupDir: string | null = null;
  const hosts: ProcessorHost[] = [];
  const spans: Span[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'meshpipe-kube-'));
  const port = testPort();
  const containerId = newContainerId();
  const ordersPod = 'orders-pod-1';
  let consumerStop: () => Promise<void> = async () => {};

  before(async () => {
    kube = await startKubeApiServer(dir);
    cluster = new KubernetesCluster(kube.kubeconfigs.admin);
    const [role] = parseAllDocuments(
      readFileSync(join(PROJECT_ROOT, 'infra', 'kubernetes', 'collector-rbac.yaml'), 'utf8'),
    ).map((d) => d.toJS());
    await cluster.bindClusterRole(role, kube.collectorUser);
    await cluster.namespace(NS);
    orders = await cluster.deployment(NS, 'orders');
    gateway = await cluster.deployment(NS, 'gateway');
    await cluster.service(NS, 'orders', '10.96.0.50', port);

    pods = createPodPair('k8s');
    const ordersUid = await cluster.pod({
      namespace: NS,
      name: ordersPod,
      nodeName: NODE,
      ip: pods.b.addr,
      owner: orders,
      container: { name: 'server', id: containerId },
    });
    await cluster.pod({
      namespace: NS,
      name: 'gateway-pod-1',
      nodeName: NODE,
      ip: pods.a.addr,
      owner: gateway,
      labels: { 'app.kubernetes.io/name': 'gateway-web' },
    });

    // The server runs in the cgroup the kubelet and containerd would give it (systemd driver), so the
    // collector finds its pod by UID and its container by id; without a writable cgroup2 hierarchy it
    // is found by its address.
    const root = findCgroup2Root();
    if (root !== null) {
      const path = join(
        root,
        `meshpipe-test-${process.pid}.slice`,
        `kubepods-besteffort-pod${ordersUid.replaceAll('-', '_')}.slice`,
        `cri-containerd-${containerId}.scope`,
      );
      try {
        mkdirSync(path, { recursive: true });
        cgroupDir = path;
      } catch {
        cgroupDir = null;
      }
    }
    const enter = cgroupDir === null ? '' : `echo $$ > ${cgroupDir}/cgroup.procs && `;
    server = spawn(
      'sh',
      [
        '-c',
        `${enter}exec ip netns exec ${pods.b.ns} ${process.execPath} ${FIXTURES}http-server.ts ${pods.b.addr}:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    await waitFor('the server to listen', () => {
      output += server.stdout?.read()?.toString() ?? '';
      return output.includes('ready');
    });

    k = await testKafka('k8s-decorator');
    await k.createTopics();
    const config = collectorConfig({
      brokers: k.brokers,
      prefix: k.prefix,
      node: NODE,
      collector: { ports: [port], kubernetes: { kubeconfig: kube.kubeconfigs.collector } },
    });
    collector = (await startCollector(config)).collector;
    hosts.push(...(await runHosts(k.kafka, k.prefix)));
    const red = redMetricsHost(k);
    hosts.push(red);
    await red.start();
    sinkAddress = `127.0.0.1:${await freePort()}`;
    sink = await prometheusSinkFor(k, sinkAddress);

    const codec = topicCodec<Span>(TOPICS.spans);
    const consumer = await follow(k.kafka, {
      groupId: `${k.prefix}-reader`,
      topics: [k.topic('spans')],
      eachMessage: async ({ message }) => {
        spans.push(...codec.decodeRecord(message.value!));
      },
    });
    consumerStop = () => consumer.stop();
  });

  after(async () => {
    await consumerStop();
    server?.kill('SIGKILL');
    await collector?.stop();
    await Promise.allSettled(hosts.map((h) => h.stop()));
    await sink?.stop();
    await k?.cleanup();
    pods?.remove();
    if (cgroupDir !== null) {
      // Leaf first; the process is gone once killed.
      await waitFor(
        'the cgroup to empty',
        () => readFileSync(join(cgroupDir!, 'cgroup.procs'), 'utf8').trim() === '',
      );
      for (let d = cgroupDir, i = 0; i < 3; i++, d = join(d, '..')) rmdirSync(d);
    }
    await kube?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A few requests from the gateway pod to the orders pod, each curl its own connection. */
  async function traffic(): Promise<void> {
    const url = `http://${pods.b.addr}:${port}/hello`;
    await podExec(pods.a, 'curl', ['-s', '-o', '/dev/null', url, url]);
  }

  /** Drives traffic until a span satisfies `match`, and returns it. */
  async function spanWhere(what: string, match: (s: Span) => boolean): Promise<Span> {
    return waitFor(
      what,
      async () => {
        const found = spans.find(match);
        if (found === undefined) await traffic();
        return found;
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    );
  }

  async function collectorMetric(name: string, labels: Record<string, string>): Promise<number> {
    const values = samples(await collector.metrics.exposition(), name, labels);
    return values.reduce((a, b) => a + b, 0);
  }

  it('doctor: API access and RBAC, named precisely when missing', async () => {
    const allowed = await checkKubernetesAccess(
      loadKubeConfig({ kind: 'kubeconfig', path: kube.kubeconfigs.collector }),
    );
    assert.equal(allowed.status, 'ok', allowed.detail);
    const denied = await checkKubernetesAccess(
      loadKubeConfig({ kind: 'kubeconfig', path: kube.kubeconfigs.unprivileged }),
    );
    assert.equal(denied.status, 'fail');
    assert.match(denied.detail, /not allowed to list pods, watch pods, .*list apps\/replicasets/);
    assert.match(denied.fix ?? '', /collector-rbac\.yaml/);
  });

  it('spans, RED metrics and the service graph carry the pods’ Kubernetes names', {
    timeout: 240_000,
  }, async (t) => {
    const server = await spanWhere(
      'a SERVER span of orders',
      (s) => s.kind === 'SERVER' && s.local.service === 'orders' && s.peer.service === 'gateway-web',
    );
    assert.equal(server.local.namespace, NS);
    assert.equal(server.local.pod, ordersPod);
    assert.equal(server.local.workload, 'orders');
    assert.equal(server.local.workloadKind, 'Deployment');
    assert.match(server.local.podUid ?? '', /^[0-9a-f-]{36}$/);
    if (cgroupDir !== null) {
      assert.equal(server.local.container, 'server', 'container name from the cgroup’s container id');
      assert.equal(server.local.containerId, containerId);
    } else t.diagnostic('no writable cgroup2 hierarchy: the server pod was found by address');
    assert.equal(server.peer.pod, 'gateway-pod-1');
    assert.equal(server.peer.workload, 'gateway');

    const client = await spanWhere(
      'a CLIENT span of gateway-web',
      (s) => s.kind === 'CLIENT' && s.local.service === 'gateway-web' && s.peer.service === 'orders',
    );
    assert.equal(client.local.pod, 'gateway-pod-1');
    assert.equal(client.local.workload, 'gateway');
    assert.equal(client.peer.workloadKind, 'Deployment');
    assert.equal(client.peer.namespace, NS);

    const text = await waitFor(
      'RED metrics and the service graph with Kubernetes names',
      async () => {
        await traffic();
        const body = await (await fetch(`http://${sinkAddress}/metrics`)).text();
        const red = samples(body, 'http_server_request_duration_seconds_count', {
          service_name: 'orders',
          service_namespace: NS,
          k8s_deployment_name: 'orders',
        });
        const edge = samples(body, 'traces_service_graph_request_total', {
          client: 'gateway-web',
          server: 'orders',
        });
        return red.length > 0 && edge.length > 0 && body;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    assert.ok(
      samples(text, 'http_client_request_duration_seconds_count', {
        service_name: 'gateway-web',
        peer_service: 'orders',
      }).length > 0,
    );
  });

  it('follows pods relabelled, deleted and re-created mid-traffic', { timeout: 240_000 }, async () => {
    await cluster.relabelPod(NS, ordersPod, {
      annotations: { 'resource.opentelemetry.io/service.name': 'orders-api' },
    });
    await spanWhere(
      'orders named by its annotation',
      (s) => s.kind === 'SERVER' && s.local.service === 'orders-api',
    );

    await cluster.deletePod(NS, 'gateway-pod-1');
    await cluster.pod({
      namespace: NS,
      name: 'gateway-pod-2',
      nodeName: NODE,
      ip: pods.a.addr,
      owner: gateway,
      labels: { 'app.kubernetes.io/name': 'gateway-web' },
    });
    const client = await spanWhere(
      'the re-created gateway pod',
      (s) => s.kind === 'CLIENT' && s.local.pod === 'gateway-pod-2',
    );
    assert.equal(client.peer.service, 'orders-api');
  });

  it('resumes its watches after an API server restart, relisting on 410 Gone; nothing stale remains', {
    timeout: 240_000,
  }, async (t) => {
    const listsBefore = await collectorMetric('meshpipe_collector_kubernetes_lists_total', {
      resource: 'pods',
    });
    await kube.compact();
    await kube.restart();
    await cluster.relabelPod(NS, ordersPod, {
      annotations: { 'resource.opentelemetry.io/service.name': 'orders-v2' },
    });
    await spanWhere(
      'a change made after the restart',
      (s) => s.kind === 'SERVER' && s.local.service === 'orders-v2',
    );
    const restarts = await collectorMetric('meshpipe_collector_kubernetes_watch_restarts_total', {
      resource: 'pods',
    });
    const lists = await collectorMetric('meshpipe_collector_kubernetes_lists_total', { resource: 'pods' });
    t.diagnostic(`pods watch: ${restarts} restarts, ${lists - listsBefore} relists after the restart`);
    assert.ok(restarts > 0, 'the pods watch was re-established');
    const gone = await collectorMetric('meshpipe_collector_kubernetes_watch_restarts_total', {
      resource: 'pods',
      reason: 'gone',
    });
    assert.ok(
      gone > 0 && lists > listsBefore,
      'a watch from before the compaction got 410 Gone and relisted',
    );
    // Exactly the live objects: the deleted gateway pod is gone from every index.
    assert.equal(await collectorMetric('meshpipe_collector_kubernetes_objects', { resource: 'pods' }), 2);
    assert.equal(
      await collectorMetric('meshpipe_collector_kubernetes_objects', { resource: 'replicasets' }),
      2,
    );
    const services = (await cluster.core.listServiceForAllNamespaces()).items.length;
    assert.equal(
      await collectorMetric('meshpipe_collector_kubernetes_objects', { resource: 'services' }),
      services,
    );
  });
});
