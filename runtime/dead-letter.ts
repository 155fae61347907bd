/**
 * Dead letters: a record a processor or sink could not decode, handle or deliver is written to
 * `<prefix>.dlq.v1` with its bytes unchanged and the reason, and the component goes on with the next
 * record. This file builds the record, the same for every component; how it is written differs by host:
 * a processor puts it in the same transaction as the batch it came in (dead-lettered exactly once,
 * processors/runtime/partition-task.ts), a sink awaits it before committing the source offsets
 * (dead-letter-writer.ts). In a batch record (schemas/topics.ts `batch`) a value that failed alone is
 * dead-lettered alone, with its index in the batch; the rest of the batch goes on.
 *
 * The same facts are in the Kafka headers, so a consumer can route or filter dead letters without
 * decoding them.
 */
import { type ErrorSpec, errorMessage, isMeshpipeError, MeshpipeError } from '../lib/errors.ts';
import type { DeadLetter } from '../schemas/types.ts';
import type { SourceRecord } from './input-record.ts';

export const DEAD_LETTER_HEADERS = {
  errorCode: 'meshpipe-error-code',
  sourceTopic: 'meshpipe-source-topic',
  sourcePartition: 'meshpipe-source-partition',
  sourceOffset: 'meshpipe-source-offset',
  sourceIndex: 'meshpipe-source-index',
} as const;

/**
 * The error a record is dead-lettered with: meshpipe errors keep their code (a decode failure is
 * SCHEMA_*, an undeclared output PROCESSOR_UNDECLARED_OUTPUT); anything else the component's code throws
 * becomes `otherwise` (PROCESSOR_HANDLER_FAILED, SINK_RECORD_FAILED) with the component's name and the
 * message, and the thrown error as the cause.
 */
export function asRecordError(component: string, err: unknown, otherwise: ErrorSpec): MeshpipeError {
  if (isMeshpipeError(err)) return err;
  return new MeshpipeError(otherwise, [component, errorMessage(err)], { cause: err });
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
