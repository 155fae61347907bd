/** The record type of each topic in schemas/topics.ts (checked against the schema names by a test). */
import type {
  Anomaly,
  DeadLetter,
  L7RawEvent,
  MetricSample,
  Span,
  TraceLinkingEvent,
  WindowDelta,
} from './types.ts';

export interface TopicValues {
  raw: L7RawEvent;
  spans: Span;
  linking: TraceLinkingEvent;
  metrics: MetricSample;
  deltas: WindowDelta;
  anomalies: Anomaly;
  dlq: DeadLetter;
}
