import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { codecFor } from '../../schemas/codec.ts';
import type { Span } from '../../schemas/types.ts';
import { type ReceivedRecord, subscribe } from '../../sdk/index.ts';
import { SPAN } from '../../testkit/fixtures.ts';
import { type TestKafka, testKafka, testLogger } from '../../testkit/kafka.ts';
import { poisonSpan } from '../helpers/avro-hostile.ts';
import { waitFor } from '../helpers/wait.ts';

describe('subscribe()', () => {
  let k: TestKafka;
  before(async () => {
    k = await testKafka('subscribe');
    await k.createTopics();
  });
  after(async () => k.cleanup());

  it('delivers decoded, typed records and reports undecodable ones, poison included, and goes on', async () => {
    const got: Array<ReceivedRecord<Span>> = [];
    const bad: string[] = [];
    const reasons: string[] = [];
    const sub = await subscribe('spans', (r) => void got.push(r), {
      brokers: k.brokers,
      topicPrefix: k.prefix,
      fromBeginning: true,
      logger: testLogger,
      onDecodeError: (err, where) => {
        bad.push(where.offset);
        reasons.push(err.message);
      },
    });
    try {
      await sub.ready;
      const producer = k.kafka.producer();
      await producer.connect();
      await producer.send({
        topic: k.topic('spans'),
        messages: [
          { key: SPAN.traceId, value: codecFor('span').encode(SPAN) },
          { key: SPAN.traceId, value: Buffer.from([0, 0, 0, 0]) },
          // A map claiming 2^28 entries: it exhausted the heap before the codec's bounds check.
          { key: SPAN.traceId, value: poisonSpan(SPAN) },
          { key: SPAN.traceId, value: codecFor('span').encode({ ...SPAN, spanId: '1'.repeat(16) }) },
        ],
      });
      await producer.disconnect();
      await waitFor('the spans and the decode errors', () => got.length === 2 && bad.length === 2);
      assert.deepEqual(bad, ['1', '2']);
      assert.match(reasons[1]!, /a map of 268435456 items/);
      assert.equal(got[1]!.value.spanId, '1'.repeat(16));
      assert.equal(got[0]!.value.local.service, 'orders');
      assert.equal(got[0]!.value.startTimeUnixNano, SPAN.startTimeUnixNano);
      assert.equal(got[0]!.key, SPAN.traceId);
    } finally {
      await sub.stop();
    }
  });
});
