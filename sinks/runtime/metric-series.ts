/**
 * A minimal in-process registry whose output is MetricSample records (schemas/metric-sample.avsc),
 * the pipeline-health format every component publishes on the metrics topic. Values are cumulative
 * per `stream` (one running process, `startTimeUnixNano` its start), so a consumer that keeps the
 * latest sample of every (series, stream) and sums over streams never double counts.
 *
 * Metric definitions and series ids are every component's (runtime/metric-definition.ts), so the
 * Prometheus sink sees one naming scheme for all of them.
 */
import { type MetricDefinition, seriesIdOf } from '../../runtime/metric-definition.ts';
import type { MetricSample } from '../../schemas/types.ts';

export type Labels = Readonly<Record<string, string>>;

interface Series {
  definition: MetricDefinition;
  labels: Labels;
  seriesId: string;
  value: number;
  histogram: { counts: bigint[]; count: bigint; sum: number } | null;
}

export class MetricSeries {
  readonly #stream: string;
  readonly #startTimeUnixNano: bigint;
  readonly #series = new Map<string, Series>();

  constructor(stream: string, startTimeUnixNano: bigint) {
    this.#stream = stream;
    this.#startTimeUnixNano = startTimeUnixNano;
  }

  #get(definition: MetricDefinition, labels: Labels): Series {
    const seriesId = seriesIdOf(definition.otel, labels);
    let series = this.#series.get(seriesId);
    if (series === undefined) {
      const buckets = definition.buckets ?? [];
      series = {
        definition,
        labels,
        seriesId,
        value: 0,
        histogram:
          definition.type === 'HISTOGRAM'
            ? { counts: new Array<bigint>(buckets.length + 1).fill(0n), count: 0n, sum: 0 }
            : null,
      };
      this.#series.set(seriesId, series);
    }
    return series;
  }

  /** Adds to a COUNTER. */
  add(definition: MetricDefinition, labels: Labels, by = 1): void {
    this.#get(definition, labels).value += by;
  }

  /** Sets a GAUGE. */
  set(definition: MetricDefinition, labels: Labels, value: number): void {
    this.#get(definition, labels).value = value;
  }

  /** Drops a series (a gauge of a partition this instance no longer owns stops existing). */
  remove(definition: MetricDefinition, labels: Labels): void {
    this.#series.delete(seriesIdOf(definition.otel, labels));
  }

  /** Records one observation in a HISTOGRAM (explicit buckets, upper bounds inclusive). */
  observe(definition: MetricDefinition, labels: Labels, value: number): void {
    const h = this.#get(definition, labels).histogram!;
    const bounds = definition.buckets ?? [];
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    h.counts[i]!++;
    h.count++;
    h.sum += value;
  }

  /** A counter's or gauge's value, summed over its label sets. */
  total(definition: MetricDefinition): number {
    let sum = 0;
    for (const s of this.#series.values()) if (s.definition === definition) sum += s.value;
    return sum;
  }

  samples(nowMs: number = Date.now()): MetricSample[] {
    const timeUnixNano = BigInt(Math.trunc(nowMs)) * 1_000_000n;
    return [...this.#series.values()].map(({ definition: d, labels, seriesId, value, histogram }) => ({
      name: d.otel,
      description: d.help,
      unit: d.unit,
      type: d.type,
      labels: { ...labels },
      seriesId,
      stream: this.#stream,
      startTimeUnixNano: this.#startTimeUnixNano,
      timeUnixNano,
      value: histogram === null ? value : histogram.sum,
      histogram:
        histogram === null
          ? null
          : {
              count: histogram.count,
              sum: histogram.sum,
              bounds: [...(d.buckets ?? [])],
              bucketCounts: [...histogram.counts],
            },
      exemplars: [],
    }));
  }
}
