import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { consumerTuning } from '../../../lib/kafka.ts';

const SETTINGS = {
  startFrom: 'earliest' as const,
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
  maxWaitMs: 500,
  maxBatchBytes: 2_097_152,
};

describe('consumerTuning', () => {
  it('maps the runtime keys of a processor or sink to the group consumer options', () => {
    assert.deepEqual(consumerTuning({ ...SETTINGS, rebalanceTimeoutMs: 60_000 }), {
      fromBeginning: true,
      sessionTimeoutMs: 30_000,
      heartbeatIntervalMs: 3_000,
      rebalanceTimeoutMs: 60_000,
      maxWaitMs: 500,
      maxBytesPerPartition: 2_097_152,
    });
  });

  it('leaves the rebalance timeout to the client when the host has none (sinks), and reads `latest`', () => {
    const tuning = consumerTuning({ ...SETTINGS, startFrom: 'latest' });
    assert.equal(tuning.fromBeginning, false);
    assert.equal('rebalanceTimeoutMs' in tuning, false);
  });
});
