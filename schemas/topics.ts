/**
 * The topic contract, in one place: every topic meshpipe reads or writes, its schema, key, partitions
 * and retention. `meshpipe topics` creates and verifies them; README's "Topics" table is this list.
 *
 * Names are `<prefix>.<suffix>` with the prefix from `kafka.topicPrefix` (default `meshpipe`), and are
 * versioned: an incompatible change gets a new `.v2` topic, compatible changes evolve the schema.
 */

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';

export interface TopicDefinition {
  /** Name without the prefix, e.g. `l7.raw.v1`. */
  readonly suffix: string;
  /** Schema file (schemas/<schema>.avsc) of the record values. */
  readonly schema: string;
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
    suffix: 'l7.raw.v1',
    schema: 'l7-raw-event',
    key: 'normalised connection tuple: both directions and both ends of one TCP connection share a partition, so spans are assembled without a shuffle',
    partitions: 6,
    retentionMs: 6 * HOUR,
    cleanupPolicy: 'delete',
    description:
      'Raw L7 events from the node collectors: syscall data events (heads redacted, bodies as lengths) and connection lifecycle.',
    producedBy: 'collector (meshpipe collect), meshpipe replay --to-kafka',
    consumedBy: 'span-assembler',
  },
  spans: {
    suffix: 'spans.v1',
    schema: 'span',
    key: 'trace id: a trace stays in order on one partition',
    partitions: 6,
    retentionMs: 1 * DAY,
    cleanupPolicy: 'delete',
    description: 'Linked spans, one per side of each HTTP exchange, with OpenTelemetry semantics.',
    producedBy: 'trace-linker',
    consumedBy: 'red-metrics, otlp sink, your processors',
  },
  linking: {
    suffix: 'spans.linking.v1',
    schema: 'trace-linking-event',
    key: 'node name: the spans one node captured, and the trace-id questions and answers addressed to that node, reach one trace-linker partition, where causality inside a process can be seen',
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
    consumedBy: 'prometheus sink, anomaly-detector',
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

/** Finds the definition of a full topic name (any prefix), e.g. for `meshpipe tail`. */
export function definitionOf(
  name: string,
  extra: readonly TopicDefinition[] = [],
): TopicDefinition | undefined {
  return [...Object.values(TOPICS), ...extra].find((d) => name.endsWith(`.${d.suffix}`));
}
