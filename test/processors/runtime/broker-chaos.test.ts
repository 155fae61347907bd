/**
 * Broker chaos during exactly-once processing. span-assembler runs as a user runs it (`meshpipe process
 * span-assembler`, a child process) on a Kafka cluster of the test's own, while inputs keep arriving and
 * brokers are stopped and started mid-transaction:
 *
 * - one broker, stopped three times (SIGKILL, SIGTERM, SIGKILL) and started again;
 * - three brokers (replication factor 3, min.insync.replicas 2, the transaction state log replicated):
 *   the broker that coordinates one of the processor's transactional ids — found with FindCoordinator —
 *   killed, started again, then the coordinator (found again) stopped gracefully and started again.
 *
 * Every exchange of the input is one request and one response, captured at both ends of its connection,
 * so it must become exactly one CLIENT and one SERVER span. The outputs are read with read_committed
 * isolation after the processor stopped: each expected span exactly once, nothing missing, nothing
 * duplicated, nothing incomplete, nothing dead-lettered. Inputs are produced, outputs read and the
 * cluster asked with Apache Kafka's own Java client (../../helpers/apache-kafka-client.ts), not with
 * meshpipe's Kafka code. Waits are for facts (the group's committed offsets moved, the cluster is whole
 * again), each bounded.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, type TestContext, test } from 'node:test';
import { codecFor } from '../../../schemas/codec.ts';
import { topicCodec } from '../../../schemas/topic-codec.ts';
import { TOPICS, topicName } from '../../../schemas/topics.ts';
import type { L7RawEvent, Span, TraceLinkingEvent } from '../../../schemas/types.ts';
import {
  type ApacheKafkaClient,
  apacheKafkaClient,
  type JavaProducer,
  type Watcher,
} from '../../helpers/apache-kafka-client.ts';
import { startTestCluster, type TestCluster, type TestClusterNode } from '../../helpers/kafka-broker.ts';
import { waitFor } from '../../helpers/wait.ts';
import { Connection, type Endpoint, MS, T0 } from '../raw-events.ts';
import { type RunningCli, startCli, TEST_RUNTIME } from './helpers.ts';

/** Connections, each carrying its exchanges one after another (they spread over the 6 partitions). */
const CONNECTIONS = 24;
/** Exchanges produced at a time (4 records each). */
const SLICE = 100;

const rawEvent = codecFor<L7RawEvent>('l7-raw-event');
const spanCodec = codecFor<Span>('span');
const linking = topicCodec<TraceLinkingEvent>(TOPICS.linking);

/** The inputs: exchange i on connection i % CONNECTIONS, path /chaos/<i>, 4 events each. */
class Workload {
  readonly #connections: Connection[];
  #next = 0;

  constructor() {
    const server: Endpoint = { node: 'node-b', pid: 500, service: 'api', address: '10.2.0.1', port: 8080 };
    this.#connections = Array.from(
      { length: CONNECTIONS },
      (_, c) =>
        new Connection(
          { node: 'node-a', pid: 100 + c, service: 'web', address: '10.1.0.1', port: 30_000 + c },
          server,
        ),
    );
  }

  get exchanges(): number {
    return this.#next;
  }

  /** The events of the next `count` exchanges, in time order per connection. */
  take(count: number): L7RawEvent[] {
    const events: L7RawEvent[] = [];
    for (let n = 0; n < count; n++) {
      const i = this.#next++;
      const conn = this.#connections[i % CONNECTIONS]!;
      const body = `{"i":${i}}`;
      const [client, server] = conn.exchange(
        T0 + BigInt(i) * 2n * MS,
        `GET /chaos/${i} HTTP/1.1\r\nHost: api\r\n\r\n`,
        `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      // As the two collectors would send them: the request written, read, answered, the answer read.
      events.push(client[0]!, server[0]!, server[1]!, client[1]!);
    }
    return events;
  }

  /** Every span the exchanges so far must become, once each. */
  expected(): string[] {
    const keys: string[] = [];
    for (let i = 0; i < this.#next; i++) keys.push(`CLIENT /chaos/${i}`, `SERVER /chaos/${i}`);
    return keys;
  }
}

function send(producer: JavaProducer, events: readonly L7RawEvent[]): void {
  for (const ev of events) producer.send(Buffer.from(ev.connection.key), rawEvent.encode(ev));
}

/** A span of the output, its identity (kind and path) and where it was read (partition@offset). */
interface Located {
  span: Span;
  key: string;
  at: string;
}

/** One chaos run: the cluster, the processor on it, the producer of its inputs. */
class Run {
  readonly prefix = `chaos-${randomBytes(4).toString('hex')}`;
  readonly input = topicName(TOPICS.raw, this.prefix);
  readonly output = topicName(TOPICS.linking, this.prefix);
  readonly dlq = topicName(TOPICS.dlq, this.prefix);
  readonly group = `${this.prefix}-span-assembler`;
  readonly workload = new Workload();
  processor: RunningCli | undefined;
  producer: JavaProducer | undefined;
  watcher: Watcher | undefined;
  readonly #client: ApacheKafkaClient;
  readonly #cluster: TestCluster;
  readonly #t: TestContext;
  readonly #started: number;

  constructor(t: TestContext, client: ApacheKafkaClient, cluster: TestCluster, started: number) {
    this.#t = t;
    this.#started = started;
    this.#client = client;
    this.#cluster = cluster;
  }

  /** `meshpipe process span-assembler` on the cluster; resolves once it processes. */
  async start(replicationFactor: number): Promise<void> {
    const config = join(mkdtempSync(join(tmpdir(), 'meshpipe-chaos-')), 'meshpipe.json');
    writeFileSync(
      config,
      JSON.stringify({
        kafka: { replicationFactor },
        processors: {
          'span-assembler': {
            // Spans wait briefly for their other end; no exchange may time out while a broker is down.
            pairWaitMs: 200,
            punctuateMs: 100,
            exchangeTimeoutMs: 600_000,
            // Small batches: many transactions, so a broker stops while some are open. A commit waits
            // for the transaction coordinator's successor (the controller fences a killed broker after
            // its 9 s session): polls pause meanwhile, so the poll interval (the rebalance timeout) is
            // the default's order, not TEST_RUNTIME's 6 s, or the group expels the instance every time.
            runtime: { ...TEST_RUNTIME, rebalanceTimeoutMs: 40_000, maxBatchBytes: 16_384 },
          },
        },
      }),
    );
    this.processor = startCli(['process', 'span-assembler'], {
      MESHPIPE_CONFIG: config,
      MESHPIPE_KAFKA_BROKERS: this.#cluster.brokers.join(','),
      MESHPIPE_TOPIC_PREFIX: this.prefix,
    });
    const processor = this.processor;
    await waitFor(
      'span-assembler processing',
      () => {
        if (processor.child.exitCode !== null)
          throw new Error(`it exited: ${processor.stderr().slice(-3000)}`);
        return processor.stderr().includes('"msg":"processing"');
      },
      { timeoutMs: 60_000 },
    );
    this.note('span-assembler processing');
    this.producer = this.#client.produce(this.#cluster.brokers, this.input);
    this.watcher = this.#client.watch(this.#cluster.brokers, this.group, this.input);
  }

  /** Waits until the cluster is whole again: every broker up, every partition fully replicated. */
  async whole(brokers: number): Promise<void> {
    const since = Date.now();
    await waitFor(
      'every broker up and every partition fully replicated',
      () => {
        const s = this.watcher!.latest();
        return s !== undefined && s.at > since && s.brokers === brokers && s.underReplicated === 0;
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
  }

  /**
   * Produces inputs until the processor is seen part-way through them — some of the new ones committed,
   * not all — so that a broker stopped now interrupts open transactions (at most 8 slices).
   */
  async load(): Promise<void> {
    for (let slice = 1; ; slice++) {
      const before = await this.watcher!.next();
      send(this.producer!, this.workload.take(SLICE));
      const now = await waitFor(
        'the processor committing new inputs',
        () => {
          this.#alive();
          const s = this.watcher!.latest()!;
          return s.committed > before.committed && s;
        },
        { timeoutMs: 60_000, intervalMs: 20 },
      );
      if (now.committed < now.end || slice === 8) {
        this.note(`${now.committed} of ${now.end} input records committed`);
        return;
      }
    }
  }

  /** More inputs, produced while a broker is down: the producer retries until it is back. */
  more(): void {
    send(this.producer!, this.workload.take(SLICE));
  }

  /** Ends the input, waits for every span, stops the processor and checks its outputs. */
  async finish(): Promise<void> {
    const produced = await this.producer!.end();
    assert.deepEqual(produced, { acked: this.workload.exchanges * 4, failed: 0, error: null });
    const expected = this.workload.expected();
    await waitFor(
      'every input committed',
      () => {
        this.#alive();
        const s = this.watcher!.latest()!;
        return s.end === produced.acked && s.committed === s.end;
      },
      { timeoutMs: 90_000, intervalMs: 50 },
    );
    this.note(`all ${produced.acked} input records committed`);
    // Spans waiting for their other end go out at the next punctuations.
    await waitFor('every span in the output', async () => (await this.spans()).length >= expected.length, {
      timeoutMs: 30_000,
      intervalMs: 500,
    });
    this.note('every span out');
    const processor = this.processor!;
    processor.child.kill('SIGTERM');
    assert.equal(await processor.exited, 0, `graceful stop: ${processor.stderr().slice(-3000)}`);
    this.note('span-assembler stopped');

    const spans = await this.spans();
    const counts = new Map<string, number>();
    for (const { key } of spans) counts.set(key, (counts.get(key) ?? 0) + 1);
    const missing = expected.filter((key) => !counts.has(key));
    const duplicated = [...counts].filter(([, n]) => n > 1).map(([key, n]) => `${key} ×${n}`);
    const unexpected = [...counts.keys()].filter((key) => !expected.includes(key));
    // Where the copies of the first duplicate are (partition@offset of their records), for the broker's log.
    const first = duplicated[0]?.split(' ×')[0];
    const copies = spans.filter((s) => s.key === first).map((s) => `${s.at} ${s.span.spanId}`);
    assert.deepEqual(
      {
        missing: missing.slice(0, 20),
        duplicated: duplicated.slice(0, 20),
        unexpected: unexpected.slice(0, 20),
      },
      { missing: [], duplicated: [], unexpected: [] },
      `${spans.length} spans for ${expected.length} expected (copies of ${first}: ${copies.join(', ')}); the processor's log: ${this.saveLog()}`,
    );
    assert.equal(spans.length, expected.length);
    assert.deepEqual(
      spans.filter((s) => s.span.incomplete).map((s) => `${s.key}: ${s.span.incompleteReason}`),
      [],
      'no exchange became an incomplete span',
    );
    assert.deepEqual(await this.#client.read(this.#cluster.brokers, this.dlq), [], 'nothing dead-lettered');
  }

  /** Every span of the output topic, read_committed from the beginning to the end, and where it is. */
  async spans(): Promise<Located[]> {
    const spans: Located[] = [];
    for (const record of await this.#client.read(this.#cluster.brokers, this.output)) {
      for (const event of linking.decodeRecord(record.value!)) {
        if (event.kind !== 'SPAN') continue;
        const span = spanCodec.decode(event.span!);
        spans.push({
          span,
          key: `${span.kind} ${span.http.path}`,
          at: `${record.partition}@${record.offset}`,
        });
      }
    }
    return spans;
  }

  /** Says what happened, and when (seconds since the case began): where the time goes. */
  note(what: string): void {
    this.#t.diagnostic(`${((Date.now() - this.#started) / 1000).toFixed(1)} s: ${what}`);
  }

  /** A processor that exited on its own never recovered: that fails the test at once. */
  #alive(): void {
    const processor = this.processor!;
    if (processor.child.exitCode !== null) {
      throw new Error(
        `span-assembler exited with ${processor.child.exitCode} (its log: ${this.saveLog()}): ${processor.stderr().slice(-3000)}`,
      );
    }
  }

  /** The processor's log so far, to a file; its path. */
  saveLog(): string {
    const log = join(mkdtempSync(join(tmpdir(), 'meshpipe-chaos-log-')), 'span-assembler.log');
    writeFileSync(log, this.processor?.stderr() ?? '');
    return log;
  }

  kill(): void {
    this.watcher?.close();
    this.producer?.kill();
    this.processor?.child.kill('SIGKILL');
  }
}

describe('processor host: exactly once while brokers stop and start', () => {
  let client: ApacheKafkaClient;
  before(() => {
    client = apacheKafkaClient();
  });

  /** A cluster and a run on it, both torn down when the test ends, whatever happened. */
  async function chaos(t: TestContext, options: Parameters<typeof startTestCluster>[0]) {
    const started = Date.now();
    const cluster = await startTestCluster(options);
    const run = new Run(t, client, cluster, started);
    t.after(async () => {
      // Still running: the test failed before the end; its log tells why.
      if (run.processor?.child.exitCode === null) t.diagnostic(`span-assembler's log: ${run.saveLog()}`);
      run.kill();
      await cluster.stop();
    });
    run.note(`${options.size} broker(s) up`);
    return { cluster, run };
  }

  /** Stops a broker and starts it again, with inputs produced while it is down. */
  async function bounce(run: Run, broker: TestClusterNode, how: 'kill' | 'graceful'): Promise<void> {
    await broker.stop(how);
    run.note(`broker ${broker.id} ${how === 'kill' ? 'killed' : 'stopped'}`);
    run.more();
    await broker.start();
    run.note(`broker ${broker.id} started again`);
  }

  test('one broker, stopped and started three times mid-transaction', { timeout: 480_000 }, async (t) => {
    const { cluster, run } = await chaos(t, { size: 1 });
    await run.start(1);
    for (const how of ['kill', 'graceful', 'kill'] as const) {
      await run.load();
      await bounce(run, cluster.node(1), how);
    }
    await run.finish();
  });

  test('three brokers, the transaction coordinator stopped and started', { timeout: 480_000 }, async (t) => {
    const { cluster, run } = await chaos(t, {
      size: 3,
      properties: {
        'default.replication.factor': '3',
        'min.insync.replicas': '2',
        'offsets.topic.replication.factor': '3',
        'transaction.state.log.replication.factor': '3',
        'transaction.state.log.min.isr': '2',
      },
    });
    await run.start(3);
    await run.whole(3);
    for (const how of ['kill', 'graceful'] as const) {
      // Asked before the load: the coordinators stay where they are while every broker is up.
      const coordinators = await waitFor('the transactional ids of the processor', async () => {
        const found = await client.coordinators(cluster.brokers, run.prefix);
        return Object.keys(found).length > 0 && found;
      });
      const [id, txn] = Object.entries(coordinators).sort(([a], [b]) => a.localeCompare(b))[0]!;
      await run.load();
      run.note(`broker ${txn.coordinator} coordinates ${id}`);
      await bounce(run, cluster.node(txn.coordinator), how);
      await run.whole(3);
      run.note('every partition in sync again');
    }
    await run.finish();
  });
});
