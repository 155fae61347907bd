/**
 * The Helm chart, checked with the real helm (built from Go modules by scripts/setup) and offline
 * schema validation (kubernetes-validate from PyPI): lint, render with defaults and with every option
 * on, validate each core object against the Kubernetes API schemas, and check what the chart promises —
 * least-privilege RBAC identical to infra/kubernetes, a token for the collector only, Pod Security
 * labels, KEDA owning replicas without a second broker list, a scrape plan that counts nothing twice,
 * rules and dashboards that are infra/'s own, runbook links that exist.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { resolveCollectorConfig } from '../../collectors/config.ts';
import { loadConfig } from '../../lib/config/load.ts';
import { helmBinary, LOCAL_DIR, PROJECT_ROOT } from '../../lib/paths.ts';
import { BUILTIN_PROCESSORS, loadProcessor } from '../../processors/runtime/registry.ts';
import { TOPICS, type TopicId } from '../../schemas/topics.ts';
import { assertRealCommand } from '../helpers/meshpipe-command.ts';
import { checkComponentSections, withoutPendingKeys } from '../helpers/shipped-config.ts';

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are checked structurally
type K8s = any;

const CHART = join(PROJECT_ROOT, 'charts', 'meshpipe');
const HELM = helmBinary();
const VALIDATE = join(LOCAL_DIR, 'python-tools', 'bin', 'kubernetes-validate');
/** The Kubernetes version templates render for (helm's built-in default is older than the chart's minimum). */
const KUBE_VERSION = '1.37.0';
const CRD_KINDS = new Set([
  'ScaledObject',
  'TriggerAuthentication',
  'ServiceMonitor',
  'PodMonitor',
  'PrometheusRule',
]);
const EVERYTHING = [
  'keda.enabled=true',
  'serviceMonitor.enabled=true',
  'prometheusRule.enabled=true',
  'prometheusRule.runbookBaseUrl=https://docs.example/meshpipe/',
  'grafana.dashboards.enabled=true',
  'sinks.otlp.enabled=true',
  'sinks.otlp.endpoint=http://tempo-distributor.observability:4317',
  'sinks.alerts.enabled=true',
];

function helm(args: string[]): string {
  const r = spawnSync(HELM, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `helm ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

function render(sets: string[] = []): K8s[] {
  const out = helm([
    'template',
    'meshpipe',
    CHART,
    '--namespace',
    'meshpipe',
    '--kube-version',
    KUBE_VERSION,
    ...sets.flatMap((s) => ['--set', s]),
  ]);
  const docs = parseAllDocuments(out);
  for (const d of docs) assert.deepEqual(d.errors, [], d.errors.join('; '));
  return docs.map((d) => d.toJS()).filter((d) => d !== null);
}

function kustomize(file: string): K8s[] {
  return parseAllDocuments(readFileSync(join(PROJECT_ROOT, 'infra', 'kubernetes', file), 'utf8'))
    .map((d) => d.toJS())
    .filter((d) => d !== null);
}

const workloadsOf = (docs: K8s[]) => docs.filter((d) => d.kind === 'Deployment' || d.kind === 'DaemonSet');
const named = (docs: K8s[], kind: string, name: string) =>
  docs.find((d) => d.kind === kind && d.metadata.name === name);

describe('charts/meshpipe', {
  skip: existsSync(HELM) ? false : `no helm at ${HELM} (scripts/setup builds it)`,
}, () => {
  it('passes helm lint, with defaults and with every option on', () => {
    helm(['lint', CHART, '--namespace', 'meshpipe']);
    helm(['lint', CHART, '--namespace', 'meshpipe', ...EVERYTHING.flatMap((s) => ['--set', s])]);
  });

  it('renders objects that validate against the Kubernetes API schemas', {
    skip: existsSync(VALIDATE) ? false : 'no kubernetes-validate',
  }, () => {
    const docs = render(EVERYTHING);
    const core = docs.filter((d) => !CRD_KINDS.has(d.kind));
    const file = join(mkdtempSync(join(tmpdir(), 'meshpipe-chart-')), 'rendered.yaml');
    writeFileSync(file, core.map((d) => JSON.stringify(d)).join('\n---\n'));
    const r = spawnSync(VALIDATE, ['--strict', '--quiet', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, `kubernetes-validate:\n${r.stdout}${r.stderr}`);
    // The custom resources: the fields their operators read.
    for (const d of docs.filter((x) => CRD_KINDS.has(x.kind))) {
      assert.match(d.apiVersion, /^(keda\.sh|monitoring\.coreos\.com)\/v1(alpha1)?$/, d.kind);
      assert.ok(
        d.metadata.name && d.metadata.namespace === 'meshpipe' && d.spec,
        `${d.kind} ${d.metadata.name}`,
      );
    }
  });

  it('infra/kubernetes (kustomize) validates against the same schemas', {
    skip: existsSync(VALIDATE) ? false : 'no kubernetes-validate',
  }, () => {
    const files = [
      'namespace.yaml',
      'config.yaml',
      'collector-rbac.yaml',
      'collector.yaml',
      'processors.yaml',
      'sinks.yaml',
    ];
    const docs = files.flatMap((f) => kustomize(f));
    const file = join(mkdtempSync(join(tmpdir(), 'meshpipe-kustomize-')), 'all.yaml');
    writeFileSync(file, docs.map((d) => JSON.stringify(d)).join('\n---\n'));
    const r = spawnSync(VALIDATE, ['--strict', '--quiet', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, `kubernetes-validate:\n${r.stdout}${r.stderr}`);
  });

  it('every container runs a real meshpipe command; the rendered meshpipe.json passes validation', async () => {
    const docs = render(EVERYTHING);
    for (const w of workloadsOf(docs)) {
      for (const c of w.spec.template.spec.containers) await assertRealCommand(c.args, w.metadata.name);
    }
    for (const name of BUILTIN_PROCESSORS) assert.ok(named(docs, 'Deployment', `meshpipe-${name}`), name);
    const json = withoutPendingKeys(
      JSON.parse(named(docs, 'ConfigMap', 'meshpipe-config').data['meshpipe.json']),
    );
    const dir = mkdtempSync(join(tmpdir(), 'meshpipe-chart-'));
    writeFileSync(join(dir, 'meshpipe.json'), JSON.stringify(json));
    const env = named(docs, 'ConfigMap', 'meshpipe-kafka').data;
    const { config } = loadConfig({
      file: join(dir, 'meshpipe.json'),
      env: { ...env, MESHPIPE_KAFKA_SASL_MECHANISM: 'scram-sha-512' },
    });
    await checkComponentSections(config, env);
    assert.deepEqual(config.kafka.brokers, ['kafka-bootstrap.kafka.svc:9093']);
    assert.equal(config.kafka.ssl, true, 'TLS to the brokers by default');
    assert.equal(resolveCollectorConfig(config, env).kubernetes.enabled, 'auto');
  });

  it('asks for read-only RBAC on what the decorator watches, the same as infra/kubernetes; a token for the collector only', () => {
    const docs = render();
    const role = docs.find((d) => d.kind === 'ClusterRole');
    const shipped = kustomize('collector-rbac.yaml').find((d) => d.kind === 'ClusterRole');
    assert.deepEqual(role.rules, shipped.rules);
    for (const rule of role.rules) assert.deepEqual(rule.verbs, ['get', 'list', 'watch']);
    for (const w of workloadsOf(docs)) {
      const automount = w.spec.template.spec.automountServiceAccountToken;
      assert.equal(automount, w.kind === 'DaemonSet', `${w.metadata.name}: automountServiceAccountToken`);
    }
    const ns = docs.find((d) => d.kind === 'Namespace');
    assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'privileged');
    assert.equal(
      kustomize('namespace.yaml')[0].metadata.labels['pod-security.kubernetes.io/enforce'],
      'privileged',
    );
  });

  it('deploys what infra/kubernetes deploys, with the same commands', () => {
    const chart = workloadsOf(render(EVERYTHING));
    const base = ['collector.yaml', 'processors.yaml', 'sinks.yaml'].flatMap((f) =>
      workloadsOf(kustomize(f)),
    );
    const commands = (ws: K8s[]) =>
      Object.fromEntries(ws.map((w) => [w.metadata.name, w.spec.template.spec.containers[0].args.join(' ')]));
    assert.deepEqual(commands(chart), commands(base));
  });

  it('KEDA owns the processors’ replicas, reads the one broker list, authenticates, and keeps clock-driven processors up', async () => {
    const docs = render(EVERYTHING);
    const scaled = docs.filter((d) => d.kind === 'ScaledObject');
    assert.equal(scaled.length, BUILTIN_PROCESSORS.length);
    for (const so of scaled) {
      const target = named(docs, 'Deployment', so.spec.scaleTargetRef.name);
      assert.equal(target.spec.replicas, undefined, `${target.metadata.name} sets no replicas`);
      const trigger = so.spec.triggers[0];
      assert.equal(trigger.metadata.bootstrapServers, undefined);
      assert.equal(trigger.metadata.bootstrapServersFromEnv, 'MESHPIPE_KAFKA_BROKERS');
      assert.ok(
        target.spec.template.spec.containers[0].envFrom.some(
          (e: K8s) => e.configMapRef?.name === 'meshpipe-kafka',
        ),
        'the variable is in the target’s environment',
      );
      assert.equal(trigger.authenticationRef.name, 'meshpipe-kafka');
      const name = so.metadata.name.replace(/^meshpipe-/, '');
      const { definition } = await loadProcessor(name);
      const input = definition.inputs[0]!;
      const suffix = typeof input === 'string' ? TOPICS[input as TopicId].suffix : input.suffix;
      assert.equal(
        trigger.metadata.topic,
        `meshpipe.${suffix}`,
        `${so.metadata.name} watches its real input`,
      );
      assert.equal(trigger.metadata.consumerGroup, `meshpipe-${name}`);
      const clockDriven = ['meshpipe-red-metrics', 'meshpipe-anomaly-detector'].includes(so.metadata.name);
      assert.equal(so.spec.minReplicaCount >= 1, clockDriven, `${so.metadata.name} minReplicaCount`);
    }
    const auth = docs.find((d) => d.kind === 'TriggerAuthentication');
    const params = auth.spec.secretTargetRef.map((r: K8s) => r.parameter).sort();
    assert.deepEqual(params, ['ca', 'password', 'sasl', 'tls', 'username']);
    assert.equal(render().filter((d) => d.kind === 'ScaledObject').length, 0);
    assert.equal(named(render(), 'Deployment', 'meshpipe-span-assembler').spec.replicas, 2);
  });

  it('scrapes each series once: meshpipe_* from the sink only, process metrics from the components', () => {
    const docs = render(EVERYTHING);
    const sm = docs.find((d) => d.kind === 'ServiceMonitor');
    assert.deepEqual(sm.spec.selector.matchLabels, { 'app.kubernetes.io/name': 'meshpipe-sink-prometheus' });
    const pm = docs.find((d) => d.kind === 'PodMonitor');
    assert.deepEqual(pm.spec.selector.matchExpressions[0].values, ['collector', 'processor']);
    assert.deepEqual(pm.spec.podMetricsEndpoints[0].metricRelabelings, [
      { sourceLabels: ['__name__'], regex: '(process|nodejs)_.*', action: 'keep' },
    ]);
    // No annotation-based scraping of the components beside it.
    for (const w of workloadsOf(docs)) {
      const annotations = w.spec.template.metadata.annotations ?? {};
      assert.equal(annotations['prometheus.io/scrape'], undefined, w.metadata.name);
    }
    for (const w of ['collector.yaml', 'processors.yaml'].flatMap((f) => workloadsOf(kustomize(f)))) {
      assert.equal(
        w.spec.template.metadata.annotations?.['prometheus.io/scrape'],
        undefined,
        w.metadata.name,
      );
    }
  });

  it('processors and sinks join their groups as static members named after their pods, as infra/kubernetes does', () => {
    const memberIds = (ws: K8s[]) =>
      Object.fromEntries(
        ws
          .filter((w) => ['processor', 'sink'].includes(w.metadata.labels['app.kubernetes.io/component']))
          .map((w) => {
            const env = w.spec.template.spec.containers[0].env as K8s[];
            return [w.metadata.name, env.find((e) => e.name === 'MESHPIPE_INSTANCE_ID')?.valueFrom];
          }),
      );
    const chart = memberIds(workloadsOf(render(EVERYTHING)));
    // Every one: the root filesystem is read-only, which leaves no /tmp for lib/instance-slot.ts.
    assert.equal(Object.keys(chart).length, BUILTIN_PROCESSORS.length + 3);
    for (const [name, from] of Object.entries(chart))
      assert.deepEqual(from, { fieldRef: { fieldPath: 'metadata.name' } }, name);
    const base = memberIds(['processors.yaml', 'sinks.yaml'].flatMap((f) => workloadsOf(kustomize(f))));
    assert.deepEqual(chart, base);
  });

  it('health probes on the OTLP and alerts sinks', () => {
    const docs = render(EVERYTHING);
    for (const name of ['meshpipe-sink-otlp', 'meshpipe-sink-alerts']) {
      const c = named(docs, 'Deployment', name).spec.template.spec.containers[0];
      assert.equal(c.livenessProbe.httpGet.path, '/healthz');
      assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    }
  });

  it('PrometheusRules are infra/prometheus/rules; SLO burn alerts only as the opt-in alternative; runbook links exist', () => {
    const docs = render(EVERYTHING);
    const rules = docs.filter((d) => d.kind === 'PrometheusRule');
    assert.deepEqual(rules.map((r) => r.metadata.name).sort(), ['meshpipe-alerts', 'meshpipe-red']);
    const withSlo = render([...EVERYTHING, 'prometheusRule.sloBurnAlerts=true']).filter(
      (d) => d.kind === 'PrometheusRule',
    );
    assert.equal(withSlo.length, 3);
    const runbooks = readFileSync(join(PROJECT_ROOT, 'docs', 'runbooks.md'), 'utf8');
    for (const r of withSlo) {
      const file = parseYaml(
        readFileSync(
          join(PROJECT_ROOT, 'infra', 'prometheus', 'rules', `${r.metadata.name}.rules.yml`),
          'utf8',
        ),
      );
      assert.deepEqual(
        r.spec.groups.map((g: K8s) => g.rules.map((x: K8s) => x.expr)),
        file.groups.map((g: K8s) => g.rules.map((x: K8s) => x.expr)),
      );
      for (const rule of r.spec.groups.flatMap((g: K8s) => g.rules).filter((x: K8s) => x.alert)) {
        const url: string = rule.annotations.runbook_url;
        assert.ok(url.startsWith('https://docs.example/meshpipe/docs/runbooks.md#'), `${rule.alert}: ${url}`);
        const anchor = url.slice(url.indexOf('#') + 1);
        assert.ok(
          runbooks.includes(`\n## ${anchor}\n`),
          `${rule.alert}: docs/runbooks.md has no section ${anchor}`,
        );
      }
    }
  });

  it('Grafana dashboards as ConfigMaps for the sidecar; no default datasource is imposed', () => {
    const docs = render(EVERYTHING);
    const maps = docs.filter((d) => d.kind === 'ConfigMap' && d.metadata.labels?.grafana_dashboard === '1');
    const files = readdirSync(join(PROJECT_ROOT, 'infra', 'grafana', 'dashboards')).filter((f) =>
      f.endsWith('.json'),
    );
    assert.equal(maps.length, files.length);
    for (const f of files) {
      const map = maps.find((m) => m.data[f] !== undefined);
      assert.ok(map, f);
      const dashboard = JSON.parse(map.data[f]);
      assert.deepEqual(
        dashboard,
        JSON.parse(readFileSync(join(PROJECT_ROOT, 'infra', 'grafana', 'dashboards', f), 'utf8')),
      );
      const variables = dashboard.templating.list
        .filter((v: K8s) => v.type === 'datasource')
        .map((v: K8s) => v.query);
      assert.ok(variables.includes('prometheus'), `${f}: a Prometheus datasource variable`);
    }
    const provisioning = readFileSync(
      join(PROJECT_ROOT, 'infra', 'grafana', 'provisioning', 'datasources', 'meshpipe.yml'),
      'utf8',
    );
    assert.doesNotMatch(provisioning, /isDefault:\s*true/);
  });
});
