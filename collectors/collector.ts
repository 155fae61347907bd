/**
 * The node collector (`meshpipe collect`, the DaemonSet): capture in, raw events to Kafka out.
 *
 *   meshpipe-loader ─► Capture ─► RawEventBuilder ─► RawBatchWriter ─► RawEventProducer ─► raw topic
 *     (bpf ring)      restarts     identity, redact,   compact batches,   idempotent, a record per
 *                                  frame, timestamps    + seq; bounded     partition per request
 *
 * Every event built is, at any moment, either produced, in the buffer (or the request in flight), or
 * counted as dropped with its stage and reason (capture-counters.ts). Nothing on this path waits for
 * Kafka; when Kafka is slow or down the buffer fills, then refuses, and the drops are counted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type ComponentStatus, reportStatus } from '../lib/component-status.ts';
import type { MeshpipeConfig } from '../lib/config/meshpipe-config.ts';
import { ERRORS, errorMessage, MeshpipeError } from '../lib/errors.ts';
import { healthRoutes, PROMETHEUS_TEXT } from '../lib/http/health-routes.ts';
import { type HttpServer, startHttpServer } from '../lib/http/server.ts';
import type { KafkaClient, KafkaProducer } from '../lib/kafka.ts';
import type { Logger } from '../lib/logger.ts';
import { codecFor } from '../schemas/codec.ts';
import { TOPICS, topicName } from '../schemas/topics.ts';
import type { L7RawEvent, MetricSample } from '../schemas/types.ts';
import type { ReadyRecord } from './capture/loader/record-decoder.ts';
import {
  type CaptureCounters,
  capturedTotal,
  countDrop,
  DROP_REASON,
  DROP_STAGE,
  droppedTotal,
  newCaptureCounters,
  truncatedTotal,
} from './capture-counters.ts';
import { type CapturePipeline, createCapturePipeline } from './capture-pipeline.ts';
import { CollectorMetrics, type CollectorSnapshot } from './collector-metrics.ts';
import { type CollectorConfig, resolveCollectorConfig } from './config.ts';
import { procUsage } from './proc-usage.ts';
import { RawBatchWriter } from './ship/raw-batch-writer.ts';
import { RawEventProducer } from './ship/raw-event-producer.ts';

export interface CollectorOptions {
  config: MeshpipeConfig;
  /** Kafka client for the configured (or resolved) brokers. */
  kafka: KafkaClient;
  logger: Logger;
  /** Serve /metrics (default true). */
  metricsServer?: boolean;
  /** Called with the status every second (the CLI prints it). */
  onStatus?: (status: ComponentStatus) => void;
}

export interface CollectorTotals {
  captured: number;
  produced: number;
  buffered: number;
  dropped: number;
  /** Records that arrived shortened (all stages): not lost, not part of the equation. */
  truncated: number;
}

const STATUS_INTERVAL_MS = 1000;

export class Collector {
  readonly counters: CaptureCounters = newCaptureCounters();
  /** The bounded buffer between capture and Kafka: events accepted, encoded, not yet produced. */
  readonly writer: RawBatchWriter;
  readonly metrics: CollectorMetrics;
  readonly #o: CollectorOptions;
  readonly #pipeline: CapturePipeline;
  readonly #producer: RawEventProducer;
  readonly #metricsCodec = codecFor<MetricSample>('metric-sample');
  readonly #startedAtNs = BigInt(Date.now()) * 1_000_000n;
  readonly #stream: string;
  /** `collector.*`, checked and typed (config.ts). */
  readonly #settings: CollectorConfig;
  #server: HttpServer | null = null;
  #timers: NodeJS.Timeout[] = [];
  #metricsProducer: KafkaProducer | null = null;
  #status: ComponentStatus = { state: 'starting', summary: 'starting capture' };
  #rate = { at: Date.now(), captured: 0, dropped: 0 };
  #loaderCpu = { pid: 0, base: 0, last: 0 };
  #stopped = false;

  constructor(options: CollectorOptions) {
    this.#o = options;
    const c = resolveCollectorConfig(options.config);
    this.#settings = c;
    this.#stream = `collector/${options.config.node.name}`;
    this.writer = new RawBatchWriter({
      node: options.config.node.name,
      maxEvents: c.buffer.maxEvents,
      maxBytes: c.buffer.maxBytes,
    });
    this.#pipeline = createCapturePipeline({
      config: options.config,
      logger: options.logger,
      counters: this.counters,
      emit: (event) => this.#accept(event),
    });
    this.#producer = new RawEventProducer({
      kafka: options.kafka,
      topic: topicName(TOPICS.raw, options.config.kafka.topicPrefix),
      settings: c.producer,
      writer: this.writer,
      counters: this.counters,
      logger: options.logger,
    });
    this.metrics = new CollectorMetrics(() => this.#snapshot());
  }

  /** `node.name`: the node every event is attributed to. */
  get nodeName(): string {
    return this.#o.config.node.name;
  }

  /** Port of /metrics, once started (null when not served). */
  get metricsPort(): number | null {
    return this.#server?.port ?? null;
  }

  get status(): ComponentStatus {
    return this.#status;
  }

  /** captured = produced + buffered + dropped{agent, kafka} (+ one request in flight). */
  totals(): CollectorTotals {
    return {
      captured: capturedTotal(this.counters),
      produced: this.counters.produced,
      buffered: this.writer.size,
      dropped: droppedTotal(this.counters, [DROP_STAGE.agent, DROP_STAGE.kafka]),
      truncated: truncatedTotal(this.counters),
    };
  }

  /** The loader's pid (its cost is the collector's too), while it runs. */
  get loaderPid(): number | undefined {
    return this.#pipeline.capture.loaderPid;
  }

  /**
   * Starts capture, Kafka production, /metrics and status. Rejects with a LoaderError (with the fix)
   * when capture cannot start, and with KAFKA_TOPIC_MISSING when Kafka answers but has no raw topic;
   * an unreachable Kafka is not fatal (events are buffered, then dropped and counted, until it is back).
   */
  async start(): Promise<ReadyRecord> {
    await this.#checkTopic();
    const ready = await this.#pipeline.capture.start();
    this.#producer.start();
    const c = this.#settings;
    if (this.#o.metricsServer !== false) {
      this.#server = await startHttpServer({
        listen: { host: c.metricsHost, port: c.metricsPort },
        routes: healthRoutes({
          metrics: async () => ({ contentType: PROMETHEUS_TEXT, body: await this.metrics.exposition() }),
          status: () => this.#status,
        }),
        logger: this.#o.logger,
        listenError: ERRORS.COLLECTOR_METRICS_PORT,
      });
      this.#o.logger.info({ address: this.#server.address }, 'serving /metrics, /healthz and /readyz');
    }
    this.#timers.push(setInterval(() => this.#updateStatus(), STATUS_INTERVAL_MS));
    this.#timers.push(setInterval(() => void this.#publishMetrics(), c.metricsIntervalMs));
    this.#updateStatus();
    return ready;
  }

  /**
   * Stops capture (its last records are still turned into events), sends what is buffered for at most
   * `flushTimeoutMs` (the rest is counted as dropped at shutdown), publishes the final metrics and
   * closes everything.
   */
  async stop(flushTimeoutMs = 10_000): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    await this.#pipeline.stop();
    await this.#producer.stop(flushTimeoutMs);
    await this.#publishMetrics();
    await this.#metricsProducer?.disconnect().catch(() => {});
    await this.#server?.close();
    this.#updateStatus();
  }

  /**
   * The capture side's sink: the event is encoded into the pending batches with the next sequence
   * number (given to accepted events only, so a gap downstream always means events lost after this
   * point — a failed produce request — never a full buffer), or dropped and counted.
   */
  #accept(event: L7RawEvent): void {
    let accepted: boolean;
    try {
      accepted = this.writer.add(event);
    } catch (err) {
      countDrop(this.counters, DROP_STAGE.agent, DROP_REASON.encodeFailed);
      this.#o.logger.error({ err: errorMessage(err) }, 'raw event does not encode (a bug: please report it)');
      return;
    }
    if (!accepted) countDrop(this.counters, DROP_STAGE.agent, DROP_REASON.bufferFull);
  }

  async #checkTopic(): Promise<void> {
    const topic = topicName(TOPICS.raw, this.#o.config.kafka.topicPrefix);
    const admin = this.#o.kafka.admin();
    let topics: string[];
    try {
      await Promise.race([
        admin.connect(),
        sleep(5000).then(() => {
          throw new Error('no answer within 5 s');
        }),
      ]);
      topics = await admin.listTopics();
    } catch (err) {
      this.#o.logger.warn(
        { err: errorMessage(err) },
        'Kafka is not reachable now; capturing anyway (events are buffered, then dropped and counted)',
      );
      await admin.disconnect().catch(() => {});
      return;
    }
    await admin.disconnect().catch(() => {});
    if (!topics.includes(topic)) throw new MeshpipeError(ERRORS.KAFKA_TOPIC_MISSING, [topic]);
  }

  #snapshot(): CollectorSnapshot {
    return {
      counters: this.counters,
      buffer: {
        events: this.writer.size,
        bytes: this.writer.bytes,
        maxEvents: this.writer.maxEvents,
        maxBytes: this.writer.maxBytes,
      },
      connections: this.#pipeline.builder.connections,
      framer: this.#pipeline.builder.framerCounters(),
      h2: this.#pipeline.builder.h2Counters(),
      processLookups: this.#pipeline.processes.counters,
      kubernetes: this.#pipeline.kubernetes?.snapshot() ?? null,
      loader: this.#loaderUsage(),
      tlsBinaries: this.#pipeline.tls.countByPath(),
    };
  }

  /** The loader's CPU over all runs (a restarted loader counts from zero again) and current RSS. */
  #loaderUsage(): CollectorSnapshot['loader'] {
    const pid = this.loaderPid;
    const usage = pid === undefined ? null : procUsage(pid);
    const cpu = this.#loaderCpu;
    if (pid === undefined || usage === null) return null;
    if (pid !== cpu.pid) {
      cpu.base += cpu.last;
      cpu.pid = pid;
    }
    cpu.last = usage.cpuSeconds;
    return { cpuSecondsTotal: cpu.base + cpu.last, rssBytes: usage.rssBytes };
  }

  #updateStatus(): void {
    const now = Date.now();
    const captured = capturedTotal(this.counters);
    const dropped = droppedTotal(this.counters);
    const truncated = truncatedTotal(this.counters);
    const seconds = Math.max(0.001, (now - this.#rate.at) / 1000);
    const rate = (captured - this.#rate.captured) / seconds;
    const newDrops = dropped - this.#rate.dropped;
    this.#rate = { at: now, captured, dropped };
    const capture = this.#pipeline.capture;
    const parts = [`${formatRate(rate)} ev/s`, `${formatCount(dropped)} dropped`];
    if (truncated > 0) parts.push(`${formatCount(truncated)} truncated`);
    let state: ComponentStatus['state'] = 'ok';
    if (this.#stopped) {
      state = 'failed';
      parts.push('stopped');
    } else if (capture.state !== 'running') {
      state = capture.state === 'starting' ? 'starting' : 'failed';
      parts.push(capture.lastError === null ? 'loader starting' : `loader down: ${capture.lastError.code}`);
    } else if (!this.#producer.healthy) {
      state = 'degraded';
      parts.push(`kafka: ${this.#producer.lastError ?? 'connecting'}`);
    } else if (newDrops > 0) {
      // Losses only: a truncated record arrived (flagged), so truncations never degrade the status.
      state = 'degraded';
    }
    this.#status = {
      state,
      summary: parts.join(', '),
      counters: {
        captured,
        produced: this.counters.produced,
        dropped,
        truncated,
        buffered: this.writer.size,
        connections: this.#pipeline.builder.connections,
        loaderRestarts: this.counters.loaderRestarts,
        // The loader is this process's child: its CPU is the collector's too (meshpipe up adds it up).
        loaderCpuSeconds: this.#loaderUsage()?.cpuSecondsTotal ?? 0,
        tlsBinaries: this.#pipeline.tls.list().length,
      },
    };
    reportStatus(this.#status);
    this.#o.onStatus?.(this.#status);
  }

  /** Pipeline-health samples to the metrics topic; a failure waits for the next interval. */
  async #publishMetrics(): Promise<void> {
    const prefix = this.#o.config.kafka.topicPrefix;
    try {
      if (this.#metricsProducer === null) {
        // Cumulative samples: a lost one is replaced by the next; no need to retry for long.
        const producer = this.#o.kafka.producer({ idempotent: false, deliveryTimeoutMs: 10_000 });
        await producer.connect();
        this.#metricsProducer = producer;
      }
      const samples = await this.metrics.samples(this.#stream, this.#startedAtNs, Date.now());
      await this.#metricsProducer.send({
        topic: topicName(TOPICS.metrics, prefix),
        messages: samples.map((s) => ({ key: s.seriesId, value: this.#metricsCodec.encode(s) })),
      });
    } catch (err) {
      this.#o.logger.debug({ err: errorMessage(err) }, 'publishing collector metrics failed; next interval');
      await this.#metricsProducer?.disconnect().catch(() => {});
      this.#metricsProducer = null;
    }
  }
}

function formatRate(rate: number): string {
  if (rate >= 1e6) return `${(rate / 1e6).toFixed(1)}M`;
  if (rate >= 1e3) return `${(rate / 1e3).toFixed(1)}k`;
  return rate.toFixed(0);
}

function formatCount(n: number): string {
  return n >= 1e4 ? formatRate(n) : String(n);
}
