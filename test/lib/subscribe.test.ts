import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ReceivedRecord, subscribe } from '../../index.ts';
import { partitioner } from '../../lib/kafka.ts';
import { codecFor } from '../../schemas/codec.ts';
import type { Span } from '../../schemas/types.ts';
import { SPAN } from '../helpers/fixtures.ts';
import { type TestKafka, testKafka, testLogger } from '../helpers/kafka.ts';
import { waitFor } from '../helpers/wait.ts';

describe('subscribe()', () => {
  let k: TestKafka;
  before(async () => {
    k = await testKafka('subscribe');
    await k.createTopics();
  });
  after(async () => k.cleanup());

  it('delivers decoded, typed records and reports undecodable ones', async () => {
    const got: Array<ReceivedRecord<Span>> = [];
    const bad: string[] = [];
    const sub = await subscribe('spans', (r) => void got.push(r), {
      brokers: k.brokers,
      topicPrefix: k.prefix,
      fromBeginning: true,
      logger: testLogger,
      onDecodeError: (_err, where) => bad.push(where.offset),
    });
    try {
      await sub.ready;
      const producer = k.kafka.producer({ createPartitioner: partitioner });
      await producer.connect();
      await producer.send({
        topic: k.topic('spans'),
        messages: [
          { key: SPAN.traceId, value: codecFor('span').encode(SPAN) },
          { key: SPAN.traceId, value: Buffer.from([0, 0, 0, 0]) },
        ],
      });
      await producer.disconnect();
      await waitFor('the span and the decode error', () => got.length === 1 && bad.length === 1);
      assert.equal(got[0]!.value.local.service, 'orders');
      assert.equal(got[0]!.value.startTimeUnixNano, SPAN.startTimeUnixNano);
      assert.equal(got[0]!.key, SPAN.traceId);
    } finally {
      await sub.stop();
    }
  });
});
