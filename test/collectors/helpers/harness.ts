/**
 * What the collector tests share: a configuration pointed at a test's Kafka prefix, an in-process
 * Collector, a reader of the raw topic that keeps every record (bytes, key, partition, decoded value),
 * and the HTTP fixtures started inside pods. Real kernel, real traffic, real Kafka: nothing here stands
 * in for any of them.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Collector } from '../../../collectors/collector.ts';
import { type MeshpipeConfig, meshpipeConfigSpec } from '../../../lib/config/meshpipe-config.ts';
import { createKafka, type KafkaClient, kafkaOptionsFrom } from '../../../lib/kafka.ts';
import { topicCodec } from '../../../schemas/topic-codec.ts';
import { TOPICS } from '../../../schemas/topics.ts';
import type { L7RawEvent } from '../../../schemas/types.ts';
import { type Following, follow, testLogger } from '../../../testkit/kafka.ts';
import { type Pod, podExec, podSpawn, stopProcess } from '../../bpf/helpers/pods.ts';
import { waitFor } from '../../helpers/wait.ts';

export const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;

/** A random port for one test file's servers, so its capture filter sees its own traffic only. */
export function testPort(): number {
  return 20_000 + Math.floor(Math.random() * 20_000);
}

/** meshpipe's configuration for a test: brokers, topic prefix, and `collector` keys on top of defaults. */
export function collectorConfig(options: {
  brokers: readonly string[];
  prefix: string;
  node?: string;
  collector?: Record<string, unknown>;
}): MeshpipeConfig {
  return meshpipeConfigSpec.parseWithEnv(
    {
      kafka: { brokers: [...options.brokers], topicPrefix: options.prefix },
      node: { name: options.node ?? `test-node-${randomUUID().slice(0, 8)}` },
      // The collector runs inside the test process here, next to the test's own Kafka reader and
      // assertions: SCHED_IDLE would put those behind the broker too (it is tested in loader-process).
      collector: { metricsPort: 0, schedIdle: false, ...options.collector },
    },
    '',
    {},
  ) as MeshpipeConfig;
}

/** An in-process collector; stop it with `collector.stop()`. */
export async function startCollector(
  config: MeshpipeConfig,
): Promise<{ collector: Collector; kafka: KafkaClient }> {
  const kafka = createKafka(kafkaOptionsFrom(config, testLogger));
  const collector = new Collector({ config, kafka, logger: testLogger });
  await collector.start();
  return { collector, kafka };
}

export interface RawRecord {
  readonly partition: number;
  readonly offset: string;
  /** The event's key (its connection key: the record of a batch has none of its own). */
  readonly key: string;
  /** Position of the event in its batch record. */
  readonly index: number;
  /** The record value exactly as it is stored in Kafka (the whole batch: shared by its events). */
  readonly bytes: Buffer;
  readonly event: L7RawEvent;
}

/** Reads a raw topic from the beginning, in the background, keeping every record. */
export class RawTopicReader {
  readonly records: RawRecord[] = [];
  #consumer: Following | undefined;
  #failure: Error | null = null;

  static async start(kafka: KafkaClient, topic: string): Promise<RawTopicReader> {
    const codec = topicCodec<L7RawEvent>(TOPICS.raw);
    const reader = new RawTopicReader();
    reader.#consumer = await follow(kafka, {
      groupId: `test-reader-${randomUUID()}`,
      topics: [topic],
      eachMessage: ({ partition, message }) => {
        try {
          const events = codec.decodeRecord(message.value!);
          for (let index = 0; index < events.length; index++) {
            const event = events[index]!;
            reader.records.push({
              partition,
              offset: message.offset,
              key: codec.keyOf(event) ?? '',
              index,
              bytes: message.value!,
              event,
            });
          }
        } catch (err) {
          reader.#failure = err as Error;
        }
      },
    });
    return reader;
  }

  /** Events in topic order per partition, across partitions by capture time. */
  events(filter: (e: L7RawEvent) => boolean = () => true): L7RawEvent[] {
    return this.records
      .map((r) => r.event)
      .filter(filter)
      .sort((a, b) =>
        a.monotonicNs < b.monotonicNs ? -1 : a.monotonicNs > b.monotonicNs ? 1 : Number(a.seq - b.seq),
      );
  }

  async waitFor<T>(
    what: string,
    pick: (reader: RawTopicReader) => T | undefined | false,
    timeoutMs = 20_000,
  ) {
    return waitFor(
      what,
      () => {
        if (this.#failure !== null) throw this.#failure;
        return pick(this);
      },
      { timeoutMs, intervalMs: 50 },
    );
  }

  async stop(): Promise<void> {
    await this.#consumer?.stop();
  }
}

/** Events of one end of one TCP connection: in `pod`, with `clientPort` at either end. */
export function sideOf(events: readonly L7RawEvent[], pod: Pod, clientPort: number): L7RawEvent[] {
  return events.filter(
    (e) =>
      e.workload.netnsInode === BigInt(pod.inode) &&
      (e.connection.localPort === clientPort || e.connection.peerPort === clientPort),
  );
}

/** The bytes of every segment of some events, as Latin-1 text (heads; bodies only when shipped). */
export function shippedText(events: readonly L7RawEvent[]): string {
  let text = '';
  for (const e of events) for (const s of e.segments) if (s.data !== null) text += s.data.toString('latin1');
  return text;
}

/** Starts fixtures/http-server.ts in a pod and waits (bounded) until it listens. */
export async function startHttpServer(
  pod: Pod,
  listeners: string[],
  timeoutMs = 10_000,
): Promise<ChildProcess> {
  const child = podSpawn(pod, process.execPath, [`${FIXTURES}http-server.ts`, ...listeners]);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server in ${pod.ns} not ready: ${output}`)), timeoutMs);
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('ready\n')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server in ${pod.ns} exited (${code}): ${output}`));
    });
  });
  return child;
}

/**
 * nginx (the Debian package) inside a pod, on `port`, with its own prefix in a temp directory: a
 * master and one worker, `return 200` for `/` and a 64 KiB static body at `/static`.
 */
export async function startNginx(pod: Pod, port: number): Promise<{ stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'meshpipe-nginx-'));
  writeFileSync(join(dir, 'static'), Buffer.alloc(65_536, 'n'));
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 10000;
  server {
    listen ${port};
    location = / { return 200 "nginx ok\\n"; }
    location = /static { alias ${dir}/static; }
  }
}
`,
  );
  const child = podSpawn(pod, 'nginx', ['-p', dir, '-c', conf]);
  await waitFor(`nginx listening in ${pod.ns}`, async () => {
    if (child.exitCode !== null)
      throw new Error(`nginx exited: ${readFileSync(join(dir, 'error.log'), 'utf8')}`);
    const out = await podExec(pod, 'ss', ['-ltn', `sport = :${port}`]);
    return out.includes(`:${port}`);
  });
  return {
    async stop() {
      await stopProcess(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
