/**
 * What the Kafka client benchmark asks of a client: one driver per candidate (kafkajs-driver.ts,
 * platformatic-driver.ts, confluent-driver.ts), each running the same scenario the way that client is
 * meant to be used, in a process of its own (worker.ts) so that CPU and memory are the client's.
 *
 * A scenario marks its measured window with `window.start()` and `window.end()` (the first start
 * counts): produce from the first send to the last acknowledgement (connecting is left out); consume
 * from the group's assignment to the last record (the first fetch included: it brings up to 1 MiB per
 * partition, a large share of a short backlog); the transactional loop from the first record received
 * to the last commit — what a consumer group spends joining is not the client's per-record cost.
 */

export const CLIENTS = ['kafkajs', 'platformatic', 'confluent'] as const;
export type ClientName = (typeof CLIENTS)[number];

export const COMPRESSIONS = ['none', 'gzip', 'lz4', 'zstd'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** How offsets join the transaction: EOS v1 (a transactional id per input partition, no group
 * generation) as the processor host does today, or KIP-447 (the consumer's group metadata). */
export type LoopMode = 'eos-v1' | 'kip-447';

export interface KafkaRecord {
  key: Buffer;
  value: Buffer;
}

export interface Window {
  start(): void;
  end(): void;
}

export interface ProduceCase {
  topic: string;
  /** Records to send: `pool[i % pool.length]`. */
  records: number;
  pool: readonly KafkaRecord[];
  /** Records per send() call, awaited one after the other (the collector's pattern). */
  perSend: number;
  compression: Compression;
}

export interface ConsumeCase {
  topic: string;
  groupId: string;
  /** Stop after this many records. */
  expected: number;
}

export interface LoopCase {
  input: string;
  output: string;
  groupId: string;
  /** Process the first `expected` records of the (single-partition) input. */
  expected: number;
  /** Input records per transaction, each giving one output record. */
  batchSize: number;
  mode: LoopMode;
}

export interface IdleCase {
  topic: string;
  groupId: string;
  /** Transactional producers initialised besides the plain one (a processor instance holds one per task). */
  transactionalProducers: number;
  transactionalIdPrefix: string;
}

export interface Driver {
  /** Compressions this client has without a codec package or native work of its own. */
  readonly compressions: readonly Compression[];
  /** Loop modes it supports. */
  readonly loopModes: readonly LoopMode[];
  produce(c: ProduceCase, window: Window): Promise<void>;
  /** Returns the value bytes received. */
  consume(c: ConsumeCase, window: Window): Promise<number>;
  /** Returns the transactions committed. */
  loop(c: LoopCase, window: Window): Promise<number>;
  /** Connects a producer and a consumer group member (plus transactional producers); returns a closer. */
  idle(c: IdleCase): Promise<() => Promise<void>>;
}

/** Splits `records` of a case into the slices sent one after the other. */
export function* sendSlices(c: ProduceCase): Generator<KafkaRecord[]> {
  for (let sent = 0; sent < c.records; sent += c.perSend) {
    const n = Math.min(c.perSend, c.records - sent);
    const slice: KafkaRecord[] = new Array(n);
    for (let i = 0; i < n; i++) slice[i] = c.pool[(sent + i) % c.pool.length]!;
    yield slice;
  }
}

/** The behaviour checks (checks.ts); here so that scenarios.ts can name them without importing checks.ts. */
export const CHECKS = [
  'read-committed-same-producer',
  'read-committed-abort-order',
  'read-committed-small-fetches',
  'fencing',
  'concurrent-transactions',
  'message-too-large',
  'partitioner',
  'pause-resume-seek',
  'co-partitioned-assignor',
  'static-membership',
  'admin',
] as const;
export type CheckName = (typeof CHECKS)[number] | 'capabilities' | 'member';
