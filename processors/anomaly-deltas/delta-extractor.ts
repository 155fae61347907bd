/**
 * Cumulative histogram samples → deltas (the anomaly detector's first stage). Every sample of a series arrives on one partition of
 * the metrics topic (it is keyed by series id), in the order its stream produced it, so the previous
 * sample of each (series, stream) is right here in partition state.
 *
 * The rules follow the OpenTelemetry data model for cumulative streams
 * (https://opentelemetry.io/docs/specs/otel/metrics/data-model/#sums):
 * - same start time, later sample: the delta is the difference (counts and every bucket);
 * - a new start time — or counts that went down, or bounds that changed — means the stream restarted
 *   from zero at its start time: the whole cumulative value is the delta;
 * - the first sample of a stream: counted in full when its stream started within the last window (a
 *   red-metrics instance that just started: its requests are real new traffic); otherwise it only
 *   becomes the reference point (the detector started after the stream, whose history it did not see —
 *   the same choice Prometheus' rate() makes);
 * - a sample not newer than the last one (a producer retry, a replay) changes nothing.
 *
 * Zero deltas are still forwarded once per window as heartbeats: they carry the series' event time to
 * anomaly-detector, so windows of a service that went quiet close on time instead of waiting for the idle
 * timeout.
 */

import type { MetricSample, WindowDelta } from '../../schemas/types.ts';
import { sameBounds } from '../anomaly-detector/histogram.ts';
import { windowOf } from '../anomaly-detector/state.ts';
import type { ProcessorContext } from '../runtime/definition.ts';
import type { DeltasConfig } from './config.ts';
import { type deltasStores, PRUNED_KEY, type SeriesCursor, seriesKey } from './state.ts';

type Ctx = ProcessorContext<DeltasConfig, typeof deltasStores>;

export const LABELS = {
  service: 'service.name',
  route: 'http.route',
  method: 'http.request.method',
  status: 'http.response.status_code',
  errorType: 'error.type',
  rpcService: 'rpc.service',
  rpcMethod: 'rpc.method',
} as const;

/** Units the detector's histograms may come in, per second (it evaluates latency in seconds). */
const PER_SECOND: Readonly<Record<string, number>> = { s: 1, ms: 1000 };

/**
 * The route a sample's series is of: HTTP method and `http.route`, or for gRPC (rpc.server.duration) the
 * call `{rpc.service}/{rpc.method}`, which names a route as precisely (the method is part of it).
 */
function routeOf(sample: MetricSample, rpc: boolean): { route: string | null; method: string | null } {
  const l = sample.labels;
  if (!rpc) return { route: l[LABELS.route] || null, method: l[LABELS.method] || null };
  const service = l[LABELS.rpcService] ?? '';
  const method = l[LABELS.rpcMethod] ?? '';
  return { route: service === '' && method === '' ? null : `${service}/${method}`, method: null };
}

const NS_PER_MS = 1_000_000n;

export function processSample(sample: MetricSample, ctx: Ctx): void {
  const { config } = ctx;
  const rpc = config.rpcMetric !== '' && sample.name === config.rpcMetric;
  if (sample.name !== config.metric && !rpc) return; // the metrics topic carries every pipeline metric too
  const histogram = sample.histogram;
  if (sample.type !== 'HISTOGRAM' || histogram === null) {
    ctx.count('samples_not_histogram');
    return;
  }
  const service = sample.labels[LABELS.service];
  if (service === undefined || service === '') {
    ctx.count('samples_without_service');
    return;
  }
  const key = seriesKey(sample.seriesId, sample.stream);
  const previous = ctx.stores.cursors.get(key);
  const cumulative = histogram.bucketCounts;
  const windowNs = BigInt(config.windowMs) * NS_PER_MS;

  let from: bigint | undefined; // the delta covers (from, sample time]; undefined: nothing to count
  let base: SeriesCursor | undefined; // what to subtract; undefined: the whole cumulative value
  if (previous === undefined) {
    if (sample.startTimeUnixNano >= sample.timeUnixNano - windowNs) from = sample.startTimeUnixNano;
    else ctx.count('series_first_seen');
  } else if (sample.timeUnixNano <= previous.timeNs && sample.startTimeUnixNano === previous.startNs) {
    ctx.count('stale_samples');
    return;
  } else if (
    sample.startTimeUnixNano !== previous.startNs ||
    histogram.count < previous.count ||
    !sameBounds(histogram.bounds, previous.bounds) ||
    cumulative.some((c, i) => c < (previous.buckets[i] ?? 0n))
  ) {
    ctx.count('counter_resets');
    from = sample.startTimeUnixNano;
  } else {
    from = previous.timeNs;
    base = previous;
    // Samples further apart than a window leave windows without their traffic (which then look like
    // drops): windowMs must be at least the producer's flush interval, better a few of them.
    if (sample.timeUnixNano - previous.timeNs > windowNs) ctx.count('samples_sparser_than_window');
  }

  const window = windowOf(Number(sample.timeUnixNano / NS_PER_MS), config.windowMs);
  const cursor: SeriesCursor = {
    startNs: sample.startTimeUnixNano,
    timeNs: sample.timeUnixNano,
    count: histogram.count,
    sum: histogram.sum,
    bounds: histogram.bounds,
    buckets: cumulative,
    heartbeatWindowMs: previous?.heartbeatWindowMs ?? -1,
  };

  if (from !== undefined) {
    const count = histogram.count - (base?.count ?? 0n);
    if (count > 0n || cursor.heartbeatWindowMs !== window) {
      cursor.heartbeatWindowMs = window;
      // Cursors keep the sample's own unit (they are compared with its next sample); deltas are in seconds.
      const per = PER_SECOND[sample.unit] ?? 1;
      const delta: WindowDelta = {
        service,
        ...routeOf(sample, rpc),
        statusCode: rpc ? 0 : statusCodeOf(sample.labels[LABELS.status]),
        errorType: sample.labels[LABELS.errorType] || null,
        stream: sample.stream,
        startUnixNano: from,
        endUnixNano: sample.timeUnixNano,
        count,
        sum: (histogram.sum - (base?.sum ?? 0)) / per,
        bounds: per === 1 ? histogram.bounds : histogram.bounds.map((b) => b / per),
        bucketCounts: cumulative.map((c, i) => c - (base?.buckets[i] ?? 0n)),
        exemplars: sample.exemplars
          .filter((e) => e.timeUnixNano > from && e.timeUnixNano <= sample.timeUnixNano)
          .sort((a, b) => b.value - a.value)
          .slice(0, config.maxExampleTraces)
          .map((e) => ({ traceId: e.traceId, value: e.value / per })),
      };
      ctx.emit('deltas', service, delta);
      ctx.count(count > 0n ? 'deltas' : 'heartbeats');
    }
  }
  ctx.stores.cursors.set(key, cursor);
}

function statusCodeOf(label: string | undefined): number {
  const code = Number(label);
  return Number.isInteger(code) && code >= 100 && code <= 599 ? code : 0;
}

/** Forgets series cursors not updated for `seriesIdleMs` of event time before `nowMs`. */
export function pruneSeries(ctx: Ctx, nowMs: number): void {
  const cutoff = BigInt(Math.floor(nowMs - ctx.config.seriesIdleMs)) * NS_PER_MS;
  const cursors = ctx.stores.cursors;
  for (const key of cursors.keys()) {
    const cursor = cursors.get(key)!;
    if (cursor.timeNs < cutoff) {
      cursors.delete(key);
      ctx.count('series_forgotten');
    }
  }
}

/** Punctuation: forgets idle series; pruning scans every cursor, so once a minute is plenty. */
export function pruneIdleSeries(ctx: Ctx): void {
  const now = ctx.now();
  const pruned = ctx.stores.clock.get(PRUNED_KEY)?.atMs;
  if (pruned === undefined || now - pruned >= Math.min(60_000, ctx.config.seriesIdleMs)) {
    if (pruned !== undefined) pruneSeries(ctx, now);
    ctx.stores.clock.set(PRUNED_KEY, { atMs: now });
  }
}
