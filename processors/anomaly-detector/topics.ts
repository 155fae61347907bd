/**
 * The detector's internal topic and the shape of its records.
 *
 * The metrics topic is keyed by series id, so the series of one route — one per status code, per
 * producing stream — are spread over every partition, while an error ratio or a route's p99 needs all of
 * them in one place. The detector therefore runs in two stages inside one processor (the Kafka Streams
 * "repartition" pattern): stage 1 reads metrics, where every sample of a series arrives in order, and
 * turns cumulative samples into deltas; it writes them here keyed by service; stage 2 reads them back, all
 * of a service on one partition, and evaluates windows. Both stages write through the processor's
 * transactions, so nothing is lost or counted twice between them.
 *
 * The host requires a processor's inputs to have equal partition counts (task N reads partition N of
 * each): this topic has the metrics topic's 3. If you raise `kafka.partitions["metrics.v1"]`, raise
 * `kafka.partitions["anomaly-detector.deltas.v1"]` to the same number.
 */
import type { TopicDefinition } from '../../schemas/topics.ts';

export const DELTAS_TOPIC = {
  suffix: 'anomaly-detector.deltas.v1',
  schema: 'window-delta',
  key: 'service name: every route of a service is evaluated by one partition of the detector',
  partitions: 3,
  retentionMs: 6 * 3_600_000,
  cleanupPolicy: 'delete',
  description:
    'Internal to anomaly-detector: deltas of the request-duration histograms between cumulative samples, repartitioned by service.',
  producedBy: 'anomaly-detector (stage 1)',
  consumedBy: 'anomaly-detector (stage 2)',
} as const satisfies TopicDefinition;

export const DELTA_SCHEMA = new URL('./window-delta.avsc', import.meta.url);

/** A record of DELTAS_TOPIC (window-delta.avsc). */
export interface WindowDelta {
  service: string;
  route: string | null;
  method: string | null;
  statusCode: number;
  errorType: string | null;
  stream: string;
  startUnixNano: bigint;
  endUnixNano: bigint;
  count: bigint;
  sum: number;
  bounds: number[];
  bucketCounts: bigint[];
  exemplars: Array<{ traceId: string; value: number }>;
}
