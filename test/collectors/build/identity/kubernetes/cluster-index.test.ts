/**
 * The decorator's index on objects shaped as the API server sends them: slim records
 * (kube-objects.ts), the service-name precedence, owners up to the workload, IP reuse, relists that
 * drop what is gone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterIndex } from '../../../../../collectors/build/identity/kubernetes/cluster-index.ts';
import {
  ownedRecord,
  type PodRecord,
  podRecord,
  serviceRecord,
} from '../../../../../collectors/build/identity/kubernetes/kube-objects.ts';

const NODE = 'node-a';
const ID = 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00';

function pod(
  name: string,
  uid: string,
  ip: string,
  extra: { labels?: object; annotations?: object; owner?: object; node?: string; hostNetwork?: boolean } = {},
): PodRecord {
  const raw = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'shop',
      uid,
      resourceVersion: '42',
      labels: extra.labels ?? {},
      annotations: extra.annotations ?? {},
      ownerReferences:
        extra.owner === undefined ? [] : [{ apiVersion: 'apps/v1', controller: true, ...extra.owner }],
      managedFields: [{ manager: 'kubectl', fieldsV1: { 'f:spec': {} } }],
    },
    spec: {
      nodeName: extra.node ?? NODE,
      hostNetwork: extra.hostNetwork ?? false,
      containers: [{ name: 'app' }],
    },
    status: {
      podIP: ip,
      podIPs: [{ ip }],
      containerStatuses: [{ name: 'app', containerID: `containerd://${ID}`, ready: true }],
    },
  };
  const record = podRecord(raw, (n) => n === NODE);
  assert.ok(record !== null);
  return record;
}

describe('slim records', () => {
  it('keep only the fields used; containers only for this node', () => {
    const local = pod('orders-1', 'u1', '10.9.0.2');
    assert.deepEqual(local.containers, new Map([[ID, 'app']]));
    assert.equal(pod('orders-2', 'u2', '10.9.0.3', { node: 'node-b' }).containers, null);
    assert.ok(!('managedFields' in local) && !('spec' in local));
  });

  it('unreadable objects are null, headless Services have no ClusterIP', () => {
    assert.equal(
      podRecord({ metadata: { name: 'x' } }, () => true),
      null,
    );
    assert.equal(ownedRecord({}), null);
    assert.deepEqual(
      serviceRecord({ metadata: { name: 'db', namespace: 'shop' }, spec: { clusterIP: 'None' } }),
      {
        name: 'db',
        namespace: 'shop',
        clusterIps: [],
      },
    );
  });
});

describe('ClusterIndex', () => {
  it('service.name: annotation, then app.kubernetes.io/name, then the workload, then the pod', () => {
    const index = new ClusterIndex();
    index.replicaSets.replace([
      ownedRecord({
        metadata: {
          name: 'orders-7d9f8b6c5',
          namespace: 'shop',
          uid: 'rs1',
          ownerReferences: [{ kind: 'Deployment', name: 'orders', uid: 'd1', controller: true }],
        },
      })!,
    ]);
    const owner = { kind: 'ReplicaSet', name: 'orders-7d9f8b6c5', uid: 'rs1' };
    index.pods.replace([
      pod('a', 'ua', '10.9.0.2', {
        owner,
        labels: { 'app.kubernetes.io/name': 'orders-label' },
        annotations: { 'resource.opentelemetry.io/service.name': 'orders-api' },
      }),
      pod('b', 'ub', '10.9.0.3', { owner, labels: { 'app.kubernetes.io/name': 'orders-label' } }),
      pod('c', 'uc', '10.9.0.4', { owner }),
      pod('d', 'ud', '10.9.0.5'),
    ]);
    assert.equal(index.byPodUid('ua', ID)?.service, 'orders-api');
    assert.equal(index.byPodUid('ub', ID)?.service, 'orders-label');
    assert.deepEqual(index.byPodUid('uc', ID), {
      namespace: 'shop',
      pod: 'c',
      podUid: 'uc',
      container: 'app',
      workload: 'orders',
      workloadKind: 'Deployment',
      service: 'orders',
    });
    assert.equal(index.byPodIp('10.9.0.5')?.service, 'd');
    assert.equal(index.byPodUid('nope', null), null);
    assert.deepEqual(index.lookups.pod_uid, { hit: 3, miss: 1 });
  });

  it('owners: StatefulSet and DaemonSet directly, Job → CronJob, a ReplicaSet not cached yet by its hash', () => {
    const index = new ClusterIndex();
    index.jobs.upsert(
      ownedRecord({
        metadata: {
          name: 'report-28999',
          namespace: 'shop',
          uid: 'j1',
          ownerReferences: [{ kind: 'CronJob', name: 'report', uid: 'cj1', controller: true }],
        },
      })!,
    );
    const cases: Array<[object, object, string, string]> = [
      [{ kind: 'StatefulSet', name: 'db', uid: 's1' }, {}, 'db', 'StatefulSet'],
      [{ kind: 'DaemonSet', name: 'agent', uid: 'ds1' }, {}, 'agent', 'DaemonSet'],
      [{ kind: 'Job', name: 'report-28999', uid: 'j1' }, {}, 'report', 'CronJob'],
      [{ kind: 'Job', name: 'once', uid: 'j2' }, {}, 'once', 'Job'],
      [
        { kind: 'ReplicaSet', name: 'web-5c9d8', uid: 'rs9' },
        { 'pod-template-hash': '5c9d8' },
        'web',
        'Deployment',
      ],
      [{ kind: 'ReplicaSet', name: 'bare', uid: 'rs8' }, {}, 'bare', 'ReplicaSet'],
    ];
    for (const [i, [owner, labels, workload, kind]] of cases.entries()) {
      index.pods.upsert(pod(`p${i}`, `u${i}`, `10.9.1.${i + 2}`, { owner, labels }));
      const found = index.byPodUid(`u${i}`, null);
      assert.equal(found?.workload, workload, JSON.stringify(owner));
      assert.equal(found?.workloadKind, kind);
      assert.equal(found?.service, workload);
    }
  });

  it('peers: a pod IP, else a Service ClusterIP; host-network pods are not looked up by IP', () => {
    const index = new ClusterIndex();
    index.services.replace([
      serviceRecord({
        metadata: { name: 'orders', namespace: 'shop' },
        spec: { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'] },
      })!,
    ]);
    index.pods.replace([
      pod('a', 'ua', '10.9.0.2'),
      pod('node-agent', 'uh', '192.0.2.1', { hostNetwork: true }),
    ]);
    assert.equal((index.peer('10.9.0.2') as { pod: string }).pod, 'a');
    assert.deepEqual(index.peer('10.96.0.10'), { service: 'orders', namespace: 'shop' });
    assert.equal(index.peer('192.0.2.1'), null);
    assert.equal(index.hasPodIp('10.9.0.2'), true);
  });

  it('an IP taken over by a new pod survives the old pod’s late deletion; a relist drops what is gone', () => {
    const index = new ClusterIndex();
    const old = pod('old', 'u-old', '10.9.0.7');
    index.pods.upsert(old);
    index.pods.upsert(pod('new', 'u-new', '10.9.0.7'));
    index.pods.remove(old);
    assert.equal(index.byPodIp('10.9.0.7')?.pod, 'new');
    index.pods.replace([pod('other', 'u-other', '10.9.0.8')]);
    assert.equal(index.byPodIp('10.9.0.7'), null);
    assert.deepEqual(index.sizes(), { pods: 1, services: 0, replicasets: 0, jobs: 0 });
  });

  it('a relabelled pod is named by its new labels', () => {
    const index = new ClusterIndex();
    index.pods.upsert(pod('a', 'ua', '10.9.0.2', { labels: { 'app.kubernetes.io/name': 'v1' } }));
    index.pods.upsert(pod('a', 'ua', '10.9.0.2', { labels: { 'app.kubernetes.io/name': 'v2' } }));
    assert.equal(index.byPodIp('10.9.0.2')?.service, 'v2');
  });
});
