/**
 * The topic contract, in one place: every topic meshpipe reads or writes, its schema, key, partitions
 * and retention. `meshpipe topics` creates and verifies them; README's "Topics" table is this list.
 *
 * Names are `<prefix>.<suffix>` with the prefix from `kafka.topicPrefix` (default `meshpipe`), and are
 * versioned: an incompatible change gets a new `.v2` topic, compatible changes evolve the schema.
 */

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';

/**
 * A topic whose records carry many values each (DESIGN.md: "cost is paid per batch, not per event").
 * A Kafka client spends microseconds per record, which is more than observing a request may cost in
 * all, so the hot topics carry one batch per record, as OTLP over Kafka does. Partitioning is
 * unchanged: a batch holds values of one partition, the partition a record keyed by the value's key
 * would have gone to (`key`), so both ends of a connection still meet without a shuffle. Readers —
 * the processor runtime, the sinks, `subscribe()`, `meshpipe tail` — hand out one value at a time and
 * also accept records holding a single value of the item schema (tools, replays, tests write those).
 */
export interface TopicBatch {
  /** Schema file of one value: what handlers, subscribers and `tail` see. */
  readonly item: string;
  /** Dotted path of the field of a value that is its key (what a record of its own would be keyed by). */
  readonly key: string;
}

export interface TopicDefinition {
  /** Name without the prefix, e.g. `l7.raw.v2`. */
  readonly suffix: string;
  /** Schema file (schemas/<schema>.avsc) of the record values (the batch record, for a batched topic). */
  readonly schema: string;
  /** Set when a record carries many values (see TopicBatch). */
  readonly batch?: TopicBatch;
  /** What the record key is, and why. */
  readonly key: string;
  readonly partitions: number;
  readonly retentionMs: number;
  readonly cleanupPolicy: CleanupPolicy;
  readonly description: string;
  readonly producedBy: string;
  readonly consumedBy: string;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const TOPICS = {
  raw: {
    suffix: 'l7.raw.v2',
    schema: 'l7-raw-batch',
    batch: { item: 'l7-raw-event', key: 'connection.key' },
    key: "normalised connection tuple: both directions and both ends of one TCP connection share a partition, so spans are assembled without a shuffle. A record is a batch of one collector's events of one partition (no record key; the partition is the one the events' connection keys hash to)",
    partitions: 6,
    retentionMs: 6 * HOUR,
    cleanupPolicy: 'delete',
    description:
      'Raw L7 events from the node collectors: syscall data events (heads redacted, bodies as lengths) and connection lifecycle, in compact batches.',
    producedBy: 'collector (meshpipe collect), meshpipe replay --to-kafka',
    consumedBy: 'span-assembler',
  },
  spans: {
    suffix: 'spans.v2',
    schema: 'span-batch',
    batch: { item: 'span', key: 'traceId' },
    key: 'trace id: a trace stays in order on one partition. A record is a batch of the spans of one partition (no record key; the partition is the one their trace ids hash to)',
    partitions: 6,
    retentionMs: 1 * DAY,
    cleanupPolicy: 'delete',
    description:
      'Linked spans, one per side of each HTTP exchange, with OpenTelemetry semantics, in batches.',
    producedBy: 'trace-linker',
    consumedBy: 'red-metrics, otlp sink, your processors',
  },
  linking: {
    suffix: 'spans.linking.v2',
    schema: 'trace-linking-batch',
    batch: { item: 'trace-linking-event', key: 'node' },
    key: 'node name: the spans one node captured, and the trace-id questions and answers addressed to that node, reach one trace-linker partition, where causality inside a process can be seen. A record is a batch of the events of one partition (no record key)',
    partitions: 6,
    retentionMs: 6 * HOUR,
    cleanupPolicy: 'delete',
    description:
      'Internal: spans on their way from span-assembler (keyed by connection) to trace-linker (keyed by node), and the trace-id resolution messages the linker partitions of different nodes exchange (docs/tracing.md).',
    producedBy: 'span-assembler, trace-linker',
    consumedBy: 'trace-linker',
  },
  metrics: {
    suffix: 'metrics.v1',
    schema: 'metric-sample',
    key: 'series id: every sample of a series reaches the same sink instance',
    partitions: 3,
    retentionMs: 1 * DAY,
    cleanupPolicy: 'delete',
    description:
      'RED metrics, service-graph edges and pipeline health as cumulative samples per producing stream.',
    producedBy: 'red-metrics, every component (pipeline health)',
    consumedBy: 'prometheus sink, anomaly-deltas',
  },
  /**
   * The anomaly detector's two stages, chained. The metrics topic is keyed by series id, so the series
   * of one route — one per status code, per producing stream — are spread over every partition, while an
   * error ratio or a route's p99 needs all of them in one place (the Kafka Streams "repartition"
   * pattern): anomaly-deltas reads metrics, where every sample of a series arrives in order, turns
   * cumulative samples into deltas and writes them here keyed by service; anomaly-detector reads them,
   * every route of a service on one partition, and evaluates windows. Both write through their
   * transactions, so nothing is lost or counted twice between them.
   */
  deltas: {
    suffix: 'anomaly-detector.deltas.v1',
    schema: 'window-delta',
    key: 'service name: every route of a service is evaluated by one partition of anomaly-detector',
    partitions: 3,
    retentionMs: 6 * HOUR,
    cleanupPolicy: 'delete',
    description:
      "Per-window deltas of the request-duration histograms between cumulative samples, repartitioned by service, between the anomaly detector's two processors.",
    producedBy: 'anomaly-deltas',
    consumedBy: 'anomaly-detector',
  },
  anomalies: {
    suffix: 'anomalies.v1',
    schema: 'anomaly',
    key: 'anomaly fingerprint: firing and resolved transitions of one anomaly stay in order',
    partitions: 3,
    retentionMs: 7 * DAY,
    cleanupPolicy: 'delete',
    description: 'Anomaly transitions (firing, resolved) with evidence.',
    producedBy: 'anomaly-detector',
    consumedBy: 'alerts sink',
  },
  dlq: {
    suffix: 'dlq.v1',
    schema: 'dead-letter',
    key: 'the key of the source record',
    partitions: 1,
    retentionMs: 14 * DAY,
    cleanupPolicy: 'delete',
    description:
      'Records a component could not decode or process, with the reason; nothing is dropped silently.',
    producedBy: 'every processor and sink',
    consumedBy: 'you (meshpipe tail meshpipe.dlq.v1)',
  },
} as const satisfies Record<string, TopicDefinition>;

export type TopicId = keyof typeof TOPICS;

export function topicName(definition: TopicDefinition, prefix: string): string {
  return `${prefix}.${definition.suffix}`;
}

/** The schema of one value of a topic: the batch item schema, or the record schema. */
export function valueSchemaOf(definition: TopicDefinition): string {
  return definition.batch?.item ?? definition.schema;
}

/** Finds the definition of a full topic name (any prefix), e.g. for `meshpipe tail`. */
export function definitionOf(
  name: string,
  extra: readonly TopicDefinition[] = [],
): TopicDefinition | undefined {
  return [...Object.values(TOPICS), ...extra].find((d) => name.endsWith(`.${d.suffix}`));
}
