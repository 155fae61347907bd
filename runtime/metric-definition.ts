/**
 * One naming scheme for the pipeline-health metrics of every component (collector, processors, sinks):
 * each metric is defined once with its OpenTelemetry name (the MetricSample published on
 * `<prefix>.metrics.v1`) and its Prometheus name (the exposition), and every series on the metrics topic
 * is keyed by the same id, so the Prometheus sink keeps the latest sample of each without knowing who
 * wrote it.
 */
import { createHash } from 'node:crypto';
import type { MetricType } from '../schemas/types.ts';

export interface MetricDefinition {
  /** OpenTelemetry name: the MetricSample name. */
  otel: string;
  /** Prometheus name (what the OTel → Prometheus rules derive from `otel` and `unit`). */
  prometheus: string;
  type: MetricType;
  unit: string;
  help: string;
  labels: readonly string[];
  /** Upper bounds of a HISTOGRAM's buckets (inclusive). */
  buckets?: number[];
}

/** The key of a series on the metrics topic: a hash of the metric name and its sorted labels. */
export function seriesIdOf(name: string, labels: Record<string, string>): string {
  const sorted = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
  return createHash('sha256').update(`${name}{${sorted}}`).digest('hex').slice(0, 16);
}
