/**
 * What a sink is: a processor whose output leaves Kafka. A sink module default-exports a definition —
 * a name, the topic it reads, a config spec, a per-record `prepare` and an exporter factory — and the
 * host (host.ts) does the rest, written once for every sink: consumer group, Avro decoding, batching,
 * retry with backoff, commit-after-acknowledgement, backpressure, dead letters, rebalances, shutdown,
 * metrics and status.
 *
 *   export default defineSink({
 *     name: 'otlp',
 *     description: 'Spans to an OTLP receiver',
 *     input: 'spans',
 *     config: s.object({ ...sinkHostFields(), endpoint: s.string({...}) }, { doc: '...' }),
 *     prepare: (record) => encoder.encode(record.value), // throw a MeshpipeError to dead-letter it
 *     createExporter: ({ config }) => new OtlpExporter({ transport: otlpTransport(config), ... }),
 *   });
 */
import { type Fields, type InferFields, type ObjectSpec, type SpecBase, s } from '../../lib/config/spec.ts';
import { parseListen } from '../../lib/http/server.ts';
import type { Logger } from '../../lib/logger.ts';
import { consumerFields, maxBatchBytesSpec, metricsIntervalSpec } from '../../runtime/consumer-settings.ts';
import type { InputRecord } from '../../runtime/input-record.ts';
import type { TopicRef, ValueOf } from '../../runtime/topic-ref.ts';
import type { Exporter } from './exporter.ts';

/** `sinks.<name>.listen`: where the sink serves /metrics, /healthz and /readyz; empty: nowhere. */
export function listenSpec(
  options: { doc?: string; default?: string; env?: string; required?: boolean } = {},
): SpecBase<string> {
  return s.string({
    doc:
      options.doc ??
      "Address of this sink's /metrics (its own delivery health), /healthz (liveness) and /readyz (readiness), host:port (port 0: any free port); empty: not served. 127.0.0.1 keeps them local; 0.0.0.0 lets Prometheus and the kubelet reach them.",
    default: options.default ?? '',
    ...(options.env === undefined ? {} : { env: options.env }),
    check: (v) =>
      (v === '' && options.required !== true) || parseListen(v) !== undefined
        ? undefined
        : `"${v}" is not host:port (e.g. 127.0.0.1:9467)`,
  });
}

/**
 * Host settings every sink's config section carries (spread them into its `s.object`). Defaults can be
 * tuned per sink: a webhook sink wants small batches, a trace sink large ones. The consumer settings
 * under `runtime` are the ones processors have (runtime/consumer-settings.ts), so both read alike.
 */
export function sinkHostFields(defaults: { batchSize?: number; lingerMs?: number } = {}) {
  return {
    listen: listenSpec(),
    startFrom: s.enumOf(['earliest', 'latest'] as const, {
      doc: 'Where a consumer group with no committed offset starts: `earliest` delivers what the topic retains (nothing produced before the first start is lost), `latest` only new records. Once offsets are committed, they win.',
      default: 'earliest',
    }),
    batchSize: s.int({
      doc: 'Records per export request at most.',
      default: defaults.batchSize ?? 512,
      min: 1,
      max: 100_000,
    }),
    lingerMs: s.int({
      doc: 'Longest a record waits for its batch to fill before the batch is sent anyway, ms.',
      default: defaults.lingerMs ?? 1000,
      min: 0,
      max: 60_000,
    }),
    maxBufferedRecords: s.int({
      doc: 'Backpressure: consumption pauses while this many records wait in memory (batching, queued, in flight) and resumes at half. At least batchSize is used.',
      default: 4096,
      min: 1,
      max: 1_000_000,
    }),
    retry: s.object(
      {
        initialBackoffMs: s.int({
          doc: 'Wait before the first retry, ms.',
          default: 500,
          min: 1,
          max: 60_000,
        }),
        maxBackoffMs: s.int({
          doc: 'Ceiling of the exponential backoff, ms.',
          default: 30_000,
          min: 1,
          max: 600_000,
        }),
        maxElapsedMs: s.int({
          doc: 'Dead-letter a batch after retrying it this long, ms; 0 retries until the receiver answers (consumption pauses meanwhile, Kafka keeps the records).',
          default: 0,
          min: 0,
          max: 7 * 24 * 3_600_000,
        }),
      },
      {
        doc: 'Retry of transient export failures (exponential backoff with jitter; a receiver-named delay wins).',
      },
    ),
    shutdownTimeoutMs: s.int({
      doc: 'On stop, how long to keep trying to deliver and commit what is buffered, ms; the rest is redelivered after the restart.',
      default: 10_000,
      min: 0,
      max: 600_000,
    }),
    runtime: s.object(
      {
        ...consumerFields,
        maxBatchBytes: maxBatchBytesSpec(
          'Most bytes one fetch returns per partition; with maxBufferedRecords it bounds memory while consumption is paused.',
        ),
        metricsIntervalMs: metricsIntervalSpec,
      },
      { doc: 'How the host consumes and reports (the same keys as processors.<name>.runtime).' },
    ),
  };
}

export type SinkHostFields = ReturnType<typeof sinkHostFields>;
export type SinkHostConfig = InferFields<SinkHostFields>;

export interface SinkContext<C> {
  /** The sink's validated config section (`sinks.<name>`). */
  readonly config: C;
  readonly logger: Logger;
  /** Redis (`redis.url`, else the local stack's), for a sink whose definition `needs: ['redis']`. */
  readonly redisUrl?: string;
}

/**
 * A flag of `meshpipe sink <name>`: it sets one key of the sink's section and wins over the file and the
 * environment, like every flag. `--help` lists it.
 */
export interface SinkFlag {
  /** The key it sets, dotted inside `sinks.<name>` (e.g. `endpoint`, `tls.ca`). */
  key: string;
  /** Shown in --help. */
  doc: string;
  /** Placeholder shown in --help, e.g. `<url>`. */
  value?: string;
  /** `meshpipe up` takes it too, as `--<sink name>-<flag>`, and runs the sink when it is given. */
  up?: boolean;
}

/** What a sink may ask the command that runs it for (it resolves them once, before the sink starts). */
export type SinkNeed = 'redis';

export interface SinkDefinition<F extends SinkHostFields & Fields, I extends TopicRef, T> {
  /** Kebab-case: the command (`meshpipe sink <name>`), the config section and the consumer group. */
  name: string;
  description: string;
  /** The topic the sink delivers. */
  input: I;
  /** Config under `sinks.<name>`, including sinkHostFields(). */
  config: ObjectSpec<F>;
  /** What the status line counts, e.g. `spans`. */
  unit?: string;
  /**
   * Turns one decoded record into what the exporter takes, off the export path. Throw a MeshpipeError
   * for a record that can never be delivered: it is dead-lettered alone, its batch goes on.
   */
  prepare(record: InputRecord<ValueOf<I>>, ctx: SinkContext<InferFields<F>>): T;
  /** Called once at start. */
  createExporter(ctx: SinkContext<InferFields<F>>): Exporter<T> | Promise<Exporter<T>>;
  /** More for `meshpipe sink <name> --help`: what it does, in a few sentences. */
  help?: string;
  /** Command lines for `meshpipe sink <name> --help`. */
  examples?: readonly string[];
  /** Flags of `meshpipe sink <name>` beyond the common ones (--listen, --brokers...), by flag name. */
  flags?: Record<string, SinkFlag>;
  /**
   * Whether `meshpipe up` runs this sink, given its validated section (e.g. "an endpoint is set");
   * absent: `up` never runs it, `meshpipe sink <name>` does.
   */
  runInUp?(config: InferFields<F>): boolean;
  /** Shared services the sink uses, handed to createExporter (SinkContext). */
  needs?: readonly SinkNeed[];
}

// biome-ignore lint/suspicious/noExplicitAny: any sink definition; its own module checks its types
export type AnySinkDefinition = SinkDefinition<any, any, any>;

/** Identity function that gives a sink module its types. */
export function defineSink<F extends SinkHostFields & Fields, I extends TopicRef, T>(
  definition: SinkDefinition<F, I, T>,
): SinkDefinition<F, I, T> {
  return definition;
}
