/**
 * `meshpipe demo --kubernetes`, minus the CLI: the demo topology with load, its pods registered in a
 * real kube-apiserver (demo/kubernetes-cluster.ts, through cli/local-kubernetes.ts with the shipped
 * RBAC), and the collector naming every captured side from the API server: namespace `shop`, the
 * Deployment, the pod, and the peer.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startLocalKubernetes } from '../../cli/local-kubernetes.ts';
import { kubeApiServerBinaries, type LocalKubeApi } from '../../cli/stack/kube-apiserver.ts';
import type { Collector } from '../../collectors/collector.ts';
import { DEMO_NAMESPACE, KubernetesCluster, registerDemoPods } from '../../demo/kubernetes-cluster.ts';
import { SERVICE_PORT } from '../../demo/layout.ts';
import { type Demo, startDemo } from '../../demo/topology.ts';
import { type TestKafka, testKafka, testLogger } from '../../testkit/kafka.ts';
import { collectorConfig, RawTopicReader, startCollector } from '../collectors/helpers/harness.ts';

const LOADER = fileURLToPath(new URL('../../bpf/build/meshpipe-loader', import.meta.url));
const SKIP =
  process.getuid?.() !== 0
    ? 'needs root'
    : !existsSync(LOADER)
      ? 'the eBPF loader is not built'
      : kubeApiServerBinaries() === null
        ? 'kube-apiserver is not built (scripts/setup)'
        : false;

describe('demo --kubernetes', { skip: SKIP }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshpipe-demo-kube-'));
  const node = 'demo-node';
  let kube: LocalKubeApi;
  let demo: Demo;
  let k: TestKafka;
  let collector: Collector;
  let reader: RawTopicReader;
  let registered: Awaited<ReturnType<typeof registerDemoPods>>;

  before(async () => {
    kube = await startLocalKubernetes(join(dir, 'kube'));
    k = await testKafka('demo-kubernetes');
    await k.createTopics();
    const config = collectorConfig({
      brokers: k.brokers,
      prefix: k.prefix,
      node,
      collector: { ports: [SERVICE_PORT], kubernetes: { kubeconfig: kube.kubeconfigs.collector } },
    });
    collector = (await startCollector(config)).collector;
    reader = await RawTopicReader.start(k.kafka, k.topic('raw'));
    demo = await startDemo({ rate: 5, unique: true, handleSignals: false, logger: testLogger });
    registered = await registerDemoPods(new KubernetesCluster(kube.kubeconfigs.admin), demo.pods, node);
  });

  after(async () => {
    await demo?.stop();
    await reader?.stop();
    await collector?.stop();
    await k?.cleanup();
    await kube?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names every demo service, its Deployment, pod and peers from the API server', {
    timeout: 120_000,
  }, async () => {
    const mine = new Set(demo.pods.map((p) => p.address));
    const named = (service: string) =>
      reader.events(
        (e) =>
          mine.has(e.connection.localAddress) &&
          e.workload.service === service &&
          e.workload.namespace === DEMO_NAMESPACE &&
          e.peer !== null,
      );
    const events = await reader
      .waitFor(
        'events of gateway, orders and inventory named from the API server',
        () => {
          const all = ['gateway', 'orders', 'inventory', 'load-generator'].map((s) => named(s));
          // The orders service's client side calls inventory: its peer is named too.
          const toInventory = all[1]!.some(
            (e) => e.connection.role === 'CLIENT' && e.peer?.service === 'inventory',
          );
          return all.every((e) => e.length > 0) && toInventory && all;
        },
        90_000,
      )
      .catch((err: Error) => {
        const seen = new Set(
          reader
            .events((e) => mine.has(e.connection.localAddress))
            .map(
              (e) =>
                `${e.workload.namespace}/${e.workload.service} pod=${e.workload.pod} peer=${e.peer?.service}`,
            ),
        );
        throw new Error(`${err.message}; seen: ${[...seen].join(', ') || 'no events'}`);
      });
    for (const [i, service] of ['gateway', 'orders', 'inventory', 'load-generator'].entries()) {
      const e = events[i]![0]!;
      const pod = registered.find((r) => r.workload === service)!;
      assert.equal(e.workload.pod, pod.pod);
      assert.equal(e.workload.workload, service);
      assert.equal(e.workload.workloadKind, 'Deployment');
      assert.match(e.workload.podUid ?? '', /^[0-9a-f-]{36}$/);
    }
  });
});
