import { checkKubernetesAccess } from '../../collectors/build/identity/kubernetes/api-access.ts';
import {
  kubernetesSource,
  loadKubeConfig,
} from '../../collectors/build/identity/kubernetes/kubernetes-decorator.ts';
import { resolveCollectorConfig } from '../../collectors/config.ts';
import { type CommandDefinition, KAFKA_OPTIONS } from '../command.ts';
import { runChecks } from '../stack/doctor.ts';

const MARK = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;

export const command: CommandDefinition = {
  name: 'doctor',
  summary:
    'Check that this machine can run meshpipe: kernel, BTF, tracefs, BPF permission, Java, Kafka jars, Kafka and Redis; in Kubernetes, API access and RBAC.',
  usage: 'doctor [--brokers host:port] [--json]',
  description:
    'Each failing or warning line carries the fix. Exits 1 when any check fails (warnings do not fail).',
  options: { ...KAFKA_OPTIONS },
  json: true,
  async run(ctx) {
    const { config } = ctx.config();
    const checks = await runChecks(config, ctx.logger);
    // In a cluster (or with collector.kubernetes.kubeconfig): API access and the collector's RBAC.
    const source = kubernetesSource(resolveCollectorConfig(config).kubernetes);
    if (source !== null) checks.push(await checkKubernetesAccess(loadKubeConfig(source)));
    const failed = checks.some((c) => c.status === 'fail');
    if (ctx.json) {
      ctx.printJson({ ok: !failed, checks });
    } else {
      const width = Math.max(...checks.map((c) => c.name.length)) + 2;
      for (const c of checks) {
        ctx.out(`${MARK[c.status]}  ${c.name.padEnd(width)}${c.detail}`);
        if (c.fix !== undefined) ctx.out(`      ${''.padEnd(width)}fix: ${c.fix}`);
      }
    }
    return failed ? 1 : 0;
  },
};
