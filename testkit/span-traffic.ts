/**
 * Span traffic for the OTLP sink tests: whole traces (an edge SERVER span at `gateway`, its CLIENT call
 * to `orders`, and the SERVER span at `orders`), produced to the spans topic of a test Kafka, plus
 * helpers to read back what the sink committed and dead-lettered.
 */
import { type KafkaClient, readPartitionsToEnd } from '../lib/kafka.ts';
import { codecFor } from '../schemas/codec.ts';
import { TOPICS } from '../schemas/topics.ts';
import type { DeadLetter, Span } from '../schemas/types.ts';
import { otlpSink } from '../sinks/otlp/sink.ts';
import { type RunningSink, startSink } from '../sinks/runtime/host.ts';
import { EXACT_NS, SPAN } from './fixtures.ts';
import { type TestKafka, testKafka, testLogger } from './kafka.ts';
import type { OtlpReceiver } from './otlp-receiver.ts';

export const spanCodec = codecFor<Span>('span');

/** A CLIENT span of another process that failed: the other shape of span the encoder tests use. */
export const CLIENT_SPAN: Span = {
  ...SPAN,
  spanId: '1111111111111111',
  kind: 'CLIENT',
  name: 'GET',
  status: 'ERROR',
  statusMessage: 'no response',
  local: { ...SPAN.local, service: 'gateway', pod: 'gateway', pid: 200, address: '10.200.0.1', port: 51234 },
  peer: {
    ...SPAN.peer,
    service: 'orders',
    pod: 'orders',
    namespace: null,
    address: '10.200.0.2',
    port: 8080,
  },
  http: { ...SPAN.http, host: null, statusCode: null, target: '/users/42?verbose=1', route: null },
  errorType: 'timeout',
  incomplete: true,
  incompleteReason: 'timeout',
  link: { method: 'PROCESS_CAUSALITY', confidence: 0.75 },
};

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** `count` traces of three spans each, with distinct, odd nanosecond timestamps above 2^53. */
export function makeTraces(count: number, seed = 1): Span[] {
  const spans: Span[] = [];
  for (let i = 0; i < count; i++) {
    const n = seed * 100_000 + i;
    const traceId = `${hex(0xabc, 8)}${hex(n, 24)}`;
    const edge = `e${hex(n, 15)}`;
    const call = `c${hex(n, 15)}`;
    const served = `5${hex(n, 15)}`;
    const t0 = EXACT_NS + BigInt(n) * 1_000_003n;
    const gateway = {
      ...SPAN.local,
      service: 'gateway',
      pod: 'gateway',
      pid: 200,
      tid: 201,
      address: '10.200.0.1',
    };
    spans.push(
      {
        ...SPAN,
        traceId,
        spanId: edge,
        parentSpanId: null,
        name: 'GET /orders/{id}',
        startTimeUnixNano: t0,
        endTimeUnixNano: t0 + 5_000_001n,
        local: { ...gateway, port: 80 },
        peer: {
          service: null,
          pod: null,
          namespace: null,
          address: '10.200.0.9',
          port: 40000 + (i % 1000),
          workload: null,
          workloadKind: null,
        },
      },
      {
        ...SPAN,
        traceId,
        spanId: call,
        parentSpanId: edge,
        kind: 'CLIENT',
        name: 'GET',
        startTimeUnixNano: t0 + 1_000_007n,
        endTimeUnixNano: t0 + 4_000_009n,
        local: { ...gateway, port: 51234 },
        link: { method: 'PROCESS_CAUSALITY', confidence: 0.9 },
      },
      {
        ...SPAN,
        traceId,
        spanId: served,
        parentSpanId: call,
        startTimeUnixNano: t0 + 1_500_011n,
        endTimeUnixNano: t0 + 3_500_013n,
        link: { method: 'TCP_CONNECTION', confidence: 1 },
      },
    );
  }
  return spans;
}

/** Produces in sends of `chunk` messages (small sends make small record batches on the broker). */
export async function produce(
  kafka: KafkaClient,
  topic: string,
  messages: Array<{ key: string; value: Buffer }>,
  chunk = 500,
): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += chunk)
      await producer.send({ topic, messages: messages.slice(i, i + chunk) });
  } finally {
    await producer.disconnect();
  }
}

export function produceSpans(k: TestKafka, spans: readonly Span[], chunk?: number): Promise<void> {
  return produce(
    k.kafka,
    k.topic('spans'),
    spans.map((s) => ({ key: s.traceId, value: spanCodec.encode(s) })),
    chunk,
  );
}

/** A test Kafka with only the topics a sink needs. */
export async function sinkKafka(name: string): Promise<TestKafka> {
  const k = await testKafka(name);
  await k.createTopics([TOPICS.spans, TOPICS.dlq, TOPICS.metrics]);
  return k;
}

/** Settings that keep tests quick: small batches, short waits. */
export const QUICK = {
  batchSize: 20,
  lingerMs: 100,
  retry: { initialBackoffMs: 100, maxBackoffMs: 500 },
  shutdownTimeoutMs: 3000,
  runtime: { maxWaitMs: 100, metricsIntervalMs: 1000 },
};

export async function startOtlpSink(
  k: TestKafka,
  receiver: OtlpReceiver,
  section: Record<string, unknown> = {},
): Promise<RunningSink> {
  const config = otlpSink.config.parse({ endpoint: receiver.endpoint, ...QUICK, ...section }, 'sinks.otlp');
  const sink = await startSink(otlpSink, config, {
    kafka: k.kafka,
    brokers: k.brokers,
    topicPrefix: k.prefix,
    logger: testLogger,
    onStatus: () => {},
  });
  await sink.ready;
  return sink;
}

/** Committed offset per partition of a group ('-1': none). */
export async function committed(k: TestKafka, groupId: string): Promise<Map<number, string>> {
  const offsets = (await k.admin.committedOffsets(groupId, [k.topic('spans')])).get(k.topic('spans'))!;
  return new Map([...offsets].map(([partition, offset]) => [partition, String(offset)]));
}

/** True once the group committed every record of the spans topic. */
export async function allCommitted(k: TestKafka, groupId: string): Promise<boolean> {
  const [ends, offsets] = await Promise.all([k.admin.topicOffsets(k.topic('spans')), committed(k, groupId)]);
  return ends.every((e) => e.high === 0n || offsets.get(e.partition) === String(e.high));
}

const deadLetterCodec = codecFor<DeadLetter>('dead-letter');

/** Every dead letter on the test's dead-letter topic, read from the start. */
export async function readDeadLetters(k: TestKafka): Promise<DeadLetter[]> {
  const topic = k.topic('dlq');
  const letters: DeadLetter[] = [];
  const partitions = (await k.admin.topicOffsets(topic)).map((o) => o.partition);
  await readPartitionsToEnd({
    kafka: k.kafka,
    admin: k.admin,
    topic,
    partitions,
    onRecord: (_partition, message) => void letters.push(deadLetterCodec.decode(message.value!)),
  });
  return letters;
}
