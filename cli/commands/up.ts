import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONFIG_DEFAULTS_ENV, deepMerge } from '../../lib/config/load.ts';
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { connectAdmin, createKafka, kafkaOptionsFrom } from '../../lib/kafka.ts';
import { canConnect } from '../../lib/local-stack-state.ts';
import { maskUrl } from '../../lib/mask.ts';
import { moduleFile } from '../../lib/module-file.ts';
import { KAFKA_VERSION, kafkaLibsDir, STACK_DIR } from '../../lib/paths.ts';
import { allTopicDefinitions, ensureTopics } from '../../schemas/cluster-topics.ts';
import { type CommandDefinition, KAFKA_OPTIONS } from '../command.ts';
import { DEMO_CONFIG_DEFAULTS, DEMO_WARMUP_SECONDS } from '../demo-config.ts';
import { resolveEndpoints } from '../endpoints.ts';
import { startLocalKubernetes } from '../local-kubernetes.ts';
import { formatCost, PipelineCost } from '../pipeline-cost.ts';
import { useSchemaRegistry } from '../schema-registry.ts';
import { pingRedis } from '../stack/doctor.ts';
import { findJava } from '../stack/java.ts';
import { kafkaJarsInstalled } from '../stack/kafka-broker.ts';
import type { LocalKubeApi } from '../stack/kube-apiserver.ts';
import { signalStackNow, stopStack } from '../stack/stack.ts';
import { Supervisor } from '../stack/supervisor.ts';
import { colourWanted, componentPart } from '../status-line.ts';
import { UP_COMPONENTS, UP_OPTIONS, type UpContext } from '../up-components.ts';

const MAIN = moduleFile('../main.ts', import.meta.url);

/** The demo's defaults, with any MESHPIPE_CONFIG_DEFAULTS of the user's laid over them. */
function demoConfigDefaults(): string {
  const own = process.env[CONFIG_DEFAULTS_ENV];
  if (own === undefined || own === '') return JSON.stringify(DEMO_CONFIG_DEFAULTS);
  try {
    return JSON.stringify(deepMerge(DEMO_CONFIG_DEFAULTS, JSON.parse(own) as Record<string, unknown>));
  } catch {
    return own; // not JSON: loadConfig in the children names the problem
  }
}

export const command: CommandDefinition = {
  name: 'up',
  summary:
    'Run the whole pipeline on this machine: Kafka and Redis (local ones unless configured), topics, and every component, with a live status line.',
  usage: 'up [--brokers host:port] [--duration s] [--json] [component flags]',
  description:
    'Without --brokers / MESHPIPE_KAFKA_BROKERS a single-node KRaft Kafka is started from the jars scripts/setup installed (data under .local/stack/), and without MESHPIPE_REDIS_URL a local Redis. Components run as supervised child processes (restarted if they crash); their logs go to .local/stack/logs/. With --demo the anomaly detector and red-metrics get short windows (10 s and 2 s, a one-minute warm-up) unless meshpipe.json says otherwise, so a fault shows as an anomaly within a minute or two. Ctrl-C (also SIGTERM, SIGHUP, or its output closing) stops everything this command started.',
  options: {
    ...KAFKA_OPTIONS,
    duration: {
      type: 'string',
      value: '<seconds>',
      doc: 'Stop by itself after this many seconds (default: run until Ctrl-C).',
    },
    ...UP_OPTIONS,
  },
  json: true,
  examples: ['meshpipe up', 'meshpipe up --brokers kafka:9092 --json'],
  async run(ctx) {
    const { config } = ctx.config();
    const durationMs = ctx.values.duration === undefined ? 0 : Number(ctx.values.duration) * 1000;
    if (!Number.isFinite(durationMs) || durationMs < 0)
      throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, ['--duration must be a number of seconds']);

    // Set-up check first: a missing piece is named with the command that installs it.
    if (config.kafka.brokers.length === 0) {
      findJava();
      if (!kafkaJarsInstalled())
        throw new MeshpipeError(ERRORS.SETUP_KAFKA_JARS_MISSING, [KAFKA_VERSION, kafkaLibsDir()]);
    }

    const endpoints = await resolveEndpoints(config, {
      logger: ctx.logger,
      progress: ctx.progress,
      start: true,
      redis: true,
    });
    const supervisor = new Supervisor({ logger: ctx.logger, logDir: join(STACK_DIR, 'logs') });
    let kube: LocalKubeApi | null = null;
    // Whatever ends this process before the orderly stop below has finished (a second Ctrl-C, an
    // uncaught error), what `up` started must not outlive it.
    const lastResort = () => {
      supervisor.signalAllNow();
      signalStackNow(endpoints.started);
    };
    process.on('exit', lastResort);
    try {
      ctx.progress.update('creating topics');
      const kafka = createKafka(kafkaOptionsFrom(config, ctx.logger, endpoints.brokers));
      const admin = await connectAdmin(kafka, endpoints.brokers);
      let topicCount = 0;
      try {
        const statuses = await ensureTopics(admin, allTopicDefinitions(), {
          prefix: config.kafka.topicPrefix,
          replicationFactor: config.kafka.replicationFactor,
          partitions: config.kafka.partitions,
        });
        topicCount = statuses.length;
        for (const s of statuses.filter((t) => t.state === 'mismatch'))
          ctx.logger.warn({ topic: s.name, problems: s.problems }, 'topic differs from its definition');
      } finally {
        await admin.disconnect();
      }
      await useSchemaRegistry(config, ctx.logger, { register: true });

      if (ctx.values.kubernetes === true) {
        if (ctx.values.demo !== true)
          throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, [
            '--kubernetes goes with --demo (it names the demo pods)',
          ]);
        ctx.progress.update('starting a local Kubernetes API server');
        kube = await startLocalKubernetes(join(STACK_DIR, 'kubernetes'));
      }
      const upCtx: UpContext = { config, values: ctx.values, endpoints };
      const childEnv: Record<string, string> = {
        MESHPIPE_KAFKA_BROKERS: endpoints.brokers.join(','),
        ...(endpoints.redisUrl !== '' ? { MESHPIPE_REDIS_URL: endpoints.redisUrl } : {}),
      };
      if (typeof ctx.values.config === 'string') childEnv.MESHPIPE_CONFIG = ctx.values.config;
      if (kube !== null) {
        // The collector reads the API server as the shipped ClusterRole allows; the demo registers its pods.
        childEnv.MESHPIPE_COLLECTOR_KUBECONFIG = kube.kubeconfigs.collector;
        childEnv.MESHPIPE_DEMO_KUBECONFIG = kube.kubeconfigs.admin;
      }
      // The demo's short windows (cli/demo-config.ts), under the user's file; the user's own defaults win.
      if (ctx.values.demo === true) childEnv[CONFIG_DEFAULTS_ENV] = demoConfigDefaults();
      for (const component of UP_COMPONENTS.filter((c) => c.enabled(upCtx))) {
        supervisor.start({
          name: component.name,
          modulePath: MAIN,
          args: component.args(upCtx),
          env: { ...childEnv, ...(component.env?.(upCtx) ?? {}) },
          ...(component.stallMs === undefined ? {} : { stallMs: component.stallMs }),
        });
      }

      const started = Date.now();
      let lastJson = 0;
      const cost = new PipelineCost();
      const colour = colourWanted(process.stderr);
      ctx.progress.done(
        `meshpipe is up: kafka ${endpoints.brokers.join(',')}${endpoints.local ? ' (local)' : ''}, redis ${maskUrl(endpoints.redisUrl) || '(none)'}, ${topicCount} topics; logs in ${join(STACK_DIR, 'logs')}. Ctrl-C stops.`,
      );
      if (ctx.values.demo === true)
        ctx.progress.done(
          `demo: the anomaly detector learns the demo's normal traffic for about ${DEMO_WARMUP_SECONDS} s once it flows; then try \`meshpipe demo fault orders errors=0.2\` (README, docs/demo.md).`,
        );
      while (!ctx.signal.aborted && (durationMs === 0 || Date.now() - started < durationMs)) {
        const [kafkaPort] = endpoints.brokers.map((b) => Number(b.split(':').pop()));
        const kafkaHost = endpoints.brokers[0]!.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
        const kafkaOk = await canConnect(kafkaPort!, kafkaHost, 1000);
        const redisOk =
          endpoints.redisUrl === ''
            ? null
            : await pingRedis(endpoints.redisUrl, 1000).then(
                () => true,
                () => false,
              );
        const components = supervisor.states();
        const costPerRequest = cost.sample(components);
        if (ctx.json) {
          if (Date.now() - lastJson >= 5000 || lastJson === 0) {
            lastJson = Date.now();
            ctx.printJson(
              {
                time: new Date().toISOString(),
                kafka: { healthy: kafkaOk, brokers: endpoints.brokers, local: endpoints.local },
                redis: { healthy: redisOk, url: maskUrl(endpoints.redisUrl) },
                topics: topicCount,
                pipelineCpuMicrosPerRequest:
                  costPerRequest === null ? null : Math.round(costPerRequest * 10) / 10,
                components: components.map((c) => ({
                  name: c.name,
                  pid: c.pid ?? null,
                  restarts: c.restarts,
                  ...c.status,
                })),
              },
              { line: true },
            );
          }
        } else {
          const parts = [
            `kafka ${kafkaOk ? '✓' : '✗'}`,
            `redis ${redisOk === null ? '-' : redisOk ? '✓' : '✗'}`,
            `topics ${topicCount}`,
            ...components.map((c) => componentPart(c.name, c.status, colour)),
          ];
          const costText = formatCost(costPerRequest);
          if (costText !== null) parts.push(costText);
          ctx.progress.update(parts.join(' · '));
        }
        await sleep(1000, undefined, { signal: ctx.signal }).catch(() => {});
      }
      ctx.progress.done();
    } finally {
      ctx.progress.update('stopping components');
      await supervisor.stop();
      await kube?.stop();
      if (endpoints.started.length > 0) {
        ctx.progress.update(`stopping ${endpoints.started.join(' and ')}`);
        await stopStack({ only: endpoints.started });
      }
      process.off('exit', lastResort);
      ctx.progress.done('meshpipe stopped');
    }
    return 0;
  },
};
