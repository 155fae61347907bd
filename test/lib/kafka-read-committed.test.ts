/**
 * read_committed with transactions aborted in another order than they began (lib/kafka-read-committed.ts): on
 * decoded fetch responses, table-driven, and on the broker, where two transactional producers write one
 * partition and the later one is aborted first — what a restarted processor instance does when it fences
 * the open transactions of the instance that was killed.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import {
  type FetchedPartition,
  type FetchedRecord,
  hideAbortedRecords,
  installReadCommittedFix,
} from '../../lib/kafka-read-committed.ts';
import { readPartitionsToEnd } from '../../processors/runtime/partition-reader.ts';
import { type TestKafka, testKafka, testLogger } from '../helpers/kafka.ts';

const ABORT = Buffer.from([0, 0, 0, 0]);
const COMMIT = Buffer.from([0, 0, 0, 1]);

/** One record per batch: `[offset, producer, kind]`, kind d = transactional data, n = not transactional. */
type Row = [offset: number, producerId: string, kind: 'd' | 'n' | 'abort' | 'commit'];

function partition(rows: Row[], aborted: Array<[producerId: string, firstOffset: number]>): FetchedPartition {
  const messages: FetchedRecord[] = rows.map(([offset, producerId, kind]) => ({
    offset: String(offset),
    key: kind === 'abort' ? ABORT : kind === 'commit' ? COMMIT : Buffer.from(`k${offset}`),
    isControlRecord: kind === 'abort' || kind === 'commit',
    batchContext: {
      firstOffset: String(offset),
      lastOffsetDelta: 0,
      producerId,
      inTransaction: kind !== 'n',
      isControlBatch: kind === 'abort' || kind === 'commit',
    },
  }));
  return {
    abortedTransactions: aborted.map(([producerId, firstOffset]) => ({
      producerId,
      firstOffset: String(firstOffset),
    })),
    messages,
  };
}

const visible = (p: FetchedPartition) =>
  p.messages.filter((m) => !m.isControlRecord).map((m) => Number(m.offset));

// The layout of the duplicate seen on a 4.1.1 broker: producer 1036's transaction began at 643,
// 1037's at 644; the restarted instance's fencing aborted 1037 first (marker 669), then 1036 (670).
const FENCED_OUT_OF_ORDER: Row[] = [
  [642, '1036', 'commit'],
  [643, '1036', 'd'],
  [644, '1037', 'd'],
  [645, '1037', 'd'],
  [646, '9', 'n'],
  [669, '1037', 'abort'],
  [670, '1036', 'abort'],
  [671, '1036', 'd'],
  [672, '1036', 'commit'],
];

const CASES: Array<{ name: string; rows: Row[]; aborted: Array<[string, number]>; visible: number[] }> = [
  {
    name: 'aborted transactions listed in marker order, not first-offset order',
    rows: FENCED_OUT_OF_ORDER,
    aborted: [
      ['1037', 644],
      ['1036', 643],
    ],
    visible: [646, 671],
  },
  {
    name: 'a fetch that starts inside two aborted transactions',
    rows: FENCED_OUT_OF_ORDER.slice(3),
    aborted: [
      ['1036', 643],
      ['1037', 644],
    ],
    visible: [646, 671],
  },
  {
    name: 'a producer aborted, then committing again',
    rows: [
      [0, 'a', 'd'],
      [1, 'a', 'abort'],
      [2, 'a', 'd'],
      [3, 'a', 'commit'],
    ],
    aborted: [['a', 0]],
    visible: [2],
  },
  {
    name: 'nothing aborted',
    rows: [
      [0, 'a', 'd'],
      [1, 'a', 'commit'],
      [2, 'b', 'n'],
    ],
    aborted: [],
    visible: [0, 2],
  },
];

describe('read_committed: hiding aborted transactions', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const p = partition(c.rows, c.aborted);
      hideAbortedRecords(p);
      assert.deepEqual(visible(p), c.visible);
      assert.deepEqual(p.abortedTransactions, [], "kafkajs's own filter is left nothing to do");
    });
  }

  it("kafkajs 2.2.4's own filter lets the first of them through (why lib/kafka-read-committed.ts exists)", () => {
    const filter = createRequire(import.meta.url)('kafkajs/src/consumer/filterAbortedMessages.js') as (a: {
      messages: FetchedRecord[];
      abortedTransactions: FetchedPartition['abortedTransactions'];
    }) => FetchedRecord[];
    const p = partition(FENCED_OUT_OF_ORDER, [
      ['1037', 644],
      ['1036', 643],
    ]);
    const kept = filter({ messages: p.messages, abortedTransactions: p.abortedTransactions })
      .filter((m) => !m.isControlRecord)
      .map((m) => Number(m.offset));
    assert.deepEqual(kept, [643, 646, 671]);
  });

  it('is installed in every fetch version that carries aborted transactions', () => {
    assert.equal(installReadCommittedFix(), 8);
  });
});

describe('read_committed on the broker', () => {
  let k: TestKafka;
  let topic: string;
  before(async () => {
    k = await testKafka('read-committed');
    topic = `${k.prefix}.test.read-committed.v1`;
    await k.admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  });
  after(async () => k.cleanup());

  it('hides two transactions on one partition aborted in the reverse order of their start', async () => {
    const producers = ['first', 'second', 'third'].map((id) =>
      k.kafka.producer({ transactionalId: `${k.prefix}-${id}`, maxInFlightRequests: 1 }),
    );
    await Promise.all(producers.map((p) => p.connect()));
    const [first, second, third] = producers as [
      (typeof producers)[0],
      (typeof producers)[0],
      (typeof producers)[0],
    ];
    try {
      const a = await first.transaction();
      await a.send({ topic, messages: [{ key: 'a', value: 'aborted, began first' }] });
      const b = await second.transaction();
      await b.send({ topic, messages: [{ key: 'b', value: 'aborted, began second' }] });
      await b.abort();
      await a.abort();
      const c = await third.transaction();
      await c.send({ topic, messages: [{ key: 'c', value: 'committed' }] });
      await c.commit();
    } finally {
      await Promise.all(producers.map((p) => p.disconnect()));
    }
    const seen: string[] = [];
    await readPartitionsToEnd({
      kafka: k.kafka,
      admin: k.admin,
      topic,
      partitions: [0],
      groupPrefix: `${k.prefix}-reader`,
      logger: testLogger,
      onRecord: (_p, message) => seen.push(message.value!.toString()),
    });
    assert.deepEqual(seen, ['committed']);
  });
});
