/**
 * What the Kafka client benchmark runs, and the records it runs with.
 *
 * Records: a ~400-byte record is one Avro-encoded raw event of bench/span-assembler's recorded-shape
 * workload (what the collector produces today, keyed by connection); a ~64 KiB record is ~170 of those
 * events end to end, each length-prefixed (what a record carrying a batch of events looks like to a
 * client and to a compressor). Pools are cycled: pool[i % pool.length].
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin } from 'kafkajs';
import { codecFor } from '../../../schemas/codec.ts';
import type { L7RawEvent } from '../../../schemas/types.ts';
import { keepAliveWorkload } from '../../span-assembler/workload.ts';
import type { CheckName, ConsumeCase, IdleCase, KafkaRecord, LoopCase, ProduceCase } from './driver.ts';

export type Scenario =
  | { kind: 'produce'; case: Omit<ProduceCase, 'pool'>; poolFile: string }
  | { kind: 'consume'; case: ConsumeCase }
  | { kind: 'loop'; case: LoopCase }
  | { kind: 'idle'; case: IdleCase }
  | { kind: 'check'; check: CheckName; prefix: string };

export const RECORD_SIZES = { event: 400, batch: 65_536 } as const;
export type RecordSize = keyof typeof RECORD_SIZES;

export interface Pools {
  event: KafkaRecord[];
  batch: KafkaRecord[];
  files: Record<RecordSize, string>;
  avgBytes: Record<RecordSize, number>;
}

function writePool(path: string, pool: readonly KafkaRecord[]): void {
  const parts: Buffer[] = [];
  for (const r of pool) {
    const k = Buffer.alloc(4);
    k.writeUInt32BE(r.key.length);
    const v = Buffer.alloc(4);
    v.writeUInt32BE(r.value.length);
    parts.push(k, r.key, v, r.value);
  }
  writeFileSync(path, Buffer.concat(parts));
}

/** Builds both pools from the workload and writes them where workers read them. */
export function buildPools(dir: string): Pools {
  const workload = keepAliveWorkload({ connections: 300, exchangesPerConnection: 12 });
  const codec = codecFor<L7RawEvent>('l7-raw-event');
  const events = workload.events.map((ev) => ({
    key: Buffer.from(ev.connection.key),
    value: codec.encode(ev),
  }));
  const event = events.slice(0, 4096);
  const batch: KafkaRecord[] = [];
  let at = 0;
  while (batch.length < 48 && at < events.length) {
    const key = events[at]!.key;
    const parts: Buffer[] = [];
    let bytes = 0;
    while (bytes < RECORD_SIZES.batch - 600 && at < events.length) {
      const value = events[at++]!.value;
      const length = Buffer.alloc(4);
      length.writeUInt32BE(value.length);
      parts.push(length, value);
      bytes += 4 + value.length;
    }
    batch.push({ key, value: Buffer.concat(parts) });
  }
  const files = { event: join(dir, 'pool-event.bin'), batch: join(dir, 'pool-batch.bin') };
  writePool(files.event, event);
  writePool(files.batch, batch);
  const avg = (pool: KafkaRecord[]) =>
    Math.round(pool.reduce((a, r) => a + r.key.length + r.value.length, 0) / pool.length);
  return { event, batch, files, avgBytes: { event: avg(event), batch: avg(batch) } };
}

/**
 * Records per awaited send(): the collector sends up to 2000 events per request; a client makes one
 * record batch per partition per request, which the broker refuses over the topic's max.message.bytes
 * (1 MB), so large records go fewer per send — the same slices for every client.
 */
export function perSend(recordBytes: number, partitions: number): number {
  return Math.min(2000, partitions * Math.max(1, Math.floor(900_000 / recordBytes)));
}

/**
 * Creates a topic and waits until every partition has a leader. kafkajs's own `waitForLeaders` gives up
 * with UNKNOWN_TOPIC_OR_PARTITION when a loaded broker is slow to propagate the new topic's metadata
 * (only LEADER_NOT_AVAILABLE is retried).
 */
export async function createTopic(
  admin: Admin,
  topic: string,
  partitions: number,
  configs: Record<string, string> = {},
): Promise<void> {
  await admin.createTopics({
    topics: [
      {
        topic,
        numPartitions: partitions,
        configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })),
      },
    ],
    // Its wait bails out on UNKNOWN_TOPIC_OR_PARTITION, from a promise nobody awaits (an uncaught error).
    waitForLeaders: false,
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const p = topics[0]?.partitions ?? [];
      if (p.length === partitions && p.every((x) => x.leader >= 0)) return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`topic ${topic}: no leader for every partition within 60 s`);
    await sleep(200);
  }
}
