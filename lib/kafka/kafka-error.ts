/**
 * Errors of the Kafka client, in one shape: librdkafka's code (negative: raised by the client itself,
 * `ERR__*`; positive: the broker's protocol error, `ERR_*`), its name, and librdkafka's own verdict on
 * what the error means for a transactional producer:
 *
 *   fatal      the producer (or consumer) can do nothing more: it must be closed and made again —
 *              `ERR__FENCED` (a newer producer holds the transactional id) is one
 *   abortable  the current transaction cannot commit and must be aborted; the producer lives on
 *   retriable  the same call may be made again (a commit that timed out, say)
 *
 * Callers decide what an error means for their work by these flags and codes (the processor runtime:
 * processors/runtime/partition-producer.ts), never by message text.
 */
import { errorCodes, type LibrdKafkaError } from './librdkafka.ts';

let names: Map<number, string> | undefined;

/** `ERR_MSG_SIZE_TOO_LARGE` for 10, `ERR__FENCED` for -144... */
export function errorName(code: number): string {
  if (names === undefined) {
    names = new Map();
    for (const [name, value] of Object.entries(errorCodes())) names.set(value, name);
  }
  return names.get(code) ?? `ERR_${code}`;
}

/** The code of a librdkafka error name, e.g. `code('ERR__FENCED')` = -144. */
export function code(name: string): number {
  const value = errorCodes()[name];
  if (value === undefined) throw new Error(`librdkafka has no error ${name}`);
  return value;
}

export class KafkaError extends Error {
  readonly code: number;
  /** librdkafka's name of the code: `ERR__FENCED`, `ERR_MSG_SIZE_TOO_LARGE`... */
  readonly type: string;
  readonly fatal: boolean;
  readonly abortable: boolean;
  readonly retriable: boolean;

  constructor(
    message: string,
    options: { code: number; fatal?: boolean; abortable?: boolean; retriable?: boolean; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KafkaError';
    this.code = options.code;
    this.type = errorName(options.code);
    this.fatal = options.fatal === true;
    this.abortable = options.abortable === true;
    this.retriable = options.retriable === true;
  }
}

/** Wraps what the binding reports (a LibrdKafkaError, a bare code, an Error) as a KafkaError. */
export function kafkaError(err: unknown, context?: string): KafkaError {
  if (err instanceof KafkaError) return err;
  const e = err as (Partial<LibrdKafkaError> & { message?: string }) | null | undefined;
  const code = typeof err === 'number' ? err : typeof e?.code === 'number' ? e.code : -1;
  const message = typeof err === 'number' ? errorName(err) : (e?.message ?? String(err));
  return new KafkaError(context === undefined ? message : `${context}: ${message}`, {
    code,
    // A consumer's fatal error comes as ERR__FATAL (the reason in the message), without isFatal.
    fatal: e?.isFatal === true || code === errorCodes().ERR__FATAL,
    abortable: e?.isTxnRequiresAbort === true,
    retriable: e?.isRetriable === true,
    cause: err,
  });
}

/** The KafkaError in an error or its causes, if any. */
export function findKafkaError(err: unknown): KafkaError | undefined {
  for (let e = err, depth = 0; e != null && depth < 8; depth++) {
    if (e instanceof KafkaError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
