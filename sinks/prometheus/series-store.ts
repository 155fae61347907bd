/**
 * The sink's view of the metrics topic: the latest sample of every (series, stream), summed over
 * streams when exposed.
 *
 * Samples are cumulative per stream (schemas/metric-sample.avsc), so a series is exposed as
 *
 *   counter / histogram   Σ over its streams of (latest value + what earlier incarnations of the stream
 *                         had reached when they restarted)
 *   gauge                 Σ over its streams that reported within `gaugeStaleMs`
 *
 * which makes the exposed counters correct and monotonic whatever happens upstream:
 *   - a redelivered or out-of-order sample (older time, or an older start time) changes nothing;
 *   - several instances of a producer are several streams, summed;
 *   - a red-metrics partition moving to another instance keeps its stream and start time (the state
 *     comes with it), so it continues where it was: never counted twice;
 *   - a stream that restarts from zero says so with a new `startTimeUnixNano`: its last value is kept as
 *     a past incarnation and the new one is added on top, so the exposed counter never goes backwards;
 *   - a stream that stops (an instance that is gone) keeps its last value in the sum, for the same
 *     reason; a series is dropped only once none of its streams reported for `seriesExpiryMs`.
 *
 * The view is bounded (`maxSeries`, all families together): a sample of a new series beyond it is not
 * taken in and is counted (`overflow`), while the series already held go on updating; a series that
 * expires makes room. Producers keep their own cardinality in check (red-metrics' limits); this is the
 * sink's own guarantee, whatever writes to the topic.
 *
 * Histograms of different streams may have different bounds (a configuration change): they are merged
 * on the union of the bounds, each stream contributing at every bound the count of its own largest
 * bound not above it — a valid, conservative cumulative histogram.
 */
import type { Exemplar, MetricSample, MetricType } from '../../schemas/types.ts';
import { prometheusLabels, prometheusName, unitSuffix } from './naming.ts';

interface HistData {
  bounds: number[];
  /** Per bucket, not cumulative; bounds.length + 1 entries. */
  counts: number[];
  count: number;
  sum: number;
}

interface Contribution {
  value: number;
  hist: HistData | null;
}

interface StreamEntry extends Contribution {
  start: bigint;
  time: bigint;
  /** Sink clock (ms) of the last sample: liveness. */
  seenAt: number;
  /** Earlier incarnations of this stream (before a start-time change), added up. */
  past: Contribution | null;
}

export interface Series {
  /** Prometheus label set (sanitised), and its canonical text (the series' identity in its family). */
  labels: Record<string, string>;
  key: string;
  streams: Map<string, StreamEntry>;
  /** The latest exemplars, newest last (bounded). */
  exemplars: Exemplar[];
  seenAt: number;
}

export interface Family {
  /** Prometheus name of the samples (counters end in `_total`). */
  name: string;
  type: MetricType;
  help: string;
  /** The unit word of the name (`seconds`), or ''. */
  unit: string;
  series: Map<string, Series>;
}

export type ApplyResult = 'applied' | 'stale' | 'conflict' | 'overflow';

export interface SeriesStoreOptions {
  gaugeStaleMs: number;
  seriesExpiryMs: number;
  /** Exemplars kept per series (the exposition picks the newest per bucket among them). */
  exemplarsPerSeries?: number;
  /** Series held at most, every family together (default 100,000). */
  maxSeries?: number;
  /** Streams held at most per series (default 1,000). */
  maxStreamsPerSeries?: number;
}

function labelKey(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',');
}

function histOf(sample: MetricSample): HistData | null {
  const h = sample.histogram;
  if (h === null) return null;
  return { bounds: [...h.bounds], counts: h.bucketCounts.map(Number), count: Number(h.count), sum: h.sum };
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function addInto(into: Contribution, c: Contribution): Contribution {
  into.value += c.value;
  if (c.hist !== null) {
    if (into.hist === null) into.hist = { ...c.hist, bounds: [...c.hist.bounds], counts: [...c.hist.counts] };
    else if (sameBounds(into.hist.bounds, c.hist.bounds)) {
      for (let i = 0; i < into.hist.counts.length; i++) into.hist.counts[i]! += c.hist.counts[i] ?? 0;
      into.hist.count += c.hist.count;
      into.hist.sum += c.hist.sum;
    } else {
      // A past incarnation with other bounds: merged like streams are, on the union.
      into.hist = mergeHistograms([into.hist, c.hist]);
    }
  }
  return into;
}

/** Merges histograms on the union of their bounds (see the comment at the top). */
export function mergeHistograms(hists: readonly HistData[]): HistData {
  if (hists.length === 1) return hists[0]!;
  const bounds = [...new Set(hists.flatMap((h) => h.bounds))].sort((a, b) => a - b);
  const cumulative = new Array<number>(bounds.length).fill(0);
  let count = 0;
  let sum = 0;
  for (const h of hists) {
    count += h.count;
    sum += h.sum;
    let j = 0;
    let running = 0;
    for (let i = 0; i < bounds.length; i++) {
      while (j < h.bounds.length && h.bounds[j]! <= bounds[i]!) running += h.counts[j++]!;
      cumulative[i]! += running;
    }
  }
  const counts = cumulative.map((c, i) => c - (i === 0 ? 0 : cumulative[i - 1]!));
  counts.push(count - (cumulative.at(-1) ?? 0));
  return { bounds, counts, count, sum };
}

export class SeriesStore {
  readonly #families = new Map<string, Family>();
  readonly #options: Required<SeriesStoreOptions>;
  #series = 0;

  constructor(options: SeriesStoreOptions) {
    this.#options = { exemplarsPerSeries: 32, maxSeries: 100_000, maxStreamsPerSeries: 1_000, ...options };
  }

  /** Takes one sample into the view. */
  apply(sample: MetricSample, nowMs: number): ApplyResult {
    const name = prometheusName(sample.name, sample.unit, sample.type);
    let family = this.#families.get(name);
    const full = this.#series >= this.#options.maxSeries;
    if (family === undefined) {
      if (full) return 'overflow';
      family = {
        name,
        type: sample.type,
        help: sample.description,
        unit: unitSuffix(sample.unit, sample.type),
        series: new Map(),
      };
      this.#families.set(name, family);
    } else if (family.type !== sample.type) {
      // Two producers disagree on what a name is: exposing both would be an invalid exposition.
      return 'conflict';
    }
    if (sample.description !== '') family.help = sample.description;
    const labels = prometheusLabels(sample.labels);
    const key = labelKey(labels);
    let series = family.series.get(key);
    if (series === undefined) {
      if (full) return 'overflow';
      series = { labels, key, streams: new Map(), exemplars: [], seenAt: nowMs };
      family.series.set(key, series);
      this.#series++;
    }
    const entry = series.streams.get(sample.stream);
    if (entry === undefined && series.streams.size >= this.#options.maxStreamsPerSeries) return 'overflow';
    let past: Contribution | null = entry?.past ?? null;
    if (entry !== undefined) {
      if (sample.startTimeUnixNano < entry.start) return 'stale';
      if (sample.startTimeUnixNano === entry.start && sample.timeUnixNano < entry.time) return 'stale';
      if (sample.startTimeUnixNano > entry.start && family.type !== 'GAUGE') {
        // The stream restarted from zero: what it had counted stays counted.
        past = addInto(past ?? { value: 0, hist: null }, entry);
      }
    }
    series.streams.set(sample.stream, {
      start: sample.startTimeUnixNano,
      time: sample.timeUnixNano,
      seenAt: nowMs,
      value: sample.type === 'HISTOGRAM' ? 0 : sample.value,
      hist: histOf(sample),
      past,
    });
    series.seenAt = nowMs;
    if (sample.exemplars.length > 0) {
      series.exemplars.push(...sample.exemplars);
      series.exemplars.sort((a, b) =>
        a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0,
      );
      const seen = new Set<string>();
      series.exemplars = series.exemplars
        .reverse()
        .filter((x) => {
          const id = `${x.traceId}/${x.spanId}/${x.value}`;
          if (seen.has(id)) return false;
          seen.add(id);
          return true;
        })
        .slice(0, this.#options.exemplarsPerSeries)
        .reverse();
    }
    return 'applied';
  }

  /** Drops series none of whose streams reported for `seriesExpiryMs`. */
  expire(nowMs: number): number {
    let dropped = 0;
    for (const [name, family] of this.#families) {
      for (const [key, series] of family.series) {
        if (nowMs - series.seenAt > this.#options.seriesExpiryMs) {
          family.series.delete(key);
          this.#series--;
          dropped++;
        }
      }
      if (family.series.size === 0) this.#families.delete(name);
    }
    return dropped;
  }

  families(): Family[] {
    return [...this.#families.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The exposed value of a counter or gauge series. */
  value(family: Family, series: Series, nowMs: number): number | undefined {
    let total = 0;
    let live = 0;
    for (const entry of series.streams.values()) {
      if (family.type === 'GAUGE') {
        if (nowMs - entry.seenAt > this.#options.gaugeStaleMs) continue;
        total += entry.value;
        live++;
      } else {
        total += entry.value + (entry.past?.value ?? 0);
        live++;
      }
    }
    return live === 0 ? undefined : total;
  }

  /** The exposed histogram of a series: every stream and past incarnation, merged. */
  histogram(series: Series): HistData | undefined {
    const parts: HistData[] = [];
    for (const entry of series.streams.values()) {
      if (entry.hist !== null) parts.push(entry.hist);
      if (entry.past?.hist) parts.push(entry.past.hist);
    }
    if (parts.length === 0) return undefined;
    const first = parts[0]!;
    if (parts.every((p) => sameBounds(p.bounds, first.bounds))) {
      const counts = new Array<number>(first.counts.length).fill(0);
      let count = 0;
      let sum = 0;
      for (const p of parts) {
        for (let i = 0; i < counts.length; i++) counts[i]! += p.counts[i] ?? 0;
        count += p.count;
        sum += p.sum;
      }
      return { bounds: first.bounds, counts, count, sum };
    }
    return mergeHistograms(parts);
  }

  stats(): { families: number; series: number; streams: number } {
    let series = 0;
    const streams = new Set<string>();
    for (const f of this.#families.values()) {
      series += f.series.size;
      for (const s of f.series.values()) for (const stream of s.streams.keys()) streams.add(stream);
    }
    return { families: this.#families.size, series, streams: streams.size };
  }
}
