/**
 * A sink's own pipeline health, published on the metrics topic like the processors' (same definition
 * shape, same series ids): what it consumed, delivered, retried, gave up on and dead-lettered, how long
 * batches took to be acknowledged, how far behind its input it is, and whether backpressure holds it.
 * With the processors' counters this closes the loss accounting end to end (DESIGN.md): every record
 * consumed is exported, dead-lettered, or still uncommitted (and then redelivered).
 */

import type { KafkaProducer } from '../../lib/kafka.ts';
import type { MetricDefinition } from '../../runtime/metric-definition.ts';
import { codecFor } from '../../schemas/codec.ts';
import type { MetricSample } from '../../schemas/types.ts';
import { type Labels, MetricSeries } from './metric-series.ts';

const SINK = ['sink', 'topic'] as const;

export const SINK_METRICS = {
  consumed: {
    otel: 'meshpipe.sink.records.consumed',
    prometheus: 'meshpipe_sink_records_consumed_total',
    type: 'COUNTER',
    unit: '{record}',
    help: 'Records read from the input topic, undecodable ones included.',
    labels: SINK,
  },
  lost: {
    otel: 'meshpipe.sink.records.lost',
    prometheus: 'meshpipe_sink_records_lost_total',
    type: 'COUNTER',
    unit: '{record}',
    help: 'Input records never read, by reason: retention (deleted before the sink read them: it fell behind by more than the topic keeps).',
    labels: [...SINK, 'reason'],
  },
  exported: {
    otel: 'meshpipe.sink.records.exported',
    prometheus: 'meshpipe_sink_records_exported_total',
    type: 'COUNTER',
    unit: '{record}',
    help: 'Records the receiver acknowledged.',
    labels: SINK,
  },
  deadLetters: {
    otel: 'meshpipe.sink.dead_letters',
    prometheus: 'meshpipe_sink_dead_letters_total',
    type: 'COUNTER',
    unit: '{record}',
    help: 'Records sent to the dead-letter topic (undecodable, or rejected by the receiver), by error code.',
    labels: [...SINK, 'code'],
  },
  retries: {
    otel: 'meshpipe.sink.export.retries',
    prometheus: 'meshpipe_sink_export_retries_total',
    type: 'COUNTER',
    unit: '{attempt}',
    help: 'Export attempts that failed transiently and were retried, by reason (e.g. the gRPC status).',
    labels: [...SINK, 'reason'],
  },
  failures: {
    otel: 'meshpipe.sink.export.failures',
    prometheus: 'meshpipe_sink_export_failures_total',
    type: 'COUNTER',
    unit: '{batch}',
    help: 'Batches that failed for good (their records were dead-lettered), by error code.',
    labels: [...SINK, 'code'],
  },
  duration: {
    otel: 'meshpipe.sink.export.duration',
    prometheus: 'meshpipe_sink_export_duration_seconds',
    type: 'HISTOGRAM',
    unit: 's',
    help: 'From a batch opening (its first record read) to its acknowledgement or final failure, retries included.',
    labels: SINK,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  },
  lag: {
    otel: 'meshpipe.sink.consumer.lag',
    prometheus: 'meshpipe_sink_consumer_lag',
    type: 'GAUGE',
    unit: '{record}',
    help: 'Records on an owned input partition not yet committed (high watermark minus committed offset).',
    labels: [...SINK, 'partition'],
  },
  paused: {
    otel: 'meshpipe.sink.consumer.paused',
    prometheus: 'meshpipe_sink_consumer_paused',
    type: 'GAUGE',
    // A state, not a ratio: unit '1' would make it meshpipe_sink_consumer_paused_ratio in Prometheus.
    unit: '',
    help: '1 while consumption is paused because the receiver is slow or down (backpressure).',
    labels: SINK,
  },
} as const satisfies Record<string, MetricDefinition>;

export interface SinkTotals {
  consumed: number;
  /** Records retention deleted before they were read. */
  lost: number;
  exported: number;
  deadLettered: number;
  retried: number;
  failed: number;
}

export class SinkMetrics {
  readonly series: MetricSeries;
  readonly #base: Labels;

  /** `stream` identifies this process; its values are cumulative from `startTimeUnixNano`. */
  constructor(sink: string, topic: string, stream: string, startTimeUnixNano: bigint) {
    this.series = new MetricSeries(stream, startTimeUnixNano);
    this.#base = { sink, topic };
  }

  consumed(n: number): void {
    this.series.add(SINK_METRICS.consumed, this.#base, n);
  }

  lost(n: number, reason: 'retention'): void {
    this.series.add(SINK_METRICS.lost, { ...this.#base, reason }, n);
  }

  exported(n: number): void {
    this.series.add(SINK_METRICS.exported, this.#base, n);
  }

  deadLettered(n: number, code: string): void {
    this.series.add(SINK_METRICS.deadLetters, { ...this.#base, code }, n);
  }

  retried(reason: string): void {
    this.series.add(SINK_METRICS.retries, { ...this.#base, reason });
  }

  failed(code: string): void {
    this.series.add(SINK_METRICS.failures, { ...this.#base, code });
  }

  exportDuration(seconds: number): void {
    this.series.observe(SINK_METRICS.duration, this.#base, seconds);
  }

  /** `undefined` removes the series (the partition left this instance). */
  lag(partition: number, records: number | undefined): void {
    const labels = { ...this.#base, partition: String(partition) };
    if (records === undefined) this.series.remove(SINK_METRICS.lag, labels);
    else this.series.set(SINK_METRICS.lag, labels, records);
  }

  paused(paused: boolean): void {
    this.series.set(SINK_METRICS.paused, this.#base, paused ? 1 : 0);
  }

  totals(): SinkTotals {
    const t = (d: MetricDefinition) => this.series.total(d);
    return {
      consumed: t(SINK_METRICS.consumed),
      lost: t(SINK_METRICS.lost),
      exported: t(SINK_METRICS.exported),
      deadLettered: t(SINK_METRICS.deadLetters),
      retried: t(SINK_METRICS.retries),
      failed: t(SINK_METRICS.failures),
    };
  }
}

const metricCodec = codecFor<MetricSample>('metric-sample');

/** Produces every series' current sample, keyed by series id (the metrics topic's key). */
export async function publishSamples(
  producer: KafkaProducer,
  topic: string,
  samples: readonly MetricSample[],
): Promise<void> {
  if (samples.length === 0) return;
  await producer.send({
    topic,
    messages: samples.map((s) => ({ key: s.seriesId, value: metricCodec.encode(s) })),
  });
}
