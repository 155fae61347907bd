/**
 * Dead letters: a record a processor could not decode, or whose handler threw, is written to
 * `<prefix>.dlq.v1` with its bytes unchanged and the reason, inside the same transaction as the batch it
 * came in — so it is dead-lettered exactly once, and the processor goes on with the next record. In a
 * batch record (topics.ts `batch`) a value whose handler threw is dead-lettered alone, with its index
 * in the batch; the rest of the batch is processed as usual.
 *
 * The same facts are in the Kafka headers, so a consumer can route or filter dead letters without
 * decoding them.
 */
import { ERRORS, errorMessage, isMeshpipeError, MeshpipeError } from '../../lib/errors.ts';
import type { DeadLetter } from '../../schemas/types.ts';

export const DEAD_LETTER_HEADERS = {
  errorCode: 'meshpipe-error-code',
  sourceTopic: 'meshpipe-source-topic',
  sourcePartition: 'meshpipe-source-partition',
  sourceOffset: 'meshpipe-source-offset',
  sourceIndex: 'meshpipe-source-index',
} as const;

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

/**
 * The error a record is dead-lettered with: meshpipe errors keep their code (a decode failure is
 * SCHEMA_*, an undeclared output PROCESSOR_UNDECLARED_OUTPUT); anything else a handler throws is
 * PROCESSOR_HANDLER_FAILED, with the thrown error as the cause.
 */
export function asRecordError(processor: string, err: unknown): MeshpipeError {
  if (isMeshpipeError(err)) return err;
  return new MeshpipeError(ERRORS.PROCESSOR_HANDLER_FAILED, [processor, errorMessage(err)], { cause: err });
}

export interface DeadLetterRecord {
  key: Buffer | null;
  value: DeadLetter;
  headers: Record<string, string>;
}

/**
 * One value of a batch record that failed alone (topics.ts `batch`): its position, its key as a record of
 * its own, and its bytes as a record of the item schema.
 */
export interface FailedItem {
  index: number;
  key: Buffer | null;
  value: Buffer | null;
}

export function deadLetterOf(
  component: string,
  source: SourceRecord,
  error: MeshpipeError,
  nowMs: number,
  item?: FailedItem,
): DeadLetterRecord {
  if (item !== undefined) {
    const letter = deadLetterOf(component, { ...source, key: item.key, value: item.value }, error, nowMs);
    letter.value.sourceIndex = item.index;
    letter.headers[DEAD_LETTER_HEADERS.sourceIndex] = String(item.index);
    return letter;
  }
  return {
    key: source.key,
    value: {
      component,
      errorCode: error.code,
      errorMessage: error.message,
      sourceTopic: source.topic,
      sourcePartition: source.partition,
      sourceOffset: BigInt(source.offset),
      sourceTimestampMs: BigInt(Math.trunc(source.timestampMs)),
      sourceKey: source.key,
      sourceValue: source.value,
      failedAtUnixNano: BigInt(Math.trunc(nowMs)) * 1_000_000n,
      sourceIndex: null,
    },
    headers: {
      [DEAD_LETTER_HEADERS.errorCode]: error.code,
      [DEAD_LETTER_HEADERS.sourceTopic]: source.topic,
      [DEAD_LETTER_HEADERS.sourcePartition]: String(source.partition),
      [DEAD_LETTER_HEADERS.sourceOffset]: source.offset,
    },
  };
}
