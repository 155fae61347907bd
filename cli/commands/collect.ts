/**
 * `meshpipe collect`: the node collector (collectors/collector.ts) — what a DaemonSet pod runs, and what
 * `meshpipe up` starts. Runs until Ctrl-C / SIGTERM (or --duration), then flushes what is buffered.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Collector } from '../../collectors/collector.ts';
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { createKafka, kafkaOptionsFrom } from '../../lib/kafka.ts';
import { type CommandDefinition, KAFKA_OPTIONS } from '../command.ts';
import { resolveEndpoints } from '../endpoints.ts';
import { useSchemaRegistry } from '../schema-registry.ts';

export const command: CommandDefinition = {
  name: 'collect',
  summary: 'Run the node collector: eBPF capture of HTTP traffic, redacted raw events to Kafka.',
  usage: 'collect [--brokers host:port,...] [--duration s] [--json]',
  description:
    'Captures every HTTP/1.x exchange on this node with eBPF (needs root, or CAP_BPF + CAP_PERFMON + CAP_SYS_RESOURCE, and read access to /proc), redacts credentials, ships heads and body sizes to the raw topic, and serves its own metrics and health on collector.metricsPort (/metrics, /healthz for liveness, /readyz for readiness). Kafka being down does not stop capture: events are buffered within collector.buffer.*, then dropped and counted. Configuration: the collector.* keys (`meshpipe config`), docs/collector.md.',
  options: {
    ...KAFKA_OPTIONS,
    duration: {
      type: 'string',
      value: '<seconds>',
      doc: 'Stop by itself after this many seconds (default: run until Ctrl-C or SIGTERM).',
    },
  },
  json: true,
  examples: [
    'sudo meshpipe collect',
    'sudo meshpipe collect --brokers kafka-0.kafka:9092 --json',
    'curl -s 127.0.0.1:9470/metrics | grep meshpipe_collector_dropped_total',
  ],
  async run(ctx) {
    const { config } = ctx.config();
    const durationMs = ctx.values.duration === undefined ? 0 : Number(ctx.values.duration) * 1000;
    if (!Number.isFinite(durationMs) || durationMs < 0)
      throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, ['--duration must be a number of seconds']);
    const endpoints = await resolveEndpoints(config, { logger: ctx.logger, start: false });
    const kafka = createKafka(kafkaOptionsFrom(config, ctx.logger, endpoints.brokers));
    await useSchemaRegistry(config, ctx.logger);
    let lastJson = 0;
    const collector = new Collector({
      config,
      kafka,
      logger: ctx.logger,
      onStatus: (status) => {
        if (!ctx.json) {
          ctx.progress.update(`collector: ${status.summary}`);
          return;
        }
        // A JSON line every 5 s is plenty for a log pipeline; the metrics endpoint has the detail.
        if (Date.now() - lastJson < 5000) return;
        lastJson = Date.now();
        ctx.printJson({ time: new Date().toISOString(), ...status }, { line: true });
      },
    });
    ctx.progress.update('starting the eBPF capture');
    const ready = await collector.start();
    ctx.logger.info(
      {
        brokers: endpoints.brokers,
        metricsPort: collector.metricsPort,
        loaderPid: collector.loaderPid,
        captureCap: ready.captureCap,
      },
      'collector running',
    );
    const stopped = new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
    await (durationMs > 0 ? Promise.race([stopped, sleep(durationMs)]) : stopped);
    ctx.progress.update('collector: flushing');
    await collector.stop();
    const totals = collector.totals();
    ctx.progress.done(
      `collector stopped: ${totals.captured} events captured, ${totals.produced} produced, ${totals.dropped} dropped${totals.truncated > 0 ? `, ${totals.truncated} truncated (delivered shortened)` : ''}`,
    );
    if (ctx.json) ctx.printJson({ stopped: true, ...totals }, { line: true });
    return 0;
  },
};
