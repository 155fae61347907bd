/**
 * `meshpipe demo`: the demo topology (demo/topology.ts) with steady load and a live status line, until
 * Ctrl-C or --duration; and `meshpipe demo fault`, which changes a running demo's faults from another
 * terminal through the services' admin API (the running demo publishes where that is in its claim record).
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { adminClient } from '../../demo/admin-client.ts';
import { readLivePrefix } from '../../demo/claims.ts';
import {
  describeFault,
  type Fault,
  mergeFault,
  NO_FAULT,
  parseFaultSetting,
  parseServiceFault,
} from '../../demo/fault.ts';
import { DEMO_NAMESPACE, KubernetesCluster, registerDemoPods } from '../../demo/kubernetes-cluster.ts';
import { isServiceName, SERVICES, type ServiceName } from '../../demo/layout.ts';
import { type StatusSummary, statusLine, summarize } from '../../demo/status.ts';
import { type Demo, type DemoDetails, type DemoStats, startDemo } from '../../demo/topology.ts';
import { reportStatus } from '../../lib/component-status.ts';
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { STACK_DIR } from '../../lib/paths.ts';
import type { CommandContext, CommandDefinition } from '../command.ts';
import { startLocalKubernetes } from '../local-kubernetes.ts';
import type { LocalKubeApi } from '../stack/kube-apiserver.ts';

const PREFIX_OPTION = {
  prefix: {
    type: 'string',
    value: '<prefix>',
    doc: 'Prefix of the namespace and interface names, at most 11 characters (default: $MESHPIPE_DEMO_PREFIX, else mp-).',
  },
} as const;

/** --prefix, else MESHPIPE_DEMO_PREFIX (so `up --demo` and `demo fault` agree on another prefix), else mp-. */
function prefixOf(ctx: CommandContext): string {
  return (ctx.values.prefix as string | undefined) ?? (process.env.MESHPIPE_DEMO_PREFIX || 'mp-');
}

function numberOption(ctx: CommandContext, name: string, fallback: number): number {
  const raw = ctx.values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(value) || value < 0)
    throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, [
      `--${name} must be a number >= 0, got "${String(raw)}"`,
    ]);
  return value;
}

function faultsFrom(values: CommandContext['values']): Partial<Record<ServiceName, Partial<Fault>>> {
  const faults: Partial<Record<ServiceName, Partial<Fault>>> = {};
  for (const text of (values.fault as string[] | undefined) ?? []) {
    const { service, change } = parseServiceFault(text);
    faults[service] = { ...faults[service], ...change };
  }
  return faults;
}

function printWhere(ctx: CommandContext, demo: Demo, rate: number): void {
  const mode = demo.propagate ? 'W3C traceparent propagation' : 'no trace propagation';
  ctx.out(`demo is up: prefix ${demo.prefix}, subnet ${demo.subnet} (host ${demo.hostAddress}), ${mode}`);
  for (const pod of demo.pods) {
    const where = pod.port === null ? pod.address : `${pod.address}:${pod.port}`;
    const grpc = pod.grpcPort == null ? '' : ` gRPC :${pod.grpcPort}`;
    const extra =
      pod.name === 'client'
        ? rate > 0
          ? `load ${rate} req/s`
          : 'no load'
        : `admin ${pod.adminSocket}${grpc}`;
    ctx.out(
      `  ${pod.name.padEnd(10)} ${pod.ns.padEnd(18)} ${where.padEnd(17)} ${extra.padEnd(16)} pid ${pod.pid ?? '-'}`,
    );
  }
  const prefixFlag = demo.prefix === 'mp-' ? '' : ` --prefix ${demo.prefix}`;
  ctx.out(`try: curl ${demo.gatewayUrl}/api/orders/42`);
  ctx.out(`faults: meshpipe demo fault orders latency=100${prefixFlag}   (errors=0.2, none)`);
  ctx.out('Ctrl-C stops the demo and removes its namespaces.');
}

function report(summary: StatusSummary): void {
  const load = summary.load;
  reportStatus({
    state: 'ok',
    summary:
      load === null
        ? 'no load'
        : `${load.ratePerSec.toFixed(1)} req/s, ${(load.errorRatio * 100).toFixed(1)}% errors, p99 ${load.p99Ms ?? '-'} ms`,
    counters: load === null ? {} : { sent: load.sent, ok: load.ok, errors: load.errors },
  });
}

export const command: CommandDefinition = {
  name: 'demo',
  summary:
    'Run a three-service topology (gateway → orders → inventory) in network namespaces, with steady load.',
  usage:
    'demo [--rate N] [--fault <service>:<latency|errors>=<value>]... [--no-propagation] [--duration s] [--json]',
  description:
    'Each service and the load generator run as real processes in their own network namespace on a bridge (10.240.0.0/24 unless taken). Traffic is keep-alive HTTP/1.1 with W3C traceparent headers unless --no-propagation. Faults change at runtime with `meshpipe demo fault`. Needs root. Ctrl-C stops everything and removes the namespaces; docs/demo.md has the details.',
  options: {
    rate: {
      type: 'string',
      value: '<n>',
      doc: 'Requests per second of the load generator; 0 for none.',
      default: '20',
    },
    fault: {
      type: 'string',
      multiple: true,
      value: '<svc>:<setting>',
      doc: 'A fault from the start (repeatable): orders:latency=100, orders:latency=100~20, inventory:errors=0.1.',
    },
    'no-propagation': { type: 'boolean', doc: 'Services and load send no traceparent headers at all.' },
    duration: {
      type: 'string',
      value: '<seconds>',
      doc: 'Stop by itself after this many seconds (default: until Ctrl-C).',
    },
    ...PREFIX_OPTION,
    subnet: {
      type: 'string',
      value: '<a.b.c.0/24>',
      doc: 'The /24 to use (default: the first free 10.240.N.0/24).',
    },
    kubernetes: {
      type: 'boolean',
      doc: "Register the pods in a Kubernetes API server (Deployments, Pods, Services in namespace shop), so the collector names them as in a cluster. The API server is MESHPIPE_DEMO_KUBECONFIG's (set by `up --demo --kubernetes`), else a local kube-apiserver this command starts (scripts/setup builds it).",
    },
  },
  json: true,
  examples: [
    'sudo ./meshpipe demo',
    'sudo ./meshpipe demo --rate 100 --fault orders:latency=20~5 --fault inventory:errors=0.05',
    'sudo ./meshpipe demo --duration 10 --json | jq .services.orders',
    'sudo ./meshpipe demo --kubernetes    # then: meshpipe collect with the collector kubeconfig it prints',
  ],
  async run(ctx) {
    const rate = numberOption(ctx, 'rate', 20);
    const durationMs = numberOption(ctx, 'duration', 0) * 1000;
    ctx.progress.update('starting the demo');
    const demo = await startDemo({
      rate,
      faults: faultsFrom(ctx.values),
      propagate: ctx.values['no-propagation'] !== true,
      prefix: prefixOf(ctx),
      ...(typeof ctx.values.subnet === 'string' ? { subnet: ctx.values.subnet } : {}),
      // main.ts turns SIGINT/SIGTERM into ctx.signal; the loop below then stops the demo.
      handleSignals: false,
      logger: ctx.logger,
    });
    let final: DemoStats | undefined;
    let kube: LocalKubeApi | null = null;
    try {
      if (ctx.values.kubernetes === true) {
        ctx.progress.update('registering the pods in Kubernetes');
        let admin = process.env.MESHPIPE_DEMO_KUBECONFIG;
        if (admin === undefined || admin === '') {
          kube = await startLocalKubernetes(join(STACK_DIR, 'demo-kubernetes'));
          admin = kube.kubeconfigs.admin;
          ctx.out(`kubernetes: ${kube.url}; the collector's kubeconfig: ${kube.kubeconfigs.collector}`);
          ctx.out(
            `  sudo ./meshpipe collect  with MESHPIPE_COLLECTOR_KUBECONFIG=${kube.kubeconfigs.collector}`,
          );
        }
        const { config } = ctx.config();
        const registered = await registerDemoPods(new KubernetesCluster(admin), demo.pods, config.node.name);
        if (!ctx.json)
          for (const r of registered) ctx.out(`  ${DEMO_NAMESPACE}/${r.pod.padEnd(36)} ${r.address}`);
      }
      ctx.progress.done();
      if (ctx.json) {
        const { prefix, subnet, hostAddress, propagate, gatewayUrl, pods } = demo;
        ctx.printJson(
          { event: 'started', prefix, subnet, hostAddress, propagate, rate, gatewayUrl, pods },
          { line: true },
        );
      } else printWhere(ctx, demo, rate);

      const started = Date.now();
      let previous: DemoStats | undefined;
      while (!ctx.signal.aborted) {
        const left = durationMs === 0 ? 1000 : Math.min(1000, started + durationMs - Date.now());
        if (left <= 0) break;
        await sleep(left, undefined, { signal: ctx.signal }).catch(() => {});
        if (ctx.signal.aborted) break;
        const stats = await demo.stats();
        const summary = summarize(previous, stats);
        previous = stats;
        final = stats;
        if (ctx.json) ctx.printJson({ event: 'status', ...summary }, { line: true });
        else ctx.progress.update(statusLine(summary));
        report(summary);
      }
    } finally {
      ctx.progress.update('stopping the demo');
      await demo.stop();
      await kube?.stop();
      ctx.progress.done(ctx.json ? undefined : `demo stopped; namespaces ${demo.prefix}* removed`);
    }
    if (ctx.json)
      ctx.printJson({ event: 'stopped', prefix: demo.prefix, load: final?.load ?? null }, { line: true });
    return 0;
  },
};

export const fault: CommandDefinition = {
  name: 'demo fault',
  summary: "Change a running demo's faults: latency=<ms>[~<jitter>], errors=<ratio>, none.",
  usage: 'demo fault <service> <latency|errors>=<value>... [--prefix p] [--json]',
  description: `Services: ${SERVICES.join(', ')}. Takes effect on the next request, without restarting anything. Settings not named keep their value; "none" clears both.`,
  options: { ...PREFIX_OPTION },
  positionals: { min: 2, max: 3, names: ['service', 'setting'] },
  json: true,
  examples: [
    'sudo ./meshpipe demo fault orders latency=100',
    'sudo ./meshpipe demo fault inventory errors=0.2 latency=50~20',
    'sudo ./meshpipe demo fault orders none',
  ],
  async run(ctx) {
    const [service, ...settings] = ctx.positionals as [string, ...string[]];
    if (!isServiceName(service))
      throw new MeshpipeError(ERRORS.DEMO_BAD_FAULT, [
        service,
        `the service is one of ${SERVICES.join(', ')}`,
      ]);
    let change: Partial<Fault> = {};
    for (const setting of settings) change = { ...change, ...parseFaultSetting(setting) };
    mergeFault(NO_FAULT, change);
    const prefix = prefixOf(ctx);
    const details = readLivePrefix(prefix)?.details as DemoDetails | undefined;
    const pod = details?.pods.find((p) => p.name === service);
    if (pod === undefined || pod.adminSocket === null)
      throw new MeshpipeError(ERRORS.DEMO_NOT_RUNNING, [prefix]);
    const now = await adminClient(pod.adminSocket).setFault(change);
    if (ctx.json) ctx.printJson({ service, fault: now });
    else ctx.out(`${service}: ${describeFault(now)}`);
    return 0;
  },
};
