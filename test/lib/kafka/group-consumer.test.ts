import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FencingWindow, isInstanceFenced } from '../../../lib/kafka/group-consumer.ts';
import { kafkaError } from '../../../lib/kafka/kafka-error.ts';
import { errorCodes } from '../../../lib/kafka/librdkafka.ts';

describe('group consumer: a static member fenced out of its group', () => {
  it("knows librdkafka's fatal consumer error as fatal, and which fatal errors are a fencing", () => {
    // What the binding emits: ERR__FATAL, the reason only in the message, no isFatal flag.
    const fenced = kafkaError({
      code: errorCodes().ERR__FATAL,
      message:
        'Fatal error: Broker: Static consumer fenced by other consumer with same group.instance.id: Fatal consumer error',
    });
    assert.equal(fenced.fatal, true);
    assert.equal(isInstanceFenced(fenced), true);
    assert.equal(
      isInstanceFenced(kafkaError({ code: errorCodes().ERR_FENCED_INSTANCE_ID, message: 'x' })),
      true,
    );
    const other = kafkaError({
      code: errorCodes().ERR__FATAL,
      message: 'Fatal error: Broker: Invalid session timeout',
    });
    assert.equal(other.fatal, true);
    assert.equal(isInstanceFenced(other), false);
    assert.equal(
      kafkaError({ code: errorCodes().ERR__TRANSPORT, message: 'Broker transport failure' }).fatal,
      false,
    );
  });

  it('joins again once per window: fenced twice within it is fatal', () => {
    let now = 1_000_000;
    const window = new FencingWindow(120_000, () => now);
    assert.equal(window.mayRejoin(), true, 'the first fencing');
    now += 5_000;
    assert.equal(window.mayRejoin(), false, 'fenced again 5 s later: another process holds the id');
    now += 120_000;
    assert.equal(window.mayRejoin(), true, 'a fencing long after the last one is a new incident');
  });

  it('rejoins however often while the cluster moves: a fencing soon after a lost broker is its own join', () => {
    let now = 1_000_000;
    const window = new FencingWindow(120_000, () => now, 60_000);
    assert.equal(window.mayRejoin(), true, 'the first fencing');
    now += 15_000;
    window.brokerLost();
    now += 20_000;
    assert.equal(window.mayRejoin(), true, 'fenced 20 s after losing the broker: the new coordinator');
    now += 10_000;
    window.brokerLost();
    now += 15_000;
    assert.equal(window.mayRejoin(), true, 'and again after the next restart');
    now += 61_000;
    assert.equal(window.mayRejoin(), false, 'fenced again a minute after the cluster settled: someone else');
  });
});
