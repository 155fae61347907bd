/**
 * Pipeline health of a processor instance, measured once and exported twice:
 *
 *   - Prometheus exposition (prom-client) on `--metrics-port`, for scraping the instance directly;
 *   - MetricSample records on `<prefix>.metrics.v1`, every `runtime.metricsIntervalMs`, so the
 *     Prometheus sink exposes the health of every component from one place. Values are cumulative per
 *     stream `processor/<name>/<instance id>` with the instance's start time as `startTimeUnixNano`: a
 *     consumer that keeps the latest sample per (series, stream) and sums over streams never double
 *     counts, and sees a restart as a new stream.
 *
 * Counts are taken when a transaction commits, so they match what consumers of the outputs see: work
 * redone after an aborted transaction is not counted twice. The names follow OpenTelemetry (the sample
 * name) and its Prometheus mapping (the exposition name); docs/processor-runtime.md lists them.
 */
import { Counter, Gauge, Histogram, type Metric, Registry } from 'prom-client';
import { type MetricDefinition, seriesIdOf } from '../../runtime/metric-definition.ts';
import type { MetricSample } from '../../schemas/types.ts';
import type { UnitOfWork } from './partition-task.ts';

const PROCESSOR = ['processor'] as const;

/** Every pipeline-health metric of a processor. */
export const PROCESSOR_METRICS = {
  consumed: {
    otel: 'meshpipe.processor.records.consumed',
    prometheus: 'meshpipe_processor_records_consumed_total',
    type: 'COUNTER',
    unit: '{record}',
    help: 'Input records consumed (committed), dead-lettered ones included.',
    labels: [...PROCESSOR, 'topic'],
  },
  produced: {
    otel: 'meshpipe.processor.records.produced',
    prometheus: 'meshpipe_processor_records_produced_total',
    type: 'COUNTER',
    unit: '{record}',
    help: 'Output records produced (committed), dead letters not included.',
    labels: [...PROCESSOR, 'topic'],
  },
  deadLetters: {
    otel: 'meshpipe.processor.dead_letters',
    prometheus: 'meshpipe_processor_dead_letters_total',
    type: 'COUNTER',
    unit: '{record}',
    help: 'Records sent to the dead-letter topic, by source topic and error code.',
    labels: [...PROCESSOR, 'topic', 'code'],
  },
  lost: {
    otel: 'meshpipe.processor.records.lost',
    prometheus: 'meshpipe_processor_records_lost_total',
    type: 'COUNTER',
    unit: '{record}',
    help: 'Input records never processed, by reason: retention (deleted before the processor read them: it fell behind by more than the topic keeps).',
    labels: [...PROCESSOR, 'topic', 'reason'],
  },
  handlerDuration: {
    otel: 'meshpipe.processor.handler.duration',
    prometheus: 'meshpipe_processor_handler_duration_seconds',
    type: 'HISTOGRAM',
    unit: 's',
    help: 'Duration of handler calls (process, punctuate).',
    labels: [...PROCESSOR, 'kind'],
    buckets: [0.000_005, 0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
  },
  lag: {
    otel: 'meshpipe.processor.consumer.lag',
    prometheus: 'meshpipe_processor_consumer_lag',
    type: 'GAUGE',
    unit: '{record}',
    help: 'Records on an assigned input partition not yet processed (high watermark minus position).',
    labels: [...PROCESSOR, 'topic', 'partition'],
  },
  transactions: {
    otel: 'meshpipe.processor.transactions',
    prometheus: 'meshpipe_processor_transactions_total',
    type: 'COUNTER',
    unit: '{transaction}',
    help: 'Kafka transactions, by outcome (committed, aborted).',
    labels: [...PROCESSOR, 'outcome'],
  },
  stateKeys: {
    otel: 'meshpipe.processor.state.keys',
    prometheus: 'meshpipe_processor_state_keys',
    type: 'GAUGE',
    unit: '{key}',
    help: 'Keys in the committed state of an assigned partition.',
    labels: [...PROCESSOR, 'partition'],
  },
  stateSize: {
    otel: 'meshpipe.processor.state.size',
    prometheus: 'meshpipe_processor_state_size_bytes',
    type: 'GAUGE',
    unit: 'By',
    help: 'Encoded size (keys and values) of the committed state of an assigned partition.',
    labels: [...PROCESSOR, 'partition'],
  },
  restoreDuration: {
    otel: 'meshpipe.processor.restore.duration',
    prometheus: 'meshpipe_processor_restore_duration_seconds',
    type: 'HISTOGRAM',
    unit: 's',
    help: 'Time to restore the state of newly assigned partitions from the changelog (one observation per rebalance).',
    labels: PROCESSOR,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  },
  restoreRecords: {
    otel: 'meshpipe.processor.restore.records',
    prometheus: 'meshpipe_processor_restore_records_total',
    type: 'COUNTER',
    unit: '{record}',
    help: 'Changelog records read while restoring state.',
    labels: PROCESSOR,
  },
  partitions: {
    otel: 'meshpipe.processor.partitions',
    prometheus: 'meshpipe_processor_partitions',
    type: 'GAUGE',
    unit: '{partition}',
    help: 'Input partitions assigned to this instance and processing.',
    labels: PROCESSOR,
  },
  punctuateFailures: {
    otel: 'meshpipe.processor.punctuate.failures',
    prometheus: 'meshpipe_processor_punctuate_failures_total',
    type: 'COUNTER',
    unit: '{call}',
    help: 'Punctuate calls that threw (their changes were discarded).',
    labels: PROCESSOR,
  },
  events: {
    otel: 'meshpipe.processor.events',
    prometheus: 'meshpipe_processor_events_total',
    type: 'COUNTER',
    unit: '{event}',
    help: 'Processor-specific counters (ctx.count(name)), by name.',
    labels: [...PROCESSOR, 'name'],
  },
} as const satisfies Record<string, MetricDefinition>;

type Name = keyof typeof PROCESSOR_METRICS;

export interface Totals {
  consumed: number;
  produced: number;
  deadLetters: number;
  lost: number;
}

export class ProcessorMetrics {
  readonly registry = new Registry();
  readonly processor: string;
  readonly #metrics: Record<Name, Counter | Gauge | Histogram>;
  readonly #totals: Totals = { consumed: 0, produced: 0, deadLetters: 0, lost: 0 };
  readonly #events = new Map<string, number>();

  constructor(processor: string) {
    this.processor = processor;
    const metrics: Partial<Record<Name, Counter | Gauge | Histogram>> = {};
    for (const [key, d] of Object.entries(PROCESSOR_METRICS) as Array<[Name, MetricDefinition]>) {
      const common = {
        name: d.prometheus,
        help: d.help,
        labelNames: [...d.labels],
        registers: [this.registry],
      };
      metrics[key] =
        d.type === 'COUNTER'
          ? new Counter(common)
          : d.type === 'GAUGE'
            ? new Gauge(common)
            : new Histogram({ ...common, buckets: d.buckets ?? [] });
    }
    this.#metrics = metrics as Record<Name, Counter | Gauge | Histogram>;
  }

  #counter(name: Name): Counter {
    return this.#metrics[name] as Counter;
  }

  #gauge(name: Name): Gauge {
    return this.#metrics[name] as Gauge;
  }

  #histogram(name: Name): Histogram {
    return this.#metrics[name] as Histogram;
  }

  /** Counts a committed unit of work. */
  committed(work: UnitOfWork, transaction: boolean): void {
    const processor = this.processor;
    for (const [topic, n] of work.consumed) {
      this.#counter('consumed').inc({ processor, topic }, n);
      this.#totals.consumed += n;
    }
    for (const [topic, n] of work.produced) {
      this.#counter('produced').inc({ processor, topic }, n);
      this.#totals.produced += n;
    }
    for (const { topic, code } of work.deadLetters) {
      this.#counter('deadLetters').inc({ processor, topic, code });
      this.#totals.deadLetters++;
    }
    for (const [name, n] of work.counts) {
      this.#counter('events').inc({ processor, name }, n);
      this.#events.set(name, (this.#events.get(name) ?? 0) + n);
    }
    if (work.punctuateFailures > 0)
      this.#counter('punctuateFailures').inc({ processor }, work.punctuateFailures);
    if (transaction) this.#counter('transactions').inc({ processor, outcome: 'committed' });
  }

  /** Input records that will never be processed (retention deleted them first). */
  lost(topic: string, records: number, reason: 'retention'): void {
    this.#counter('lost').inc({ processor: this.processor, topic, reason }, records);
    this.#totals.lost += records;
  }

  aborted(): void {
    this.#counter('transactions').inc({ processor: this.processor, outcome: 'aborted' });
  }

  handlerCall(kind: 'process' | 'punctuate', seconds: number): void {
    this.#histogram('handlerDuration').observe({ processor: this.processor, kind }, seconds);
  }

  lag(topic: string, partition: number, records: number): void {
    this.#gauge('lag').set(
      { processor: this.processor, topic, partition: String(partition) },
      Math.max(0, records),
    );
  }

  state(partition: number, stats: { keys: number; bytes: number }): void {
    const labels = { processor: this.processor, partition: String(partition) };
    this.#gauge('stateKeys').set(labels, stats.keys);
    this.#gauge('stateSize').set(labels, stats.bytes);
  }

  restored(records: number, seconds: number): void {
    this.#counter('restoreRecords').inc({ processor: this.processor }, records);
    this.#histogram('restoreDuration').observe({ processor: this.processor }, seconds);
  }

  partitions(count: number): void {
    this.#gauge('partitions').set({ processor: this.processor }, count);
  }

  /** A partition left this instance: its gauges stop existing rather than freezing at a last value. */
  forgetPartition(partition: number, inputTopics: readonly string[]): void {
    const p = String(partition);
    this.#gauge('stateKeys').remove({ processor: this.processor, partition: p });
    this.#gauge('stateSize').remove({ processor: this.processor, partition: p });
    for (const topic of inputTopics)
      this.#gauge('lag').remove({ processor: this.processor, topic, partition: p });
  }

  totals(): Totals {
    return { ...this.#totals };
  }

  /** The `ctx.count(name)` totals committed so far, by name. */
  events(): Record<string, number> {
    return Object.fromEntries(this.#events);
  }

  /** The Prometheus text exposition. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  /** Every series as MetricSample records of one stream. */
  async samples(stream: string, startTimeUnixNano: bigint, nowMs: number): Promise<MetricSample[]> {
    const time = BigInt(Math.trunc(nowMs)) * 1_000_000n;
    const out: MetricSample[] = [];
    for (const [key, d] of Object.entries(PROCESSOR_METRICS) as Array<[Name, MetricDefinition]>) {
      const data = await (this.#metrics[key] as Metric).get();
      const base = {
        name: d.otel,
        description: d.help,
        unit: d.unit,
        type: d.type,
        stream,
        startTimeUnixNano,
      };
      if (d.type !== 'HISTOGRAM') {
        for (const v of data.values) {
          const labels = stringLabels(v.labels);
          out.push({
            ...base,
            labels,
            seriesId: seriesIdOf(d.otel, labels),
            timeUnixNano: time,
            value: v.value,
            histogram: null,
            exemplars: [],
          });
        }
        continue;
      }
      out.push(...histogramSamples(d, data.values as HistogramValue[], base, time));
    }
    return out;
  }
}

type HistogramValue = { value: number; labels: Record<string, string | number>; metricName?: string };

function stringLabels(labels: Partial<Record<string, string | number>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (v !== undefined) out[k] = String(v);
  return out;
}

/** prom-client's cumulative `_bucket`/`_sum`/`_count` values → one explicit-bucket sample per series. */
function histogramSamples(
  d: MetricDefinition,
  values: HistogramValue[],
  base: Omit<MetricSample, 'labels' | 'seriesId' | 'timeUnixNano' | 'value' | 'histogram' | 'exemplars'>,
  time: bigint,
): MetricSample[] {
  const series = new Map<
    string,
    { labels: Record<string, string>; buckets: Array<[number, number]>; sum: number; count: number }
  >();
  for (const v of values) {
    const { le, ...rest } = v.labels;
    const labels = stringLabels(rest);
    const id = seriesIdOf(d.otel, labels);
    let s = series.get(id);
    if (s === undefined) {
      s = { labels, buckets: [], sum: 0, count: 0 };
      series.set(id, s);
    }
    if (v.metricName?.endsWith('_bucket') && le !== undefined && le !== '+Inf')
      s.buckets.push([Number(le), v.value]);
    else if (v.metricName?.endsWith('_sum')) s.sum = v.value;
    else if (v.metricName?.endsWith('_count')) s.count = v.value;
  }
  const out: MetricSample[] = [];
  for (const [id, s] of series) {
    s.buckets.sort((a, b) => a[0] - b[0]);
    const bucketCounts: bigint[] = [];
    let previous = 0;
    for (const [, cumulative] of s.buckets) {
      bucketCounts.push(BigInt(cumulative - previous));
      previous = cumulative;
    }
    bucketCounts.push(BigInt(s.count - previous));
    out.push({
      ...base,
      labels: s.labels,
      seriesId: id,
      timeUnixNano: time,
      value: s.sum,
      histogram: { count: BigInt(s.count), sum: s.sum, bounds: s.buckets.map(([le]) => le), bucketCounts },
      exemplars: [],
    });
  }
  return out;
}
