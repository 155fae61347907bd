/**
 * A record as the hosts read it, in its two forms: the `SourceRecord` as Kafka delivered it (bytes,
 * what a dead letter keeps unchanged) and the `InputRecord` a processor's handler or a sink's `prepare`
 * sees (one decoded value; a batch record — schemas/topics.ts `batch` — gives one per value).
 */
import type { ConsumedRecord } from '../lib/kafka.ts';
import type { TopicRef } from './topic-ref.ts';

/** A record as read from Kafka, before decoding. */
export interface SourceRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Kafka timestamp, ms since the epoch. */
  timestampMs: number;
  headers: Record<string, string>;
}

export interface InputRecord<V = unknown> {
  /** Full topic name the record came from. */
  topic: string;
  /** The topic reference (a processor's `inputs` entry, a sink's `input`) it matched. */
  input: TopicRef;
  partition: number;
  /** Offset of the Kafka record; the values of one batch record share it (see `index`). */
  offset: string;
  /** Position of the value in its batch record (schemas/topics.ts `batch`); 0 for a record of its own. */
  index: number;
  /** The value's key: the record key, or for a value of a batch the key it would have on its own. */
  key: string | null;
  /** Kafka timestamp, ms since the epoch. */
  timestampMs: number;
  /** The record's headers (batch records carry none). */
  headers: Record<string, string>;
  value: V;
}

/** The source of a consumed record: what both hosts dead-letter when it cannot be handled. */
export function sourceRecordOf(message: ConsumedRecord): SourceRecord {
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    timestampMs: message.timestamp,
    headers: message.headers,
  };
}
