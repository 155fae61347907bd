/**
 * The deployment files cannot be applied here (no cluster, no Docker engine), so this checks what can
 * be checked without one: every manifest parses, every command a container runs is a real `meshpipe`
 * command with real flags, the shipped configuration passes meshpipe's own validation, the collector
 * asks for exactly the capabilities the capture needs, and every processor the CLI knows is deployed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../lib/config/load.ts';
import { PROJECT_ROOT } from '../../lib/paths.ts';
import { BUILTIN_PROCESSORS, loadProcessor } from '../../processors/runtime/registry.ts';
import { TOPICS, type TopicId } from '../../schemas/topics.ts';
import { BUILTIN_SINKS } from '../../sinks/builtin-sinks.ts';
import { assertRealCommand } from '../helpers/meshpipe-command.ts';
import { checkComponentSections, withoutPendingKeys } from '../helpers/shipped-config.ts';

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are checked structurally
type K8s = any;

const K8S_DIR = join(PROJECT_ROOT, 'infra', 'kubernetes');

function load(file: string): K8s[] {
  const docs = parseAllDocuments(readFileSync(join(file), 'utf8'));
  for (const d of docs) assert.deepEqual(d.errors, [], `${file}: ${d.errors.join('; ')}`);
  return docs.map((d) => d.toJS()).filter((d) => d !== null);
}

const manifests = [
  'namespace.yaml',
  'config.yaml',
  'collector-rbac.yaml',
  'collector.yaml',
  'processors.yaml',
  'sinks.yaml',
  'keda.yaml',
  'monitoring.yaml',
].flatMap((f) => load(join(K8S_DIR, f)).map((doc) => ({ file: f, doc })));
const workloads = manifests.filter(({ doc }) => doc.kind === 'Deployment' || doc.kind === 'DaemonSet');

describe('Kubernetes manifests', () => {
  it('parse, and every container runs a real meshpipe command with valid flags', async () => {
    assert.ok(workloads.length >= 8);
    for (const { file, doc } of workloads) {
      for (const c of doc.spec.template.spec.containers) {
        assert.equal(c.image.split(':')[0], 'meshpipe', `${file} ${doc.metadata.name}`);
        await assertRealCommand(c.args, `${file} ${doc.metadata.name}`);
        const env = Object.fromEntries((c.env ?? []).map((e: K8s) => [e.name, e.value]));
        assert.equal(
          env.MESHPIPE_CONFIG,
          '/etc/meshpipe/meshpipe.json',
          `${doc.metadata.name} reads the ConfigMap`,
        );
        assert.ok(
          c.volumeMounts.some((m: K8s) => m.mountPath === '/etc/meshpipe/meshpipe.json'),
          `${doc.metadata.name} mounts it`,
        );
      }
      assert.deepEqual(
        doc.spec.selector.matchLabels,
        { 'app.kubernetes.io/name': doc.metadata.name },
        `${doc.metadata.name} selector`,
      );
      assert.equal(doc.spec.template.metadata.labels['app.kubernetes.io/name'], doc.metadata.name);
    }
  });

  it('the shipped meshpipe.json passes meshpipe’s own validation', async () => {
    const config = manifests.find(({ doc }) => doc.metadata.name === 'meshpipe-config')!.doc;
    const env = manifests.find(({ doc }) => doc.metadata.name === 'meshpipe-kafka')!.doc.data;
    const dir = mkdtempSync(join(tmpdir(), 'meshpipe-k8s-'));
    writeFileSync(
      join(dir, 'meshpipe.json'),
      JSON.stringify(withoutPendingKeys(JSON.parse(config.data['meshpipe.json']))),
    );
    const { config: parsed } = loadConfig({ file: join(dir, 'meshpipe.json'), env });
    await checkComponentSections(parsed, env);
    assert.deepEqual(
      parsed.kafka.brokers,
      ['kafka-bootstrap.kafka.svc:9093'],
      'brokers from the meshpipe-kafka ConfigMap',
    );
    assert.equal(parsed.kafka.saslMechanism, 'scram-sha-512');
  });

  it('deploys every built-in processor', () => {
    for (const name of BUILTIN_PROCESSORS) {
      const deployment = workloads.find(({ doc }) => doc.metadata.name === `meshpipe-${name}`);
      assert.ok(deployment, `no Deployment for processor ${name}`);
      const c = deployment.doc.spec.template.spec.containers[0];
      assert.deepEqual(c.args.slice(0, 2), ['process', name]);
      assert.ok(
        deployment.doc.spec.template.spec.terminationGracePeriodSeconds >= 30,
        'time to commit and leave the group',
      );
    }
  });

  it('every processor and sink joins its group as a static member named after its pod', () => {
    const members = workloads.filter(({ file }) => file === 'processors.yaml' || file === 'sinks.yaml');
    assert.equal(members.length, BUILTIN_PROCESSORS.length + BUILTIN_SINKS.length);
    for (const { doc } of members) {
      const c = doc.spec.template.spec.containers[0];
      // From the downward API: the read-only root filesystem leaves no /tmp for lib/instance-slot.ts.
      assert.ok(c.securityContext.readOnlyRootFilesystem, doc.metadata.name);
      const id = c.env.find((e: K8s) => e.name === 'MESHPIPE_INSTANCE_ID');
      assert.equal(id?.valueFrom?.fieldRef?.fieldPath, 'metadata.name', doc.metadata.name);
    }
  });

  it('gives the collector exactly the capabilities the capture needs, unprivileged', () => {
    const ds = workloads.find(({ doc }) => doc.kind === 'DaemonSet')!.doc;
    const c = ds.spec.template.spec.containers[0];
    assert.equal(ds.spec.template.spec.hostPID, true);
    assert.equal(c.securityContext.privileged, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    assert.deepEqual([...c.securityContext.capabilities.add].sort(), [
      'BPF',
      'DAC_READ_SEARCH',
      'NET_ADMIN',
      'PERFMON',
      'SYS_PTRACE',
      'SYS_RESOURCE',
    ]);
    assert.ok(c.volumeMounts.some((m: K8s) => m.mountPath === '/sys/kernel/tracing'));
    const nodeName = c.env.find((e: K8s) => e.name === 'MESHPIPE_NODE_NAME');
    assert.equal(nodeName.valueFrom.fieldRef.fieldPath, 'spec.nodeName');
  });

  it('scales processors on the lag of their real consumer group and input topic', async () => {
    const scaled = manifests.filter(({ doc }) => doc.kind === 'ScaledObject');
    assert.ok(scaled.length > 0);
    for (const { doc } of scaled) {
      const target = workloads.find((w) => w.doc.metadata.name === doc.spec.scaleTargetRef.name)!.doc;
      assert.equal(
        target.spec.replicas,
        undefined,
        `${target.metadata.name}: the ScaledObject owns replicas`,
      );
      assert.equal(doc.spec.triggers[0].metadata.bootstrapServers, undefined, 'no second broker list');
      assert.equal(doc.spec.triggers[0].metadata.bootstrapServersFromEnv, 'MESHPIPE_KAFKA_BROKERS');
      assert.equal(doc.spec.triggers[0].authenticationRef.name, 'meshpipe-kafka');
      if (doc.metadata.name === 'meshpipe-red-metrics')
        assert.ok(doc.spec.minReplicaCount >= 1, 'red-metrics flushes on its clock');
      const name = doc.spec.scaleTargetRef.name.replace(/^meshpipe-/, '');
      assert.ok(BUILTIN_PROCESSORS.includes(name), `${doc.metadata.name} scales an unknown processor`);
      const { definition } = await loadProcessor(name);
      const trigger = doc.spec.triggers[0].metadata;
      assert.equal(trigger.consumerGroup, `meshpipe-${name}`);
      const input = definition.inputs[0]!;
      const suffix = typeof input === 'string' ? TOPICS[input as TopicId].suffix : input.suffix;
      assert.equal(trigger.topic, `meshpipe.${suffix}`);
    }
  });
});

describe('docker compose file', () => {
  it('parses, and every meshpipe service runs a real command', async () => {
    const [compose] = load(join(PROJECT_ROOT, 'infra', 'compose', 'compose.yaml'));
    for (const [name, service] of Object.entries(compose.services as Record<string, K8s>)) {
      if (service.image !== 'meshpipe:0.1.0') continue;
      await assertRealCommand(service.command, `compose service ${name}`);
    }
    for (const name of BUILTIN_PROCESSORS) assert.ok(compose.services[name], `compose runs ${name}`);
  });
});
